"""``pep simulate`` on PostgreSQL: a small council's year on the server a council
configures, its invariants held and its figures matching the records there."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from pepflow.cli import app

from ..conftest import _fresh_postgres_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_a_small_council_year_on_postgresql(tmp_path):
    url, drop = _fresh_postgres_database()
    try:
        result = CliRunner().invoke(app, ["simulate", "--children", "6", "--seed", "3", "--data-dir",
                                          str(tmp_path / "sim"), "--database-url", url])
        assert result.exit_code == 0, result.output
        figures = {name: value.split()[0] for name, _, value in
                   (line.partition(": ") for line in result.stdout.splitlines()) if value}
        assert figures["invariant_problems"] == "0" and figures["incidents"] == "0"
        assert int(figures["final_peps"]) >= 6 and figures["final_pdfs"] == figures["final_peps"]
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                sent = conn.execute(sa.text("select count(*) from mail_log where status = 'sent'")).scalar()
                final = conn.execute(sa.text("select count(*) from peps where status = 'final'")).scalar()
        finally:
            engine.dispose()
        assert sent == int(figures["mail_sent"]) > 0
        assert final == int(figures["final_peps"])
        assert not (tmp_path / "sim" / "pep.sqlite3").exists()  # the records went to the server
    finally:
        drop()
