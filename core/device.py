"""Which devices exist, how torch names a tensor's type (as the lesson prints it), and how many threads
a training thread uses."""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

_SCALAR_NAMES = {
    torch.float32: "Float",
    torch.float64: "Double",
    torch.float16: "Half",
    torch.bfloat16: "BFloat16",
    torch.int64: "Long",
    torch.int32: "Int",
    torch.bool: "Bool",
}


def cuda_unavailable_reason() -> str | None:
    """None when CUDA can be used, else a sentence saying why not."""
    if not torch.backends.cuda.is_built():
        return "this PyTorch build has no CUDA support (a CPU-only wheel)"
    if not torch.cuda.is_available():
        return "PyTorch has CUDA support but finds no usable GPU or driver on this machine"
    return None


def resolve_device(name: str) -> torch.device:
    """torch.device for a config's device name; CUDA must be available."""
    reason = cuda_unavailable_reason() if name == "cuda" else None
    if reason:
        raise RuntimeError(f"CUDA is not available: {reason}")
    return torch.device(name)


def type_name(tensor: torch.Tensor) -> str:
    """'CPUFloatType' or 'CUDAFloatType': the backend and scalar type torch reports."""
    backend = "CUDA" if tensor.is_cuda else "CPU"
    return f"{backend}{_SCALAR_NAMES.get(tensor.dtype, str(tensor.dtype))}Type"


def type_label(tensor: torch.Tensor) -> str:
    """'[ CPUFloatType{1,3} ]', the footer torch prints under a tensor."""
    shape = ",".join(str(n) for n in tensor.shape)
    return f"[ {type_name(tensor)}{{{shape}}} ]"


def tensor_table(named_tensors: dict[str, torch.Tensor]) -> list[dict[str, object]]:
    """One row per tensor: name, shape, device, torch type, and its gradient's type if it has one."""
    rows = []
    for name, tensor in named_tensors.items():
        grad = tensor.grad if tensor.is_leaf else None
        rows.append({
            "tensor": name,
            "shape": tuple(tensor.shape),
            "device": str(tensor.device),
            "type": type_name(tensor),
            "grad": "None" if grad is None else type_name(grad),
        })
    return rows


def torch_threads(environ: Mapping[str, str] = os.environ) -> int:
    """Intra-op threads for training: 1, or MODULE_LAB_TORCH_THREADS.

    The server trains each session in its own thread, beside the browser drawing the charts
    on the same few cores. With torch's default of one thread per core, its parallel regions
    wait on threads the OS has given to someone else.
    """
    text = environ.get("MODULE_LAB_TORCH_THREADS", "1").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else 1


def use_torch_threads(threads: int) -> None:
    """Make the calling thread train on `threads` intra-op threads.

    Call it in the thread that trains. Streamlit runs every script run in a new thread, and torch
    applies the process's count to a new thread only once that thread asks for it: else the
    thread's first epoch may start another OpenMP thread, which spins against the browser.
    app.py calls server.process.set_torch_threads on each run; Trainer.step calls this (a
    fragment rerun skips app.py).
    """
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
