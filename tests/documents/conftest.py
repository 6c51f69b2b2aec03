from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests.documents import corpus_tally

    line = corpus_tally.summary()
    if line:
        terminalreporter.write_sep("-", "returns corpus")
        terminalreporter.write_line(line)
