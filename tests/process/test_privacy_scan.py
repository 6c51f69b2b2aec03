"""The privacy scan: a demo year (every variant of the process, every role acting,
schools returning forms, a change of school, a child leaving care, a birthday
handover), then every place many people can read is searched for what must never be
there - a child's name or date of birth, a carer's name or address, free text:

* every process variable (instances, their snapshots, user tasks, jobs, messages) is
  of its kind in the process contract (identifiers, dates, flags, codes);
* no child's or contact's name and no date of birth, in any form, appears in any
  engine table, incident, e-mail subject or log line of the whole year.

It runs in CI (``scripts/test``) with the real engine, workers, documents and outbox.
"""

from __future__ import annotations

import json
import logging
import re

import sqlalchemy as sa

from pepflow.demo import run_demo
from pepflow.domain.variables import check_variables, contract_for
from pepflow.sample_data import sample_file


def _people() -> tuple[list[str], list[str]]:
    """(names, dates of birth in the forms they could be written) of the sample data."""
    import csv

    names, births = [], []
    with sample_file("children").open(newline="") as handle:
        for row in csv.DictReader(handle):
            names += [row["given_name"], row["family_name"]]
            y, m, d = row["date_of_birth"].split("-")
            births += [row["date_of_birth"], f"{d}/{m}/{y}", f"{int(d)} "]  # the last one only with a month name
    with sample_file("contacts").open(newline="") as handle:
        for row in csv.DictReader(handle):
            names += [part for part in row["name"].replace("(", " ").split() if part[:1].isupper() and len(part) > 3]
    return sorted(set(names)), births


def _birth_patterns() -> list[re.Pattern[str]]:
    import csv
    from datetime import date

    patterns = []
    with sample_file("children").open(newline="") as handle:
        for row in csv.DictReader(handle):
            born = date.fromisoformat(row["date_of_birth"])
            patterns += [re.compile(re.escape(born.isoformat())), re.compile(re.escape(born.strftime("%d/%m/%Y"))),
                         re.compile(rf"\b{born.day} {born.strftime('%B')} {born.year}\b")]
    return patterns


def _leaks(text: str, names: list[str], births: list[re.Pattern[str]]) -> list[str]:
    found = [n for n in names if re.search(rf"\b{re.escape(n)}\b", text)]
    found += [p.pattern for p in births if p.search(text)]
    return found


async def test_a_demo_year_leaves_no_child_data_where_many_can_read(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    result = await run_demo(tmp_path / "demo")
    assert result.final_peps > 10 and not result.incidents
    names, _ = _people()
    births = _birth_patterns()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'demo' / 'pep.sqlite3'}")
    problems: list[str] = []
    processes: set[str] = set()
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            # 1. process variables: of their kind in their process's contract (the PEP,
            #    or the Virtual School's quality review), nothing else
            instances, tasks, messages = (meta.tables[f"engine_{t}"] for t in ("instance", "user_task", "message"))
            started_by = {"pep-quality-review": "pep-quality"}  # the quality review's start message
            for column_owner, query in (
                ("instance", sa.select(instances.c.key, instances.c.variables, instances.c.bpmn_process_id)),
                ("user task", sa.select(tasks.c.key, tasks.c.variables, tasks.c.bpmn_process_id)),
                ("message", sa.select(messages.c.key, messages.c.variables, messages.c.name)),
            ):
                for key, raw, owner in conn.execute(query):
                    contract = contract_for(started_by.get(owner, owner)) or contract_for("pep")
                    variables = {k: v for k, v in json.loads(raw or "{}").items() if k != "data_objects"}
                    for problem in check_variables(contract, variables):
                        problems.append(f"{column_owner} {key}: {problem}")
                    if column_owner == "instance":
                        processes.add(owner)
            # 2. no name or date of birth anywhere in the engine's tables (variables,
            #    snapshots, jobs, incidents, history)
            for name, table in meta.tables.items():
                if not name.startswith("engine_") or name in ("engine_process_definition", "engine_form"):
                    continue
                for row in conn.execute(sa.select(table)):
                    text = " ".join(str(v) for v in row if isinstance(v, (str, bytes)))
                    for leak in _leaks(text, names, births):
                        problems.append(f"{name}: {leak}")
            # 3. e-mail subjects
            for (subject,) in conn.execute(sa.select(meta.tables["mail_outbox"].c.subject)):
                for leak in _leaks(subject, names, births):
                    problems.append(f"e-mail subject {subject!r}: {leak}")
            subjects = conn.execute(sa.select(sa.func.count()).select_from(meta.tables["mail_outbox"])).scalar_one()
    finally:
        engine.dispose()
    # 4. every log line of the year
    for record in caplog.records:
        for leak in _leaks(record.getMessage(), names, births):
            problems.append(f"log {record.name}: {leak}")
    assert subjects > 50 and len(caplog.records) > 50
    assert processes == {"pep", "pep-quality"}  # the quality reviews were scanned too
    assert not problems, "\n".join(problems[:50])
