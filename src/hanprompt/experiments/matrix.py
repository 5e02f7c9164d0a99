"""Expanding an experiment into cells: model x variant x vars x repeat, each with a stable key."""
from __future__ import annotations

import hashlib
import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from hanprompt import limits
from hanprompt.backends.base import GenParams, validate_messages
from hanprompt.errors import HanpromptError, InputError, unrendered
from hanprompt.experiments.spec import Check, LoadedSpec, ModelEntry, Variant, canonical, first_repeat
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
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def _used(variant: Variant, matrix: dict) -> tuple[list[str], list[list]]:
    # Only the variables a variant uses multiply it: a prompt without {{city}} is asked once.
    used = sorted(set().union(*(template_variables(t) for t in variant.texts().values())))
    return used, [matrix[name] if isinstance(matrix[name], list) else [matrix[name]] for name in used]


def _var_combos(variant: Variant, matrix: dict) -> list[dict]:
    return list(_iter_combos(variant, matrix))


def _iter_combos(variant: Variant, matrix: dict) -> Iterator[dict]:
    used, values = _used(variant, matrix)
    return (dict(zip(used, combo)) for combo in itertools.product(*values))


def _combo_count(variant: Variant, matrix: dict) -> int:
    return math.prod(len(v) for v in _used(variant, matrix)[1])


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


class Matrix:
    """The cells of an experiment, expanded lazily: models outermost (each model is loaded once),
    then variants, vars combinations, and a cell's repeats next to each other.

    Iterating it builds one cell at a time (it may be iterated again, giving the same cells);
    ``len`` counts them without building any; ``of(model)`` gives one model's cells. Memory
    does not grow with the number of cells. A template that fails to render raises its error
    (naming the variant and the vars) while iterating, so iterate once (``matrix_hash`` does)
    before writing anything.
    """

    def __init__(self, loaded: LoadedSpec, models: list[ModelEntry], repeat: int, params: dict | None):
        self.loaded, self.models, self.repeat, self.params = loaded, models, repeat, params

    def __len__(self) -> int:
        spec = self.loaded.spec
        return len(self.models) * self.repeat * sum(_combo_count(v, spec.vars) for v in spec.variants)

    def __iter__(self) -> Iterator[Cell]:
        for model in self.models:
            yield from self.of(model)

    def count_of(self, model: ModelEntry) -> int:
        """How many cells ``model`` has (the same for every model of the matrix)."""
        return len(self) // len(self.models)

    def of(self, model: ModelEntry) -> Iterator[Cell]:
        """The cells of one model, in matrix order."""
        loaded, spec, repeat = self.loaded, self.loaded.spec, self.repeat
        for i, variant in enumerate(spec.variants):
            checks = tuple(spec.checks) + tuple(variant.checks)
            cell_params = [_params(loaded, variant, r, self.params) for r in range(repeat)]
            for values in _iter_combos(variant, spec.vars):
                try:
                    messages = validate_messages(_messages(variant, values))
                    cell_checks = _checks(checks, values)
                except HanpromptError as e:
                    raise loaded.error(("variants", i), f"{unrendered(e)} (vars {values})") from None
                for r in range(repeat):
                    yield Cell(model, variant, values, r, messages, cell_params[r], cell_checks)

    def all_greedy(self) -> bool:
        """Whether every cell decodes greedily (a seed cannot change any answer)."""
        return all(_params(self.loaded, v, 0, self.params).greedy for v in self.loaded.spec.variants)


def expand(loaded: LoadedSpec, models: list[ModelEntry] | None = None, repeat: int | None = None,
           params: dict | None = None) -> Matrix:
    """Every cell of the experiment, as a lazily expanded :class:`Matrix` (iterable, with ``len``).

    ``params`` (``max_new_tokens``, ``temperature``, ``top_p``, ``seed``) replace the file's and
    every variant's generation parameters; its ``seed`` is left out of greedy cells, where it
    could change nothing. Raises the loaded file's error when two cells would be the same cell
    (the same model given twice, say), checked on the file and options, not on the cells.
    """
    from hanprompt.settings import default_model

    spec = loaded.spec
    models = list(models or spec.models or [ModelEntry(spec=default_model())])
    repeat = spec.repeat if repeat is None else repeat
    limits.check_range("repeat", repeat, 1, limits.MAX_REPEAT)
    matrix = Matrix(loaded, models, repeat, params)
    _no_repeated_cell(matrix)
    return matrix


def _no_repeated_cell(matrix: Matrix) -> None:
    # A repeated cell would be answered and counted twice. The file's own repeats (a vars value,
    # a model, a variant id) are refused with their line when it loads (spec._semantic_checks);
    # what is left is what options add: the same --model twice. Two cells share a key exactly
    # when one of those repeats, so nothing per cell is kept to find it.
    found = first_repeat(matrix.models, lambda m: canonical(m.model_dump(exclude_none=True)))
    if found is None:
        return
    loaded, model = matrix.loaded, matrix.models[found[1]]
    values = next(_iter_combos(loaded.spec.variants[0], loaded.spec.vars), {})
    raise loaded.error(
        ("variants", 0),
        f"the matrix holds the cell (model {model.spec}, variant {loaded.spec.variants[0].id!r}, vars {values}) "
        "twice; give each model once (use repeat: for more answers)",
    )


def matrix_hash(cells: Iterable[Cell]) -> str:
    """A digest of the whole matrix: what each cell asks, of which model, with which parameters.

    Computed while iterating (one cell in memory at a time); the same value as the digest of
    the list of every cell's ``[key, messages, params]``, so runs stored before resume.
    """
    digest = hashlib.sha256(b"[")
    for n, c in enumerate(cells):
        if n:
            digest.update(b", ")
        digest.update(canonical([c.key, c.messages, c.params.model_dump()]).encode())
    digest.update(b"]")
    return digest.hexdigest()
