"""The password spin that protects every file the council sends (MS-OFFCRYPTO agile,
100,000 SHA-512 rounds): ``python bench/spin_bench.py [rounds]``.

Prints, as ``name: value unit``, the CPU time of one spin with the SHA-512 the product
uses (``protection._sha512_constructor``: Python's own where it has one) and, in the
same process as the baseline, with OpenSSL's through hashlib, the best of ``rounds``
(5 unless given) each, and their ratio.
"""

from __future__ import annotations

import sys
import time

from pepflow.documents import protection


def _spin_with(constructor) -> bytes:
    h = constructor(bytes(range(16)) + "k7mq-2xfp-9rtc-4hwn".encode("utf-16-le")).digest()
    for counter in protection._counters(protection.SPIN_COUNT):
        h = constructor(counter + h).digest()
    return h


def _best(call, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        call()
        best = min(best, time.process_time() - start)
    return best * 1000


def main() -> None:
    import _hashlib

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    used = protection._sha512_constructor()
    openssl = _hashlib.openssl_sha512
    assert _spin_with(used) == _spin_with(openssl)
    ours = _best(lambda: protection._spin("k7mq-2xfp-9rtc-4hwn", bytes(range(16))), rounds)
    baseline = _best(lambda: _spin_with(openssl), rounds)
    print(f"spin_sha512: {used.__module__ or 'hashlib'}.{used.__name__} -")
    print(f"spin: {ours:.1f} ms")
    print(f"spin_openssl: {baseline:.1f} ms")
    print(f"spin_ratio: {ours / baseline:.2f} x")


if __name__ == "__main__":
    main()
