"""A class on one server, in-process: N sessions' training loops at once through the server's queue.

Each session is a thread that joins the app's queue (core/admission.py), waits for its slot, steps
its own Trainer to the end and gives the slot back, as the Train page's loop does; no websocket,
browser or drawing is involved, so the figures are the training and admission costs alone. Run in
a fresh process (`python -m bench.classroom N EPOCHS SLOTS`) so that its RSS is one server's.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import psutil

import pages.parts  # noqa: F401  (torch threads set as in the app)
from core.admission import FairQueue
from core.config import Config
from core.trainer import Trainer


def session(queue: FairQueue, config: Config, out: dict) -> None:
    trainer = Trainer(config)
    joined = time.perf_counter()
    ticket = queue.join()
    try:
        queue.acquire(ticket)
        started = time.perf_counter()
        while not trainer.done:
            trainer.step()
        ended = time.perf_counter()
    finally:
        queue.release(ticket)
    out.update(wait=started - joined, training=ended - started, ended=ended,
               loss=trainer.history.losses[-1], epochs=trainer.epoch)


def run_class(n: int, config: Config, slots: int) -> dict:
    queue, results = FairQueue(slots), [{} for _ in range(n)]
    threads = [threading.Thread(target=session, args=(queue, config, out)) for out in results]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"n": n, "slots": slots, "seconds": time.perf_counter() - started,
            "rss_mb": psutil.Process().memory_info().rss / 1e6, "sessions": results}


def main(argv: list[str]) -> None:
    n, epochs, slots = (int(a) for a in argv)
    print(json.dumps(run_class(n, Config().replace(epochs=epochs), slots)))


if __name__ == "__main__":
    main(sys.argv[1:])
