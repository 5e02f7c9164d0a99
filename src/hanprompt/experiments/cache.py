"""The result cache: the same model, messages and parameters give the same answer when deterministic."""
from __future__ import annotations

import hashlib
import json

from hanprompt.backends.base import Backend, GenParams


def deterministic(params: GenParams) -> bool:
    """Greedy decoding, or sampling with a fixed seed: the only generations worth caching."""
    return params.greedy or params.seed is not None


def cache_key(backend: Backend, messages: list[dict], params: GenParams) -> str:
    """Model fingerprint (spec and weights), dtype, exact messages and parameters, seed included.

    A sampled request's key also names the sampler's version: the same seed through another
    sampler gives other tokens, so answers of an older sampler are not served for it.
    """
    from hanprompt.backends.sampling import SAMPLER_VERSION

    value = {
        "model": backend.fingerprint,
        "dtype": backend.info.dtype,
        "messages": messages,
        "params": params.model_dump(),
    }
    if not params.greedy:
        value["sampler"] = SAMPLER_VERSION
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
