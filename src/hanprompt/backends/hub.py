"""Finding Hugging Face models (local folders or hub ids) and the device to put them on.

Shared by every transformers-based loader: the hf backend and the mt: translators. A hub id
that is not in the local cache is looked up on the hub once, without retries, before anything
is downloaded: a model that cannot be had (no network, a typo, a private repository) fails at
once with one line and the command that downloads it, instead of huggingface_hub's retries.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from hanprompt.errors import DeviceError, ModelNotFound, arg, one_line

#: seconds the one look-up on the hub may take before the model counts as unreachable
PROBE_TIMEOUT_S = 10.0

_reachable: set[str] = set()  # hub ids found on the hub by this process


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
            f"{arg('device', 'cuda')}: CUDA is not available here (torch {torch.__version__}, {build}); "
            f"use {arg('device', 'cpu')}, or install a CUDA build of torch on a machine with an NVIDIA GPU"
        )
    if requested == "mps" and not mps:
        raise DeviceError(f"{arg('device', 'mps')}: Apple's Metal (MPS) is not available here; use {arg('device', 'cpu')}")
    return requested


def download_command(name: str) -> str:
    """The installed huggingface_hub's command that downloads ``name`` (``hf download ORG/NAME``)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        scripts = {e.name for e in distribution("huggingface_hub").entry_points if e.group == "console_scripts"}
    except PackageNotFoundError:
        scripts = set()
    tool = "huggingface-cli" if "huggingface-cli" in scripts and "hf" not in scripts else "hf"
    return f"{tool} download {name}"


def offline() -> bool:
    """Whether the hub is switched off (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` set true)."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return bool(getattr(constants, "HF_HUB_OFFLINE", False)) or any(
        (v or "").strip().lower() in ("1", "on", "yes", "true") for v in flags
    )


#: the argument a local model folder is passed with: ``model=PATH`` to a library caller, ``--model PATH`` on the CLI
MODEL_PATH = arg("model", "PATH")


def unavailable(name: str, reason: str, path_flag: str = MODEL_PATH) -> ModelNotFound:
    """The one-line error for a hub model that is neither cached nor downloadable here."""
    hint = "" if offline() else "; with no network, set HF_HUB_OFFLINE=1 to skip the hub"
    if path_flag == MODEL_PATH:
        hint += f"; the embedded model works offline: {arg('model', 'smollm2')}"
    return ModelNotFound(
        f"model {name!r} is neither in the local Hugging Face cache nor downloadable from here "
        f"({reason}); download it where there is network access with `{download_command(name)}`, "
        f"or pass {path_flag} to a local model folder{hint}"
    )


def _probe(name: str, path_flag: str) -> None:
    """Look ``name`` up on the hub once, no retries; raise ModelNotFound when it cannot be had."""
    if name in _reachable:
        return
    from huggingface_hub import HfApi, errors

    try:
        HfApi().model_info(name, timeout=PROBE_TIMEOUT_S)
    except errors.GatedRepoError as e:
        raise unavailable(name, "a gated repository: accept its terms on the hub and log in with "
                          "`hf auth login`", path_flag) from e
    except errors.RepositoryNotFoundError as e:
        raise unavailable(name, "no such repository on the hub, or a private one", path_flag) from e
    except errors.HfHubHTTPError:  # the server answered (a mirror without the API, say): let the download decide
        return
    except (getattr(errors, "HTTPError", OSError), OSError) as e:  # no connection, a timeout
        raise unavailable(name, _first_line(e, "the hub cannot be reached"), path_flag) from e
    _reachable.add(name)


def _first_line(error: BaseException, default: str) -> str:
    return one_line(error, 120) if str(error).strip() else default


@contextlib.contextmanager
def _quiet_hub():
    """huggingface_hub's retry warnings stay off the terminal while we download."""
    from huggingface_hub.utils import logging as hub_logging

    previous = hub_logging.get_verbosity()
    hub_logging.set_verbosity_error()
    try:
        yield
    finally:
        hub_logging.set_verbosity(previous)


def from_pretrained(factory, name: str, local: bool, kwargs: dict, what: str, path_flag: str = MODEL_PATH):
    """``factory.from_pretrained`` for a local folder or a hub id (the cache first), errors with the fix.

    A hub id missing from the cache is looked up on the hub once before downloading; raises
    ModelNotFound (naming the download command and ``path_flag``) when it cannot be had.
    """
    if local:
        try:
            return factory.from_pretrained(str(Path(name).expanduser()), **kwargs)
        except OSError as e:
            raise ModelNotFound(
                f"cannot load the {what} from {name}: {_first_line(e, 'unreadable')}; pass a complete "
                "model folder"
            ) from e
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError as e:
        raise ModelNotFound(
            f"model {name!r} is neither a local folder nor a valid hub id; pass {path_flag} to a local "
            "model folder, or a hub id written ORG/NAME"
        ) from e
    try:  # the cache first: no network round trip for a model already downloaded
        return factory.from_pretrained(name, local_files_only=True, **kwargs)
    except OSError as e:
        if offline():
            raise unavailable(name, "HF_HUB_OFFLINE is set, so the hub is not asked", path_flag) from e
    _probe(name, path_flag)
    try:
        with _quiet_hub():
            return factory.from_pretrained(name, **kwargs)
    except OSError as e:
        raise unavailable(name, _first_line(e, f"its {what} could not be downloaded"), path_flag) from e
