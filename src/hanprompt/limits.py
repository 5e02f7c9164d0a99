"""The bounds on sizes and numbers that users give, in one place.

Each keeps a hostile or mistyped value (``--repeat 1000000000``, ``--temperature inf``) from
hanging, overflowing or exhausting memory: it is refused on one line naming the limit.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

#: the most new tokens one generation may ask for; also the context length assumed for a
#: backend (a server, say) that does not report its own
MAX_NEW_TOKENS = 1_000_000
DEFAULT_CONTEXT_LENGTH = MAX_NEW_TOKENS
#: sampling temperature: 0 is greedy; above 10 the distribution is flat noise
MAX_TEMPERATURE = 10.0
#: seeds fit a signed 64-bit integer, what torch and llama.cpp take
MAX_SEED = 2**63 - 1
#: answers per prompt in an experiment
MAX_REPEAT = 10_000
#: prompts per batch in an experiment
MAX_CONCURRENCY = 1_024
#: CPU threads one model may be given (llama.cpp's n_threads)
MAX_THREADS = 4_096
#: the ids of stored records (runs, generations): the log's Integer keys, 32-bit on PostgreSQL
MAX_ID = 2**31 - 1
#: failed requests in a row after which a run stops instead of asking for every remaining cell
FAILURES_IN_A_ROW = 8

MaxNewTokens = Annotated[int, Field(ge=1, le=MAX_NEW_TOKENS)]
Temperature = Annotated[float, Field(ge=0.0, le=MAX_TEMPERATURE, allow_inf_nan=False)]
TopP = Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
Repeat = Annotated[int, Field(ge=1, le=MAX_REPEAT)]

#: what each generation parameter accepts, as the fix in an error message
RANGES = {
    "max_new_tokens": f"a whole number from 1 to {MAX_NEW_TOKENS:,} (and within the model's context)",
    "temperature": f"a number from 0 (greedy) to {MAX_TEMPERATURE:g}",
    "top_p": "a number above 0 and at most 1",
    "seed": f"a whole number from 0 to {MAX_SEED:,}",
    "repeat": f"a whole number from 1 to {MAX_REPEAT:,}",
    "max_concurrency": f"a whole number from 1 to {MAX_CONCURRENCY:,}",
}


def valid_id(value: object) -> bool:
    """Whether ``value`` can be the id of a stored record: an int from 1 to :data:`MAX_ID`.

    An id outside that range names nothing, and the database would refuse it with an error of
    its own (PostgreSQL: integer out of range; Python's sqlite3: OverflowError past 64 bits), so
    ids a user or a URL gives are checked with this before any query.
    """
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def parse_id(text: str) -> int:
    """An id as written by a user (``"42"``); ValueError naming the range for anything else."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = None
    if value is None or not valid_id(value):
        raise ValueError(f"{text!r} is not an id: ids are whole numbers from 1 to {MAX_ID:,}")
    return value


def check_range(flag: str, value: int, low: int, high: int, key: str | None = None) -> None:
    """Raise UsageError naming ``flag``, the limits and the value when ``value`` is outside them;
    ``key``, the experiment file's key for the same setting, is named too."""
    from hanprompt.errors import UsageError

    if not low <= value <= high:
        also = f" ({key}: in the file)" if key else ""
        raise UsageError(f"{flag} must be from {low:,} to {high:,}, not {value:,}{also}")
