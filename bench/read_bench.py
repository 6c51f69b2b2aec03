"""A short read through each store, as the product's job steps make them:
``python bench/read_bench.py [n]``.

Prints, as ``name: value unit``, the interpreter's time (CPU) per call of

* ``engine_read``: ``Engine.activatable_job_types()`` (the runtime's poll: one read of
  the engine's tables in a read transaction);
* ``records_core_read``: ``RecordsStore.staff_by_login()`` (a Core read of the records
  store outside a transaction);

on a new SQLite file each, the best of three rounds of ``n`` calls (20,000 unless
given). Each thread keeps its read connection of a SQLite file between reads
(``pepflow/held_reads.py``); before that, every read took a connection from the pool.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from pepflow.clock import SimulationClock
from pepflow.engine.runtime import Engine
from pepflow.store.migrate import migrate
from pepflow.store.repository import RecordsStore


def _per_call(call, n: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for _ in range(n):
            call()
        best = min(best, (time.process_time() - start) / n)
    return best * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        clock = SimulationClock(datetime(2026, 9, 1, tzinfo=timezone.utc))
        engine = Engine(url, clock)
        migrate(url)
        store = RecordsStore(url, clock)
        try:
            print(f"engine_read: {_per_call(engine.activatable_job_types, n):.1f} us")
            print(f"records_core_read: {_per_call(lambda: store.staff_by_login('nobody'), n):.1f} us")
        finally:
            store.close()
            engine.close()


if __name__ == "__main__":
    main()
