"""The one compiled part of pepflow: the password-hash spin that protects every Word
file the council sends (pepflow/documents/_spin.c, OpenSSL's SHA-512 in a C loop; about
half the CPU of the same chain in Python, bench/spin_bench.py). Everything else is in
pyproject.toml. ``optional``: where it cannot be built (no compiler, no OpenSSL headers:
Debian's gcc and libssl-dev) the install goes on and protection.py runs the chain in
Python, saying so in the log."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("pepflow.documents._spin", ["pepflow/documents/_spin.c"], libraries=["crypto"], optional=True)])
