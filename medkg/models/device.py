"""Pick where models run: a CUDA GPU when there is one, Apple's MPS, else the CPU; and the precision."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DevicePlan:
    device: str          # "cuda", "mps" or "cpu"
    bf16: bool           # autocast to bfloat16 (CUDA with bf16 support, or CPUs with AMX / AVX512-BF16)
    fp16: bool           # autocast to float16 (older CUDA GPUs)

    def describe(self) -> str:
        return self.device + (" bf16" if self.bf16 else " fp16" if self.fp16 else " fp32")


def _cpu_has_fast_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        return False
    return "amx_bf16" in flags.split()


def pick_device(device: str | None = None, mixed_precision: bool | None = None) -> DevicePlan:
    """`device`: None/"auto" picks; `mixed_precision`: None = where it is known to pay off."""
    import torch

    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    if device == "cuda":
        bf16_ok = torch.cuda.is_bf16_supported()
        if mixed_precision is False:
            return DevicePlan("cuda", False, False)
        return DevicePlan("cuda", bf16_ok, not bf16_ok)
    if device == "cpu":
        use = _cpu_has_fast_bf16() if mixed_precision is None else mixed_precision
        return DevicePlan("cpu", bool(use), False)
    return DevicePlan(device, False, False)
