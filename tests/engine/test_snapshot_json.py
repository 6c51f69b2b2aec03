"""An instance's stored state reads back exactly what was set.

The snapshot's JSON text is written by orjson (:mod:`pepflow.engine.snapshot`), which
writes NaN and Infinity as ``null``: so the engine refuses them in variables, as Zeebe
does (they are not JSON numbers), before anything is written. What orjson cannot write
(integers beyond 64 bits) goes through the standard library and is read back by it (orjson
would read such an integer as a float), and a snapshot that only
the standard library reads (a NaN an earlier version stored) still loads. Every test
runs on SQLite and on PostgreSQL, across a restart where it matters.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from pepflow.engine import snapshot

NOT_JSON_NUMBERS = [math.nan, math.inf, -math.inf]


def _stored(harness, key: int) -> str:
    with harness.engine.core.store.read() as conn:
        return conn.execute(sa.text("SELECT snapshot FROM engine_instance WHERE key = :k"), {"k": key}).scalar()


def _both_ways(workflow) -> tuple[str, str]:
    """The snapshot's text as written (orjson) and as the standard library writes it."""
    registry = snapshot._SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = snapshot._SERIALIZER.to_dict(workflow)
    finally:
        registry._encoder_mode = False
    return snapshot._encode(dct), json.dumps(dct, separators=(",", ":"), cls=snapshot._SERIALIZER._encoder_cls)


@pytest.mark.parametrize("bad", NOT_JSON_NUMBERS, ids=["nan", "inf", "-inf"])
def test_nan_and_infinity_are_refused_wherever_variables_come_in_and_nothing_changes(harness, bad):
    harness.deploy("jobs.bpmn", "messages.bpmn")
    before = len(harness.engine.instances())
    with pytest.raises(ValueError, match="NaN and Infinity are not JSON numbers"):
        harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1, "score": bad})
    assert len(harness.engine.instances()) == before

    key = harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    job = harness.one_job("prepare-document")
    stored = _stored(harness, key)
    refused = [
        lambda: harness.engine.complete_job(job.key, {"documentId": "D-1", "score": bad}),
        lambda: harness.engine.set_variables(key, {"score": {"nested": [1, bad]}}),
        lambda: harness.engine.fail_job(job.key, 2, "try again", variables={"score": bad}),
        lambda: harness.engine.throw_error(job.key, "setting-unknown", "no setting", variables={"score": bad}),
        lambda: harness.engine.publish_message("pep-form-returned", "PEP-1", {"score": bad}),
    ]
    for attempt in refused:
        with pytest.raises(ValueError, match="process variables must be JSON values"):
            attempt()
    assert _stored(harness, key) == stored  # nothing was written
    assert harness.active(key) == ["PrepareDocumentTask"]
    harness.engine.complete_job(job.key, {"documentId": "D-1"})  # the job is still there to finish
    assert harness.active(key) == ["SendDocumentTask"]


def test_what_a_snapshot_holds_reads_back_the_same_after_a_restart(harness):
    harness.deploy("jobs.bpmn")
    at = datetime(2026, 11, 30, 9, 30, tzinfo=timezone.utc)
    values = {
        "pepId": "P1", "sendRetries": 1,
        "text": "Siân O'Brien – “quoted” \\ back\nslash \u2028 and 😀",
        "numbers": [0, -1, 2**63 - 1, -(2**63), 0.1, 1e16, 1.5e-7, 123456789.123],
        "nested": {"list": [{"a": None, "b": True}, []], "empty": {}},
    }
    key = harness.engine.create_instance("jobs", values)
    workflow = harness.engine.core.cache[key].workflow
    workflow.task_tree.data["when"] = at  # a datetime: Spiff's own converter writes and reads it
    text = snapshot.dump(workflow, {"activated": []})
    written, by_the_standard_library = _both_ways(workflow)
    assert json.loads(written) == json.loads(by_the_standard_library)
    spec = harness.engine.core.cache[key].definition.parsed
    restored, extra = snapshot.load(text, spec.spec, spec.subprocess_specs, harness.engine.core.script_engine)
    assert extra == {"activated": []}
    assert restored.task_tree.data["when"] == at
    for name, value in values.items():
        assert restored.task_tree.data[name] == value

    harness.restart()
    assert {k: harness.engine.instance(key).variables[k] for k in values} == values


def test_an_integer_beyond_64_bits_is_kept_by_the_standard_library(harness):
    harness.deploy("jobs.bpmn")
    big = 2**70
    key = harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1, "big": big})
    assert f'"big":{big}' in _stored(harness, key)
    harness.restart()
    assert harness.engine.instance(key).variables["big"] == big
    job = harness.one_job("prepare-document")
    harness.engine.complete_job(job.key, {"documentId": "D-1"})
    assert harness.active(key) == ["SendDocumentTask"]
    # the instance saved again from its snapshot as read after the restart: still the integer
    assert f'"big":{big}' in _stored(harness, key)
    value = harness.engine.instance(key).variables["big"]
    assert type(value) is int and value == big


def test_a_snapshot_only_the_standard_library_reads_still_loads(harness):
    """An earlier version let a NaN into a variable and stored it as ``NaN``: orjson
    refuses that text, the standard library reads it."""
    harness.deploy("jobs.bpmn")
    key = harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    text = _stored(harness, key).replace('"sendRetries":1', '"sendRetries":1,"legacy":NaN', 1)
    assert '"legacy":NaN' in text
    live = harness.engine.core.cache[key]
    spec = live.definition.parsed
    restored, _extra = snapshot.load(text, spec.spec, spec.subprocess_specs, harness.engine.core.script_engine)
    assert math.isnan(restored.task_tree.data["legacy"])


def test_a_value_nobody_can_write_is_refused_with_the_standard_librarys_error(harness):
    harness.deploy("jobs.bpmn")
    key = harness.engine.create_instance("jobs", {"pepId": "P1", "sendRetries": 1})
    workflow = harness.engine.core.cache[key].workflow
    workflow.task_tree.data["odd"] = timedelta  # a type, not a value: callables become null, as in Spiff
    assert json.loads(snapshot.dump(workflow, {}))  # Spiff's encoder drops callables to null
    workflow.task_tree.data["odd"] = object()
    with pytest.raises(TypeError, match="not JSON serializable"):
        snapshot.dump(workflow, {})
