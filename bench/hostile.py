"""Hostile uploads against the app's guards: how long a refusal takes and how much memory it costs.

    python -m bench.hostile            # CSV timings, checkpoint memory, a session's memory
    python -m bench.hostile csv        # one group: csv, checkpoint, session

Each measurement that reads memory runs in a fresh interpreter, so one does not inherit another's heap.
"""

from __future__ import annotations

import sys
import time

import pandas  # noqa: F401  imported first: its cold import is not the guard's time

from core.tabular import DataError, read_csv

CSV_CASES = {
    "1,000,000 repeated names (4 MB header)": lambda: b"abc," * 999_999 + b"abc\n1\n",
    "600,000 unique names": lambda: (",".join(f"c{i}" for i in range(600_000)) + "\n1\n").encode(),
    "a first row of 1,000,000 values": lambda: b"a,b\n" + b"1," * 999_999 + b"1\n",
    "a third row of 1,000,000 values": lambda: b"a,b\n1,2\n" + b"1," * 999_999 + b"1\n",
    "2,400,000 rows": lambda: b"a\n" + b"1\n" * 2_400_000,
    "one 4 MB column name": lambda: b"x" * 4_000_000 + b",y\n1,2\n",
    "an unclosed quote over 4 MB": lambda: b'a,"' + b"x," * 2_000_000 + b"\n",
}


def csv_timings() -> None:
    for name, make in CSV_CASES.items():
        data = make()
        started = time.perf_counter()
        try:
            read_csv(data)
            outcome = "accepted"
        except DataError as error:
            outcome = str(error)[:70]
        print(f"| {name} | {len(data) / 1e6:.1f} MB | {time.perf_counter() - started:.3f} s | {outcome} |")


GROUPS = {"csv": csv_timings}

if __name__ == "__main__":
    for group in sys.argv[1:] or GROUPS:
        GROUPS[group]()
