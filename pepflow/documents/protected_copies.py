"""The protected copy of a document version, made once for all its recipients.

A final PEP goes to every attendee, one job each (the diagram's multi-instance send):
each protected the same document version with the same password again, 100,000
password-hash spins a time, the largest cost of sending it. The copy is the same for
every recipient of a version (the password is the version's, read out by phone), so
the last few copies are kept in memory, keyed by the document version and a digest of
its password; nothing is written anywhere, and a new version has a new key.

The recipients' jobs run at the same time (one thread each), so a copy being made is
waited for, not made again by every recipient that asks before it is done.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable


class ProtectedCopies:
    """A small LRU of protected copies (thread-safe: the workers run in threads)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._copies: OrderedDict[tuple[int, bytes], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[tuple[int, bytes], threading.Lock] = {}
        self.made = 0
        self.reused = 0

    def get(self, document_id: int, password: str, make: Callable[[], bytes]) -> bytes:
        key = (document_id, hashlib.sha256(password.encode()).digest())
        while True:
            with self._lock:
                found = self._copies.get(key)
                if found is not None:
                    self._copies.move_to_end(key)
                    self.reused += 1
                    return found
                making = self._making.get(key)
                if making is None:
                    making = self._making[key] = threading.Lock()
                    making.acquire()
                    break
            with making:  # another recipient's job is making this copy: wait for it
                pass
        try:
            data = make()
        except BaseException:
            with self._lock:  # the next asker makes it (and sees its own error)
                del self._making[key]
            making.release()
            raise
        with self._lock:
            self._copies[key] = data
            self._copies.move_to_end(key)
            while len(self._copies) > self.size:
                self._copies.popitem(last=False)
            del self._making[key]
            self.made += 1
        making.release()
        return data
