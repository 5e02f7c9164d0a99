"""The ``python`` check: a function of the user's, ``file://checks.py:fn``, run on each response.

This runs the user's own code, in this process, with the user's rights: the module is imported
when the experiment starts, and the function is called once per response.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import sys
from pathlib import Path
from typing import Callable

from hanprompt.errors import InputError, one_line

DEFAULT_THRESHOLD = 0.5
_HINT = "return True/False, a score from 0 to 1, or {pass, score, reason}"


def parse_ref(ref: str) -> tuple[str, str]:
    """``file://checks.py:fn`` (or ``checks.py:fn``) as (file, function name)."""
    text = ref.strip().removeprefix("file://")
    file, sep, fn = text.rpartition(":")
    if not sep or not file or not fn.isidentifier():
        raise InputError(f"python check {ref!r} names no function; write file://FILE.py:FUNCTION")
    return file, fn


def load_function(ref: str, base: Path) -> Callable:
    """Import the file (relative to ``base``, the experiment's folder) and return the function."""
    file, fn = parse_ref(ref)
    path = (base / file).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"python check file {path} does not exist; the path is relative to the experiment file")
    name = "hanprompt_user_checks_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise InputError(f"cannot import {path} as Python; give a .py file")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # the user's module failed to import: say how, in one line
            raise InputError(f"importing {path} failed: {one_line(e, typed=True)}; fix the file") from e
        sys.modules[name] = module
    func = getattr(module, fn, None)
    if not callable(func):
        found = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_") and
                 getattr(v, "__module__", None) == name]
        listed = f" (functions there: {', '.join(found)})" if found else ""
        raise InputError(f"{path} has no function {fn!r}{listed}; fix the name after ':'")
    return func


def _score(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not 0 <= value <= 1:
        raise ValueError(f"{what} {value!r} is not a number from 0 to 1")
    return float(value)


def call(func: Callable, response: str, context: dict, threshold: float | None) -> tuple[bool, str, float | None]:
    """Run the user's function; an exception or a bad return value is a failed check, never a crash."""
    name = getattr(func, "__name__", "function")
    limit = DEFAULT_THRESHOLD if threshold is None else threshold
    try:
        with contextlib.redirect_stdout(sys.stderr):  # a print() in the user's code keeps --json clean
            value = func(response, context)
    except Exception as e:  # the user's code: any exception is this check's failure
        return False, f"{name} raised {one_line(e, typed=True)}", None
    try:
        if isinstance(value, bool):
            return value, f"{name} returned {value}", None
        if isinstance(value, (int, float)):
            score = _score(value, "the score")
            return score >= limit, f"{name}: score {score:.2f} (at least {limit:.2f})", score
        if isinstance(value, dict):
            unknown = set(value) - {"pass", "score", "reason"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            score = _score(value["score"], "score") if value.get("score") is not None else None
            if "pass" in value:
                if not isinstance(value["pass"], bool):
                    raise ValueError(f"pass {value['pass']!r} is not True or False")
                passed = value["pass"]
            elif score is not None:
                passed = score >= limit
            else:
                raise ValueError("neither pass nor score")
            reason = str(value.get("reason") or "").strip() or f"{name} returned pass={passed}"
            return passed, reason, score
    except ValueError as e:
        return False, f"{name} returned {e}; {_HINT}", None
    return False, f"{name} returned {type(value).__name__}; {_HINT}", None
