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
    memory in the arena of the thread that used it (every Streamlit rerun is a new thread): one run
    of 4 x 512 units on 10,000 samples peaked at +310 MB and kept 205 MB after its trainer was gone;
    with a fixed 1 MB threshold, +135 MB and 34 MB (bench/hostile.py session). False where the C
    library is not glibc (macOS, musl), which is then left as it is.
    """
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


_modules_when_frozen = 0


def freeze_imported_objects() -> bool:
    """Take what imports created out of the garbage collector's scans (gc.freeze), once more modules are loaded.

    Streamlit collects every generation after each script run (runner.postScriptGC). With torch,
    plotly and pandas loaded that scans ~250,000 objects: 140 ms here, 260 ms in a server, holding
    the GIL, while a run training on another thread all but stops (each of its torch ops gives the
    GIL up and waits for it back). Frozen objects are still freed when their last reference goes;
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
    with 30 sessions connected it scans each one's Streamlit state, 17-24 ms here, and a class's 30
    runs each end with two script runs. That was 4% of a class's time, against 3 ms for a run alone.
    Python's own collections go on regardless; this only bounds how long cyclic garbage (a closed
    tab's session, with its run) may wait for one while a class trains.
    """
    global _last_full_collection
    now = time.monotonic()
    if not server_idle and now - _last_full_collection < every:
        return False
    _last_full_collection = now
    gc.collect()
    return True
