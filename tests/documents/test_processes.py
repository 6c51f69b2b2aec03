"""Child processes of the product do not run the ``pep`` script again."""

import subprocess
import sys
import textwrap


def _run_main(tmp_path, context_expression: str) -> list[str]:
    """Run a main script that notes every import of itself, and start one child."""
    marker = tmp_path / "imports.txt"
    script = tmp_path / "main_script.py"
    script.write_text(textwrap.dedent(f"""
        import os
        with open({str(marker)!r}, "a") as f:
            f.write(__name__ + "\\n")
        if __name__ == "__main__":
            import multiprocessing
            from pepflow.processes import spawn_context
            context = {context_expression}
            child = context.Process(target=os.getpid)
            child.start()
            child.join(30)
            assert child.exitcode == 0, child.exitcode
    """))
    subprocess.run([sys.executable, str(script)], check=True, timeout=60, cwd=tmp_path)
    return marker.read_text().split()


def test_a_child_of_spawn_context_does_not_import_the_main_script(tmp_path):
    assert _run_main(tmp_path, "spawn_context()") == ["__main__"]


def test_plain_spawn_would_import_it_again(tmp_path):
    """What spawn_context avoids (and what shows this test can fail)."""
    assert _run_main(tmp_path, 'multiprocessing.get_context("spawn")') == ["__main__", "__mp_main__"]
