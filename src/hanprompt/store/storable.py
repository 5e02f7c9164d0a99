"""Text every database can hold: PostgreSQL's text cannot hold U+0000, so no database gets it.

Each U+0000 becomes U+REPLACEMENT CHARACTER (U+FFFD) before any write, on SQLite too, so both
databases hold the same text; a generation whose text changed records ``text_altered``.
"""
from __future__ import annotations

from typing import Any

NUL, REPLACEMENT = "\x00", "\ufffd"


def storable(value: Any) -> tuple[Any, bool]:
    """``value`` with U+0000 replaced in every string (dict keys and nested lists too); and whether any was."""
    if isinstance(value, str):
        return (value.replace(NUL, REPLACEMENT), True) if NUL in value else (value, False)
    if isinstance(value, dict):
        out, altered = {}, False
        for k, v in value.items():
            k2, a = storable(k)
            v2, b = storable(v)
            out[k2] = v2
            altered = altered or a or b
        return out, altered
    if isinstance(value, (list, tuple)):
        pairs = [storable(v) for v in value]
        return type(value)(v for v, _ in pairs), any(a for _, a in pairs)
    return value, False


def storable_row(row: dict) -> tuple[dict, bool]:
    """A row of column values made storable, and whether any text changed."""
    return storable(row)
