"""MkDocs hooks: the reference pages, generated from the code at every build (never retyped).

- ``reference/cli.md``: the ``--help`` of ``hanprompt`` and of every command and subcommand,
  from the argparse parser the program itself builds (``hanprompt.cli.build_parser``).
- ``reference/experiment-file.md``: every key of an experiment file with its type, default and
  limits, from the pydantic schema that validates the file (``hanprompt.experiments.spec``).
- ``reference/api.md``: every public name of ``hanprompt`` (its ``_EXPORTS`` table), rendered from
  the docstrings and signatures by mkdocstrings.

- ``index.md``: the README, its links into ``docs/`` made relative to the site.

The pages are added to the build as generated files; nothing is written into ``docs/``.
"""
from __future__ import annotations

import argparse
import json
import os
import re

from mkdocs.structure.files import File

HELP_WIDTH = "100"  # argparse wraps help to $COLUMNS: a fixed width gives the same page everywhere


def _parsers(parser: argparse.ArgumentParser, name: str = "hanprompt"):
    """(command line, parser) for the program and every subcommand, depth first, in help order."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def cli_page() -> str:
    from hanprompt.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        pages = [(name, p.format_help()) for name, p in _parsers(build_parser())]
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    out = ["# Command line", "",
           "Generated at build time from the program's own parser: the `--help` of every command.", ""]
    for name, text in pages:
        out += [f"## `{name}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(out)


def _type(prop: dict) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in prop:
        kinds = [_type(p) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds))
    if "enum" in prop:
        return " or ".join(json.dumps(v, ensure_ascii=False) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"mapping of {_type(prop['additionalProperties'])}"
    return {"string": "text", "integer": "integer", "number": "number", "boolean": "boolean",
            "object": "mapping"}.get(kind, kind)


_LIMITS = (("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"),
           ("exclusiveMaximum", "< {}"), ("minLength", "at least {} characters"),
           ("maxLength", "at most {} characters"))


def _limits(prop: dict) -> str:
    found = []
    for p in [prop, *prop.get("anyOf", [])]:
        found += [fmt.format(p[key]) for key, fmt in _LIMITS if key in p]
    return ", ".join(dict.fromkeys(found))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def spec_page() -> str:
    from hanprompt.experiments.spec import ExperimentSpec

    schema = ExperimentSpec.model_json_schema(by_alias=True)
    defs = schema.pop("$defs", {})
    sections = [("ExperimentSpec", schema)] + sorted(defs.items())
    out = ["# Experiment file", "",
           "Generated at build time from the pydantic schema that checks every experiment file "
           "(`src/hanprompt/experiments/spec.py`): each key with its type, default and limits. "
           "A key not listed is refused (with a suggestion for a near miss). The top level is "
           "[ExperimentSpec](#experimentspec).", ""]
    for name, model in sections:
        out += [f"## {name}", ""]
        if model.get("description"):
            out += [model["description"].strip(), ""]
        props = model.get("properties", {})
        if not props:
            continue
        required = set(model.get("required", []))
        out += ["| key | type | default | limits |", "|---|---|---|---|"]
        for key, prop in props.items():
            kind = _type(prop)
            for ref in {r for r in defs if r in kind.split(" ")}:
                kind = kind.replace(ref, f"[{ref}](#{ref.lower()})")
            default = "required" if key in required else json.dumps(prop.get("default"), ensure_ascii=False)
            out.append(f"| `{key}` | {_cell(kind)} | {_cell(default)} | {_cell(_limits(prop))} |")
        out.append("")
    return "\n".join(out)


def api_page() -> str:
    import hanprompt

    out = ["# Library API", "",
           "Generated at build time from the docstrings of every public name of `hanprompt` "
           "(`import hanprompt`; names load on first use). See the [library guide](../library.md).", ""]
    for name, module in hanprompt._EXPORTS.items():
        where = f"{module}.{hanprompt._RENAMED.get(name, name)}"
        out += [f"## `hanprompt.{name}`", ""]
        if name in hanprompt._RENAMED:
            out += [f"Defined as `{where}`.", ""]
        out += [f"::: {where}", "    options:", "      show_root_heading: false", "      heading_level: 3", ""]
    return "\n".join(out)


def home_page() -> str:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"\]\(docs/", "](", text)  # links and pictures into docs/ are relative to the site
    # a link to a source file leaves the site: point it at its folder on the reader's disk as text
    return re.sub(r"\[([^\]]+)\]\((src/[^)]+)\)", r"\1 (`\2`)", text)


def on_files(files, config):
    pages = (("index.md", home_page()), ("reference/cli.md", cli_page()), ("reference/experiment-file.md", spec_page()),
             ("reference/api.md", api_page()))
    for path, content in pages:
        files.append(File.generated(config, path, content=content))
    return files
