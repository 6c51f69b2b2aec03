"""The simulation's peak memory is the process tree's as it was, not getrusage's
sum of this process's peak and its largest child's (which counts a child forked from a
large parent as that large for the moment before it runs its own interpreter)."""

from __future__ import annotations

import subprocess
import sys
import time

from pepflow.process_memory import PeakMemory, tree_rss

MiB = 2**20
HOLD_100_MIB = "import sys, time; block = bytearray(100 * 2**20); sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(30)"


def test_the_tree_counts_a_childs_memory_while_it_lives():
    alone = tree_rss()
    assert alone is not None and alone > 10 * MiB
    child = subprocess.Popen([sys.executable, "-c", HOLD_100_MIB], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        with_child = tree_rss()
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert with_child - alone >= 95 * MiB
    assert tree_rss() - alone < 50 * MiB  # gone with the child
    assert tree_rss(child.pid) is None  # an ended process is nobody's memory


def test_the_peak_remembers_a_child_that_came_and_went():
    memory = PeakMemory(interval=0.05).start()
    before = tree_rss()
    child = subprocess.Popen([sys.executable, "-c", HOLD_100_MIB], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        time.sleep(0.3)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    time.sleep(0.2)
    peak = memory.stop()
    assert peak - before >= 95 * MiB
    assert tree_rss() < peak - 50 * MiB
