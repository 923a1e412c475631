"""A class on one server, in-process: N sessions' training loops at once through the server's queue.

Each session is a thread that joins the app's queue (server/admission.py), waits for its slot, steps
its own Trainer to the end in turns of TURN_MS (passing the slot on whenever its turn is over and
another waits) and gives the slot back, as the Train page's loop does; no websocket, browser or
drawing is involved, so the figures are the training and admission costs alone. Run in a fresh
process (`python -m bench.classroom N EPOCHS SLOTS TURN_MS [TIMES]`) so that its RSS is one server's.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import psutil

import pages.ui  # noqa: F401  (torch threads set as in the app)
from core.config import Config
from core.trainer import Trainer
from server.admission import FairQueue


def session(queue: FairQueue, config: Config, out: dict) -> None:
    """`training`: from its first epoch to its last, the other runs' turns in between included."""
    trainer = Trainer(config)
    joined = time.perf_counter()
    ticket = queue.join()
    try:
        queue.acquire(ticket)
        started = turn_began = time.perf_counter()
        trained = 0.0  # seconds, its own turns only: its pace
        while not trainer.done:
            now = time.perf_counter()
            pace = (trained + now - turn_began) / max(trainer.epoch, 1)
            if queue.turn_over(ticket, pace * (config.training.epochs - trainer.epoch)):
                trained += now - turn_began
                queue.pass_turn(ticket)
                queue.acquire(ticket)
                turn_began = time.perf_counter()
            trainer.step()
        ended = time.perf_counter()
    finally:
        queue.release(ticket)
    out.update(wait=started - joined, training=ended - started, ended=ended,
               loss=trainer.history.losses[-1], epochs=trainer.epoch)


def run_class(n: int, config: Config, slots: int, turn_ms: int) -> dict:
    queue, results = FairQueue(slots, turn_ms / 1000), [{} for _ in range(n)]
    threads = [threading.Thread(target=session, args=(queue, config, out)) for out in results]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"n": n, "slots": slots, "turn_ms": turn_ms, "seconds": time.perf_counter() - started,
            "rss_mb": psutil.Process().memory_info().rss / 1e6, "sessions": results}


def main(argv: list[str]) -> None:
    """N EPOCHS SLOTS TURN_MS [TIMES]: the class TIMES times over, one after another, a JSON line each."""
    n, epochs, slots, turn_ms, times = (int(a) for a in [*argv, "1"][:5])
    for _ in range(times):
        print(json.dumps(run_class(n, Config().replace(epochs=epochs), slots, turn_ms)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
