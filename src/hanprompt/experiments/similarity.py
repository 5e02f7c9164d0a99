"""The ``similar`` check: cosine similarity of sentence-transformers embeddings.

An embedder is loaded once per process; each distinct text is embedded once, in batches.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from hanprompt.errors import BackendError, ModelNotFound, Note, arg, note, unrendered

#: multilingual, handles Korean, 118 M parameters, 384 dimensions (MIT licence)
DEFAULT_EMBEDDER = "intfloat/multilingual-e5-small"
#: the E5 family's model cards: prefix every input with "query: " for symmetric tasks such as
#: semantic similarity ("passage: " is for the documents of a retrieval task)
_E5 = re.compile(r"(^|[/_-])(multilingual-)?e5([_-]|$)", re.I)
BATCH = 32


class Embedder:
    """A loaded sentence-transformers model and the vectors it has made (float64, unit length)."""

    def __init__(self, name: str, model, prompt: str):
        self.name, self.model, self.prompt = name, model, prompt
        self._vectors: dict[str, object] = {}

    def embed(self, texts: Iterable[str]) -> None:
        """Embed the texts not embedded yet, in batches of ``BATCH``."""
        import numpy as np

        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if not todo:
            return
        vectors = self.model.encode([self.prompt + t for t in todo], batch_size=BATCH, show_progress_bar=False,
                                    convert_to_numpy=True)
        for text, v in zip(todo, np.asarray(vectors, dtype=np.float64)):
            norm = np.linalg.norm(v)
            self._vectors[text] = v / norm if norm > 0 else v

    def cosine(self, a: str, b: str) -> float:
        """Cosine similarity of two texts' embeddings, in [-1, 1], to 6 decimals.

        The embeddings are float32, good to about 1e-7: rounding makes a text's similarity
        with itself exactly 1.0 rather than 0.9999999999999998.
        """
        self.embed([a, b])
        return max(-1.0, min(1.0, round(float(self._vectors[a] @ self._vectors[b]), 6)))


def _prompt(name: str, model) -> str:
    """The input prefix the model asks for: its own "query" prompt, else E5's "query: "."""
    own = (getattr(model, "prompts", None) or {}).get("query")
    if own:
        return own
    return "query: " if _E5.search(Path(name).name or name) else ""


class _Factory:
    """``SentenceTransformer`` behind the ``from_pretrained`` interface the hub helpers call."""

    @staticmethod
    def from_pretrained(name: str, local_files_only: bool = False, **kwargs):
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(name, local_files_only=local_files_only, device="cpu", **kwargs)


def _not_sentence_transformers(name: str) -> BackendError:
    return BackendError(
        f"embedder {name} is not a sentence-transformers model (no modules.json); pass {arg('embedder')} "
        f"(embedder: in the file) a folder saved by SentenceTransformer.save() or a hub id such as {DEFAULT_EMBEDDER}"
    )


_loaded: dict[str, Embedder] = {}
_missing: dict[str, ModelNotFound] = {}  # hub ids that could not be had, with their error
#: how to name a local embedder: ``embedder=PATH`` to a library caller, ``--embedder PATH`` on the command line
PATH_FLAG = arg("embedder", "PATH") + " (embedder: in the file)"


def missing_default_note() -> Note:
    """Why ``similar`` checks on the default embedder are not judged here, and how to get it
    (a :func:`hanprompt.errors.note`: the command line's :func:`~hanprompt.errors.for_cli` names the flag)."""
    from hanprompt.backends.hub import download_command

    return note(f"not judged: the default embedder {DEFAULT_EMBEDDER} is not here (no hub access); fetch it once with "
            f"`{download_command(DEFAULT_EMBEDDER)}` where there is network, or pass {PATH_FLAG}")


def load_embedder(name: str) -> Embedder:
    """The embedder for a local folder or hub id, loaded once per process.

    Raises ModelNotFound (absent: not a folder, not cached and not downloadable) or BackendError
    (not a sentence-transformers model), with the fix.
    """
    if name in _loaded:
        return _loaded[name]
    try:
        import sentence_transformers  # noqa: F401
    except ImportError as e:
        raise BackendError("similar checks need sentence-transformers: pip install 'hanprompt[similar]'") from e
    import transformers

    from hanprompt.backends.hub import from_pretrained, looks_like_path

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    local = looks_like_path(name)
    if local:
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise ModelNotFound(f"embedder {name} does not exist; pass {arg('embedder')} (embedder: in the file) a "
                                f"sentence-transformers folder or a hub id such as {DEFAULT_EMBEDDER}")
        if not (folder / "modules.json").is_file():
            raise _not_sentence_transformers(name)
    if name in _missing:  # asked of the hub once per process
        raise _missing[name]
    try:
        model = from_pretrained(_Factory, name, local, {}, "embedder", path_flag=PATH_FLAG)
    except ModelNotFound as e:
        if not local:
            _missing[name] = ModelNotFound(unrendered(e))
        raise
    if not local:
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(name, "modules.json"), str):
            raise _not_sentence_transformers(name)
    _loaded[name] = Embedder(name, model, _prompt(name, model))
    return _loaded[name]
