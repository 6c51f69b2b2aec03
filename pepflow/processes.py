"""Child processes started without running the caller's main script again.

Python's ``spawn`` start method runs the parent's main script in every child (as
``__mp_main__``), so that functions defined there can be unpickled. The product's main
script is the ``pep`` command, which imports the whole product (web, engine, records,
CLI): about 90 MiB in each child, where a document worker needs some 50 MiB and the
local outbox 45 MiB. Nothing a child of ours runs is defined in the main script: the
document workers run functions of ``pepflow.documents`` and ``pepflow.mail``, the
outbox runs ``pepflow.mail.local_outbox``. So :func:`spawn_context` starts them with
everything ``spawn`` passes (the path, the working directory, the name) except the
instruction to run the main script. In a 40-child ``pep simulate`` a document worker
held 113-121 MiB instead of 155, the local outbox 51 MiB instead of 103; a 2,000-child
year with two document workers peaked at 977 MiB of the 1 GiB allowed.
"""

from __future__ import annotations

import threading
from multiprocessing import context, popen_spawn_posix, spawn

__all__ = ["spawn_context"]

_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")
_launching = threading.Lock()


class _Popen(popen_spawn_posix.Popen):
    def _launch(self, process_obj) -> None:
        # ``Popen._launch`` reads the preparation data through the ``spawn`` module's
        # function; it is replaced only while this launch runs, under a lock.
        with _launching:
            original = spawn.get_preparation_data

            def without_main(name: str) -> dict:
                data = original(name)
                for key in _MAIN_KEYS:
                    data.pop(key, None)
                return data

            spawn.get_preparation_data = without_main
            try:
                super()._launch(process_obj)
            finally:
                spawn.get_preparation_data = original


class _Process(context.SpawnProcess):
    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


class _SpawnWithoutMain(context.SpawnContext):
    Process = _Process


def spawn_context() -> context.SpawnContext:
    """A ``spawn`` context whose children do not run the caller's main script."""
    return _SpawnWithoutMain()
