"""Expanding an experiment into cells: model x variant x vars x repeat, each with a stable key."""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field

from hanprompt import limits
from hanprompt.backends.base import GenParams, validate_messages
from hanprompt.errors import HanpromptError, InputError, unrendered
from hanprompt.experiments.spec import Check, LoadedSpec, ModelEntry, Variant
from hanprompt.prompts import Example, build_messages, render, template_variables
from hanprompt.textio import nfc


@dataclass(frozen=True)
class Cell:
    """One generation to make: which model, which prompt, which variables, which repeat."""

    model: ModelEntry
    variant: Variant
    vars: dict
    repeat_index: int
    messages: list[dict]
    params: GenParams
    checks: tuple[Check, ...] = field(default=())

    @property
    def key(self) -> str:
        """Where this cell sits in the matrix; the same file always gives the same keys."""
        return _digest(
            {"model": self.model.model_dump(exclude_none=True), "variant": self.variant.id,
             "vars": self.vars, "repeat": self.repeat_index}
        )


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _var_combos(variant: Variant, matrix: dict) -> list[dict]:
    # Only the variables a variant uses multiply it: a prompt without {{city}} is asked once.
    used = sorted(set().union(*(template_variables(t) for t in variant.texts().values())))
    values = [matrix[name] if isinstance(matrix[name], list) else [matrix[name]] for name in used]
    return [dict(zip(used, combo)) for combo in itertools.product(*values)]


def _messages(variant: Variant, values: dict) -> list[dict]:
    # NFC after rendering: the same question typed composed or decomposed is the same prompt.
    r = lambda text: nfc(render(text, values)) if text is not None else None  # noqa: E731
    if variant.style is None:
        if variant.messages is not None:
            return [{"role": m.role, "content": r(m.content)} for m in variant.messages]
        system = r(variant.system)
        return ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": r(variant.prompt)}
        ]
    return build_messages(
        variant.style,
        task=r(variant.task),
        examples=[Example(r(e.input), r(e.output)) for e in variant.examples or []],
        persona=r(variant.persona),
        tasks=[r(t) for t in variant.tasks or []],
        system=r(variant.system),
    )


def _checks(checks: tuple[Check, ...], values: dict) -> tuple[Check, ...]:
    # Text checks may use the cell's variables too: icontains: "{{city}}".
    out = []
    for check in checks:
        key = check.name.replace("-", "_")
        value = getattr(check, key)
        if isinstance(value, str) and check.name != "python":  # python: a file reference, not text
            value = render(value, values)
            if key == "regex":
                try:
                    re.compile(value)
                except re.error as e:
                    raise InputError(f"regex {value!r} (after templating) does not compile: {e}; "
                                     "fix the pattern, or escape the vars value in it") from None
            check = check.model_copy(update={key: value})
        out.append(check)
    return tuple(out)


def _params(loaded: LoadedSpec, variant: Variant, repeat_index: int, override: dict | None = None) -> GenParams:
    values = loaded.spec.params.model_dump(exclude_none=True)
    values.update(variant.params.model_dump(exclude_none=True))
    own_seed = values.get("seed")
    values.update(override or {})
    if override and "seed" in override and not values.get("temperature"):
        # a seed cannot change a greedy answer: the cell stays as it is without the override
        values.pop("seed")
        if own_seed is not None:
            values["seed"] = own_seed
    params = GenParams(**values)
    if not params.greedy and params.seed is not None:
        # Each repeat its own seed, so repeats of a sampled prompt differ yet stay reproducible.
        params = params.model_copy(update={"seed": (params.seed + repeat_index) % (limits.MAX_SEED + 1)})
    return params


def expand(loaded: LoadedSpec, models: list[ModelEntry] | None = None, repeat: int | None = None,
           params: dict | None = None) -> list[Cell]:
    """Every cell of the experiment, models outermost (each model is loaded once).

    ``params`` (``max_new_tokens``, ``temperature``, ``top_p``, ``seed``) replace the file's and
    every variant's generation parameters; its ``seed`` is left out of greedy cells, where it
    could change nothing.
    """
    from hanprompt.settings import default_model

    spec = loaded.spec
    models = models or list(spec.models) or [ModelEntry(spec=default_model())]
    repeat = spec.repeat if repeat is None else repeat
    limits.check_range("repeat", repeat, 1, limits.MAX_REPEAT)
    cells: list[Cell] = []
    for model in models:
        for i, variant in enumerate(spec.variants):
            checks = tuple(spec.checks) + tuple(variant.checks)
            for values in _var_combos(variant, spec.vars):
                try:
                    messages = validate_messages(_messages(variant, values))
                    cell_checks = _checks(checks, values)
                except HanpromptError as e:
                    raise loaded.error(("variants", i), f"{unrendered(e)} (vars {values})") from None
                for r in range(repeat):
                    cells.append(Cell(model, variant, values, r, messages, _params(loaded, variant, r, params),
                                      cell_checks))
    _no_repeated_cell(loaded, cells)
    return cells


def _no_repeated_cell(loaded: LoadedSpec, cells: list[Cell]) -> None:
    # A repeated cell would be answered and counted twice; the file's own repeats are caught with
    # their line when it loads, so this catches what options add (the same --model twice).
    seen: set[str] = set()
    for c in cells:
        if c.key in seen:
            i = next(n for n, v in enumerate(loaded.spec.variants) if v.id == c.variant.id)
            raise loaded.error(
                ("variants", i),
                f"the matrix holds the cell (model {c.model.spec}, variant {c.variant.id!r}, vars {c.vars}) "
                "twice; give each model and each vars value once (use repeat: for more answers)",
            )
        seen.add(c.key)


def matrix_hash(cells: list[Cell]) -> str:
    """A digest of the whole matrix: what each cell asks, of which model, with which parameters."""
    return _digest([[c.key, c.messages, c.params.model_dump()] for c in cells])
