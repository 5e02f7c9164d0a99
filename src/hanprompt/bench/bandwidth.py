"""Memory read bandwidth, measured on the spot: the denominator of every roofline figure.

The test reads a buffer much larger than the caches, several times, and keeps the fastest
pass, like STREAM's reduction kernels (McCalpin, "Memory Bandwidth and Machine Balance in
Current High Performance Computers", IEEE TCCA Newsletter, 1995). Decoding reads weights and
KV cache the same way: once per token, front to back.
"""
from __future__ import annotations

import os
import time

GB = 1e9  # bandwidths are in GB/s, 10^9 bytes per second, as hardware vendors quote them


def cpu_threads() -> int:
    """CPUs this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def measure_cpu(size_mb: int = 256, passes: int = 5, threads: int | None = None) -> float:
    """Read bandwidth of main memory in GB/s: the fastest of ``passes`` sums over ``size_mb`` MB.

    One thread per usable CPU sums its own slice (numpy releases the GIL in reductions), so
    the figure is what all cores together can pull, as a multi-threaded decoder does.
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    threads = threads or cpu_threads()
    data = np.ones(size_mb * 1_000_000 // 4, dtype=np.float32)  # ones: every page really mapped
    parts = np.array_split(data, threads)
    best = float("inf")
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.sum, parts))  # warm: threads started, pages in the TLB
        for _ in range(passes):
            start = time.perf_counter()
            list(pool.map(np.sum, parts))
            best = min(best, time.perf_counter() - start)
    return data.nbytes / best / GB


def measure_cuda(size_mb: int = 1024, passes: int = 10, device: int = 0) -> float:
    """Read bandwidth of GPU memory in GB/s: the fastest of ``passes`` on-device sums.

    Raises RuntimeError (from torch) when no CUDA device is usable.
    """
    import torch

    data = torch.ones(size_mb * 1_000_000 // 4, dtype=torch.float32, device=f"cuda:{device}")
    data.sum()
    torch.cuda.synchronize(device)
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        data.sum()
        torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    nbytes = data.numel() * data.element_size()
    del data
    torch.cuda.empty_cache()
    return nbytes / best / GB


def measure_pcie(size_mb: int = 256, passes: int = 5, device: int = 0) -> float:
    """Host-to-GPU copy bandwidth in GB/s (pageable memory, as accelerate's offload copies it)."""
    import torch

    host = torch.ones(size_mb * 1_000_000 // 4, dtype=torch.float32)
    target = torch.empty_like(host, device=f"cuda:{device}")
    target.copy_(host)
    torch.cuda.synchronize(device)
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        target.copy_(host)
        torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    nbytes = host.numel() * host.element_size()
    del target
    torch.cuda.empty_cache()
    return nbytes / best / GB
