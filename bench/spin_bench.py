"""The password spin that protects every file the council sends (MS-OFFCRYPTO agile,
100,000 SHA-512 rounds): ``python bench/spin_bench.py [rounds]``.

Prints, as ``name: value unit``, the CPU time of one spin as the product runs it
(``protection._spin``: the C chain of ``_spin.c`` where it was built) and, in the same
process as baselines, the Python chain with the SHA-512 the product falls back to
(Python's own where it has one) and with OpenSSL's through hashlib; the best of
``rounds`` (5 unless given) each, and the ratios.
"""

from __future__ import annotations

import hashlib
import sys
import time

from pepflow.documents import protection

PASSWORD = "k7mq-2xfp-9rtc-4hwn"
SALT = bytes(range(16))


def _python_chain_with(constructor) -> bytes:
    h = constructor(SALT + PASSWORD.encode("utf-16-le")).digest()
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
    fallback = protection._sha512_constructor()
    openssl = _hashlib.openssl_sha512
    reference = _python_chain_with(hashlib.sha512)
    assert protection._spin(PASSWORD, SALT) == reference == _python_chain_with(fallback) == _python_chain_with(openssl)
    product = _best(lambda: protection._spin(PASSWORD, SALT), rounds)
    python = _best(lambda: _python_chain_with(fallback), rounds)
    python_openssl = _best(lambda: _python_chain_with(openssl), rounds)
    print(f"spin_chain: {'C (OpenSSL SHA-512)' if protection._c_chain() else 'Python'} -")
    print(f"spin: {product:.1f} ms")
    print(f"spin_python: {python:.1f} ms")
    print(f"spin_python_openssl: {python_openssl:.1f} ms")
    print(f"spin_ratio_to_python: {product / python:.2f} x")
    print(f"spin_python_ratio_openssl: {python / python_openssl:.2f} x")


if __name__ == "__main__":
    main()
