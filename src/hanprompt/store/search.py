"""Literal text search in stored text: ``%``, ``_`` and ``\\`` are ordinary characters, NFC on both sides.

A search term and a stored text match when the term, in Unicode NFC, occurs in the text in NFC,
ignoring letter case, so decomposed (NFD) and composed Hangul find each other. Stored text stays
as it was written; it is normalised inside the query: PostgreSQL's ``normalize(text, NFC)``, and
on SQLite a ``hanprompt_nfc`` function registered on each connection (see store.db).
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from hanprompt.textio import nfc

SQLITE_FUNCTION = "hanprompt_nfc"


class nfc_of(FunctionElement):
    """SQL for "this text in NFC"."""

    type = Text()
    name = "nfc_of"
    inherit_cache = True


@compiles(nfc_of)
def _plain(element, compiler, **kw) -> str:  # other databases: the text as stored
    return compiler.process(element.clauses, **kw)


@compiles(nfc_of, "sqlite")
def _sqlite(element, compiler, **kw) -> str:
    return f"{SQLITE_FUNCTION}({compiler.process(element.clauses, **kw)})"


@compiles(nfc_of, "postgresql")
def _postgresql(element, compiler, **kw) -> str:
    return f"normalize({compiler.process(element.clauses, **kw)}, NFC)"


def sqlite_nfc(value):
    """The SQLite function: NFC of a text, anything else unchanged."""
    return nfc(value) if isinstance(value, str) else value


def contains(column, term: str) -> ColumnElement[bool]:
    """``column`` holds ``term`` literally (any letter case; NFC on both sides)."""
    # autoescape: SQLAlchemy escapes %, _ and its escape character in the term and adds ESCAPE.
    return nfc_of(column).icontains(nfc(term), autoescape=True)
