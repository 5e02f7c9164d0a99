"""Finding Hugging Face models (local folders or hub ids) and the device to put them on.

Shared by every transformers-based loader: the hf backend and the mt: translators.
"""
from __future__ import annotations

import os
from pathlib import Path

from hanprompt.errors import DeviceError, ModelNotFound


def looks_like_path(name: str) -> bool:
    """A local folder (it exists, or is written like a path) rather than a hub id like org/name."""
    return (
        name.startswith((".", "/", "~"))
        or "\\" in name
        or name.count("/") > 1
        or Path(name).expanduser().exists()
    )


def resolve_device(requested: str | None) -> str:
    """The device to load on: the one asked for, checked, or the best single one available."""
    import torch

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested is None:
        return "cuda" if cuda else "mps" if mps else "cpu"
    if requested == "cuda" and not cuda:
        build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
        raise DeviceError(
            f"--device cuda: CUDA is not available here (torch {torch.__version__}, {build}); "
            "use --device cpu, or install a CUDA build of torch on a machine with an NVIDIA GPU"
        )
    if requested == "mps" and not mps:
        raise DeviceError("--device mps: Apple's Metal (MPS) is not available here; use --device cpu")
    return requested


def from_pretrained(factory, name: str, local: bool, kwargs: dict, what: str):
    """``factory.from_pretrained`` for a local folder or a hub id (the cache first), errors with the fix."""
    try:
        if local:
            return factory.from_pretrained(str(Path(name).expanduser()), **kwargs)
        try:  # the cache first: no network round trip for a model already downloaded
            return factory.from_pretrained(name, local_files_only=True, **kwargs)
        except OSError:
            if os.environ.get("HF_HUB_OFFLINE") == "1":
                raise
            return factory.from_pretrained(name, **kwargs)
    except OSError as e:
        if local:
            raise ModelNotFound(
                f"cannot load the {what} from {name}: {str(e).splitlines()[0]}; pass a complete "
                "model folder"
            ) from e
        raise ModelNotFound(
            f"model {name!r} is neither in the Hugging Face cache nor downloadable here "
            f"({str(e).splitlines()[0][:120]}); download it where there is network access, "
            "or pass --model PATH to a local model folder"
        ) from e
