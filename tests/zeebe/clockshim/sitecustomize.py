"""Test harness only: the worker subprocess reads "now" from a file the test writes.

The end-to-end test runs the embedded engine behind the gateway facade on a
simulation clock; the worker service, a separate and unchanged process, would read
the wall clock and disagree about what day it is. Like libfaketime's timestamp file,
this shim (on PYTHONPATH of that subprocess only, with PEP_TEST_CLOCK_FILE set)
makes ``SystemClock.now`` return the instant in that file. Nothing else changes.
"""

import os

_path = os.environ.get("PEP_TEST_CLOCK_FILE")
if _path:
    from datetime import datetime

    import pepflow.clock as _clock

    def _now(self):
        with open(_path, encoding="ascii") as handle:
            return datetime.fromisoformat(handle.read().strip())

    _clock.SystemClock.now = _now
