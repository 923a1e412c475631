"""Figures every session would build alike, built once per server.

A class opening one link draws the same start view thirty times, and each Train click of a queued
session draws it again while someone else's run trains: building a figure and its JSON holds the
GIL that run needs (`python -m bench --only rerun` measures what sharing saves). Here the JSON is
kept, keyed by the values of everything the figure is built from, so equal inputs give the cached
JSON and any other input builds its own: nothing is keyed by a name that could go stale.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

KEPT = 64  # entries for all sessions, each a figure's JSON of at most ~30 KB

_kept: OrderedDict[bytes, tuple[Callable, str | dict[str, str]]] = OrderedDict()  # key -> (build, JSON)
_lock = threading.Lock()  # sessions run their scripts in threads of one process


def shared_json(build: Callable[..., go.Figure], *args: object, **kwargs: object) -> str:
    """pio.to_json(build(*args, **kwargs)), built once for equal arguments, whichever session asks.

    `build` must be a pure function of its arguments, as viz's figure functions are.
    """
    return _shared(build, args, kwargs, lambda figure: pio.to_json(figure, validate=False))


def shared_jsons(build: Callable[..., dict[str, go.Figure]], *args: object, **kwargs: object) -> dict[str, str]:
    """The same for a build that returns figures by name (viz.boundary.boundary_figures)."""
    return _shared(build, args, kwargs,
                   lambda figures: {name: pio.to_json(figure, validate=False) for name, figure in figures.items()})


def _shared(build: Callable, args: tuple, kwargs: dict, to_json: Callable):
    key = digest((build.__module__, build.__qualname__, args, sorted(kwargs.items())))
    with _lock:
        # The same function object only: a module Streamlit reloaded after an edit builds anew.
        if (kept := _kept.get(key)) is not None and kept[0] is build:
            _kept.move_to_end(key)
            return kept[1]
    spec = to_json(build(*args, **kwargs))  # outside the lock: sessions build in parallel
    with _lock:
        _kept[key] = (build, spec)
        _kept.move_to_end(key)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    return spec


def digest(value: object) -> bytes:
    """16 bytes that differ whenever `value` does: arrays by dtype, shape and bytes, dataclasses by
    their fields, containers item by item, scalars by type and repr (exact for floats)."""
    hasher = hashlib.blake2b(digest_size=16)
    _feed(hasher, value)
    return hasher.digest()


def _feed(hasher, value: object) -> None:
    if isinstance(value, np.ndarray):
        hasher.update(f"array {value.dtype} {value.shape}:".encode())
        hasher.update(np.ascontiguousarray(value).tobytes())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        hasher.update(f"{type(value).__qualname__}(".encode())
        for field in dataclasses.fields(value):
            _feed(hasher, getattr(value, field.name))
        hasher.update(b")")
    elif isinstance(value, (list, tuple)):
        hasher.update(f"{type(value).__name__} {len(value)}(".encode())
        for item in value:
            _feed(hasher, item)
        hasher.update(b")")
    elif value is None or isinstance(value, (str, int, float, bool)):
        hasher.update(f"{type(value).__name__} {value!r};".encode())
    else:  # a value of unknown content must never share a figure
        raise TypeError(f"a shared figure cannot be keyed by a {type(value).__name__}")
