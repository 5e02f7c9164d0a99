"""What the machine offers a benchmark: CPUs, RAM, GPUs, and why a device is unavailable.

``Machine`` is passed into the benchmark (tests hand in a named fake for what needs a CUDA
device); ``LocalMachine`` asks torch, llama.cpp and NVML about this one.
"""
from __future__ import annotations

import importlib.util
import os
import platform


def cpu_model() -> str:
    """The CPU's model name (``model name`` of /proc/cpuinfo on Linux, else ``platform.processor()``),
    printed beside benchmark figures so that figures from two hosts are not read as one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("model name", "Model", "cpu model"):
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


class Machine:
    """The machine a benchmark runs on. Sizes are bytes; ``None`` means unknown."""

    def cuda_unavailable(self) -> str | None:
        """Why torch cannot use CUDA here, or None when it can."""
        raise NotImplementedError

    def mps_unavailable(self) -> str | None:
        """Why torch cannot use Apple's Metal (MPS) here, or None when it can."""
        raise NotImplementedError

    def gguf_offload_unavailable(self) -> str | None:
        """Why llama.cpp cannot put layers on a GPU here, or None when it can."""
        raise NotImplementedError

    def free_vram(self, device: int = 0) -> int | None:
        """Free memory on GPU ``device``."""
        return None

    def vram_used(self, device: int = 0) -> int | None:
        """Memory in use on GPU ``device`` by every process (for peaks outside torch)."""
        return None

    def available_ram(self) -> int | None:
        """RAM that could be given to a model without swapping."""
        import psutil

        return psutil.virtual_memory().available

    def describe(self) -> dict:
        """Facts recorded with every benchmark run."""
        import psutil

        load = os.getloadavg() if hasattr(os, "getloadavg") else None
        from hanprompt.bench.bandwidth import cpu_threads

        return {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_model": cpu_model(),
            "cpu_threads": cpu_threads(),
            "ram_bytes": psutil.virtual_memory().total,
            "load_average": [round(x, 2) for x in load] if load else None,
            "gpus": self.gpus(),
        }

    def gpus(self) -> list[dict]:
        return []


class LocalMachine(Machine):
    """This machine, as torch, llama-cpp-python and NVML see it (each imported only if asked)."""

    def __init__(self) -> None:
        self._nvml = None

    def cuda_unavailable(self) -> str | None:
        if importlib.util.find_spec("torch") is None:
            return "torch is not installed"
        import torch

        if torch.version.cuda is None:
            return f"CUDA is not available (torch {torch.__version__} is a CPU-only build)"
        if not torch.cuda.is_available():
            return "CUDA is not available (no visible NVIDIA GPU)"
        return None

    def mps_unavailable(self) -> str | None:
        import torch

        mps = getattr(torch.backends, "mps", None)
        return None if mps is not None and mps.is_available() else "Apple's Metal (MPS) is not available here"

    def gguf_offload_unavailable(self) -> str | None:
        if importlib.util.find_spec("llama_cpp") is None:
            return "llama-cpp-python is not installed"
        import llama_cpp

        if not llama_cpp.llama_supports_gpu_offload():
            return "no GPU offload: llama-cpp-python was built for the CPU only (or there is no GPU)"
        return None

    def free_vram(self, device: int = 0) -> int | None:
        if self.cuda_unavailable() is not None:
            return None
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return free

    def _nvml_handle(self, device: int):
        if self._nvml is None:
            self._nvml = False
            try:
                import pynvml  # nvidia-ml-py, where installed: sees llama.cpp's memory as well as torch's
            except ImportError:
                return None
            try:
                pynvml.nvmlInit()
                self._nvml = pynvml
            except pynvml.NVMLError:  # no NVIDIA driver
                return None
        return self._nvml.nvmlDeviceGetHandleByIndex(device) if self._nvml else None

    def vram_used(self, device: int = 0) -> int | None:
        """NVML where nvidia-ml-py is installed, else CUDA's own free/total figure: both count
        every allocation on the device (llama.cpp's as well as torch's)."""
        handle = self._nvml_handle(device)
        if handle is not None:
            return self._nvml.nvmlDeviceGetMemoryInfo(handle).used
        if self.cuda_unavailable() is not None:
            return None
        import torch

        free, total = torch.cuda.mem_get_info(device)
        return total - free

    def gpus(self) -> list[dict]:
        if self.cuda_unavailable() is not None:
            return []
        import torch

        out = []
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out.append({"index": i, "name": props.name, "total_bytes": props.total_memory})
        return out
