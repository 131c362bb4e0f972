"""What this CPU can do fast, so code picks its path from the machine it runs on, not from one machine."""

from __future__ import annotations

import contextlib
import functools

import torch

__all__ = ["cpu_flags", "native_bf16", "cpu_summary", "fast_autocast"]


@functools.lru_cache(maxsize=1)
def cpu_flags() -> tuple[str, frozenset[str]]:
    """CPU model name and ISA flags from ``/proc/cpuinfo`` (``"unknown CPU"`` and no flags on other systems)."""
    flags: set[str] = set()
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    return model, frozenset(flags)


def native_bf16() -> bool:
    """Whether oneDNN has bf16 convolution kernels here (AVX512_BF16 or AMX). Without them PyTorch falls back to
    slow reference convolutions and bf16 autocast is several times slower than fp32."""
    return bool(cpu_flags()[1] & {"avx512_bf16", "amx_bf16"})


def cpu_summary() -> str:
    """CPU model, the ISA flags that matter for reduced precision, and threads: print it beside speed figures."""
    model, flags = cpu_flags()
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni")
    isa = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in wanted)
    return (
        f"{model}; {isa}; torch ISA level {torch.backends.cpu.get_cpu_capability()}; "
        f"torch threads {torch.get_num_threads()}"
    )


def fast_autocast(device: torch.device | str) -> bool:
    """Whether mixed precision pays on ``device``: always on CUDA (float16), on CPU only with native bf16."""
    device = torch.device(device)
    return device.type == "cuda" or (device.type == "cpu" and native_bf16())
