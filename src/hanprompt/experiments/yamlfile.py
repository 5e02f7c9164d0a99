"""The experiment file's YAML: values as typed, bounded aliases and nesting, the line of every key.

PyYAML follows YAML 1.1, which reads ``no``, ``yes``, ``on`` as booleans, ``010`` as octal 8 and
``3.10`` as the float 3.1; a YAML 1.2 loader still turns ``3.10`` into 3.1. Here every plain
scalar stays the text the user typed (only ``null``, ``~`` and an empty value mean "no value",
and ``<<`` merges mappings); the experiment schema turns text into numbers or booleans where it
wants one (``max_new_tokens: 48``), so ``vars: {answer: [yes, no], version: [3.10]}`` reaches the
model as ``yes``, ``no`` and ``3.10``. Explicit tags (``!!int 5``) still construct what they name.

Aliases are expanded when the document is built, so a "billion laughs" file of a few lines would
grow without end: a document may expand to at most :data:`MAX_NODES` nodes and nest at most
:data:`MAX_DEPTH` levels, checked on the composed node graph before anything is built.
"""
from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from hanprompt.errors import InputError, one_line

MAX_NODES = 100_000
MAX_DEPTH = 100

Loc = tuple[str | int, ...]


class YamlLimitError(InputError):
    """A YAML document too large or too deep once its aliases are expanded."""


class _TextResolver(BaseResolver):
    """Plain scalars are text; only null and the merge key are recognised."""


_TextResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_TextResolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


class _Limit(Exception):
    def __init__(self, mark, message: str):
        super().__init__(message)
        self.mark, self.message = mark, message


class _TextLoader(Reader, Scanner, Parser, Composer, SafeConstructor, _TextResolver):
    """PyYAML's pure-Python safe loader with text scalars and a nesting limit while composing."""

    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _TextResolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent, index):
        # The composer recurses once per level: stop before Python's own recursion limit does.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH and not self.check_event(yaml.ScalarEvent, yaml.AliasEvent):
                raise _Limit(self.peek_event().start_mark, _depth_message())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _depth_message() -> str:
    return (f"YAML lists and mappings nested more than {MAX_DEPTH} levels deep (the limit is {MAX_DEPTH}); "
            "flatten the lists and mappings, or remove an alias that nests a part inside itself")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_size(root: yaml.Node) -> int:
    """The number of nodes ``root`` expands to; _Limit past MAX_NODES nodes or MAX_DEPTH levels.

    Each distinct node is measured once (aliases share their anchor's node), so the check takes
    time in proportion to the file, not to what it would expand to.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, levels of lists and mappings)
    open_nodes: set[int] = set()

    def measure(node: yaml.Node, above: int) -> tuple[int, int]:
        """(nodes, nesting levels) of ``node`` under ``above`` enclosing lists and mappings."""
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return 1, 0
        key = id(node)
        if key in open_nodes or above >= MAX_DEPTH:  # an alias inside its own anchor nests forever
            raise _Limit(node.start_mark, _depth_message())
        if key in sizes:
            size, height = sizes[key]
            if above + height > MAX_DEPTH:
                raise _Limit(node.start_mark, _depth_message())
            return size, height
        open_nodes.add(key)
        size, height = 1, 1
        for child in _children(node):
            child_size, child_height = measure(child, above + 1)
            size += child_size
            height = max(height, child_height + 1)
            if size > MAX_NODES:
                raise _Limit(node.start_mark, (
                    f"YAML expands to more than {MAX_NODES:,} nodes once its aliases are expanded "
                    f"(the limit is {MAX_NODES:,}); repeat less through aliases (*name), or split the file"))
        open_nodes.discard(key)
        sizes[key] = (size, height)
        return size, height

    return measure(root, 0)[0]


def line_map(node: yaml.Node, path: Loc = (), out: dict | None = None) -> dict[Loc, int]:
    """The 1-based line of every key path in the document (aliases point at their anchor)."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value if isinstance(key, yaml.ScalarNode) else str(key.start_mark),)
            out[sub] = key.start_mark.line + 1
            line_map(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            line_map(item, path + (i,), out)
    return out


def load(text: str, where: str) -> tuple[Any, dict[Loc, int]]:
    """The document in ``text`` and the line of each key; InputError (``where:line: ...``) when bad.

    ``where`` names the file in messages.
    """
    try:
        loader = _TextLoader(text)  # its reader refuses control characters at once
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        raise InputError(f"{where}:{line}: the file holds the control character {ascii(chr(e.character))[1:-1]}, "
                         "which YAML does not allow raw; write it as an escape in double quotes "
                         "(e.g. \"\\e\" for ESC) or remove it") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        check_size(node)
        data = loader.construct_document(node)
    except _Limit as e:
        raise YamlLimitError(f"{where}:{e.mark.line + 1}: {e.message}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or one_line(e)
        if problem == "found unhashable key":  # prompt: {{city}} is a mapping inside a mapping to YAML
            raise InputError(f"{where}{line}: YAML reads an unquoted {{{{ as a mapping; put the text in quotes, "
                             "e.g. prompt: \"{{city}} ...\"") from e
        raise InputError(f"{where}{line}: YAML syntax error: {problem}; fix the YAML at that line") from e
    finally:
        loader.dispose()
    return data, line_map(node)
