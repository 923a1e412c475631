"""The server process's tuning: torch threads for each script run, tensor memory given back to the
system, the imports frozen out of the garbage collector's scans, and full collections while no run trains."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import time
from collections.abc import Mapping

from core.device import torch_threads, use_torch_threads


def set_torch_threads(environ: Mapping[str, str] = os.environ) -> int:
    """Give the calling thread `torch_threads()` intra-op threads, and return that number."""
    threads = torch_threads(environ)
    use_torch_threads(threads)
    return threads


M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter: allocations at least this large get their own memory map


def return_freed_tensors_to_the_system(threshold: int = 1 << 20) -> bool:
    """Give each tensor of 1 MB or more its own memory map, unmapped the moment it is freed.

    glibc raises its threshold after the first large free and from then on keeps freed tensor
    memory in the arena of the thread that used it (every Streamlit rerun is a new thread), so a
    finished run's memory would stay with the server (`python -m bench.hostile session` measures
    it). False where the C library is not glibc (macOS, musl), which is then left as it is.
    """
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


_modules_when_frozen = 0


def freeze_imported_objects() -> bool:
    """Take what imports created out of the garbage collector's scans (gc.freeze), once more modules are loaded.

    Streamlit collects every generation after each script run (runner.postScriptGC), holding the
    GIL while it scans the ~250,000 objects torch, plotly and pandas make, and a run training on
    another thread all but stops (each of its torch ops gives the GIL up and waits for it back).
    Frozen objects are no longer scanned. They are still freed when their last reference goes;
    only a cycle among them is never collected. So this collects first, and freezes again only when
    modules were imported since (a page's first visit): besides the modules, it pins only cycles
    that the sessions alive at that moment may later drop. True when it froze.
    """
    global _modules_when_frozen
    if len(sys.modules) <= _modules_when_frozen:
        return False
    _modules_when_frozen = len(sys.modules)
    gc.collect()
    gc.freeze()
    return True


FULL_COLLECTION_EVERY = 10.0  # seconds at most between full collections, even in a class that trains for an hour
_last_full_collection = 0.0


def collect_garbage(server_idle: bool, every: float = FULL_COLLECTION_EVERY) -> bool:
    """Collect every generation after a script run, as Streamlit's runner.postScriptGC does (turned off
    in .streamlit/config.toml), but only while `server_idle` (no run trains or waits) or when the last
    full collection is `every` seconds old. True when it collected.

    A full collection holds the GIL, and a run training on another thread all but stops meanwhile:
    with a class connected it scans every session's Streamlit state, after each of the class's
    script runs. Python's own collections go on regardless; this only bounds how long cyclic
    garbage (a closed tab's session, with its run) may wait for one while a class trains.
    """
    global _last_full_collection
    now = time.monotonic()
    if not server_idle and now - _last_full_collection < every:
        return False
    _last_full_collection = now
    gc.collect()
    return True
