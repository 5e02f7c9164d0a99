"""The result cache: the same model, messages and parameters give the same answer when deterministic."""
from __future__ import annotations

import hashlib
import json

from hanprompt.backends.base import Backend, GenParams


def deterministic(params: GenParams) -> bool:
    """Greedy decoding, or sampling with a fixed seed: the only generations worth caching."""
    return params.greedy or params.seed is not None


def cache_key(backend: Backend, messages: list[dict], params: GenParams) -> str:
    """Model fingerprint (spec and weights), dtype, exact messages and parameters, seed included."""
    text = json.dumps(
        {
            "model": backend.fingerprint,
            "dtype": backend.info.dtype,
            "messages": messages,
            "params": params.model_dump(),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()
