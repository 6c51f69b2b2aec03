"""Returned forms: read, compared, flagged, reviewed, merged (issue 12).

A returned form is never simply written over the PEP's school section. It is kept as
it came (a ``returned`` document) and as a *return* (``store.returns``) with:

- what was read (the school's part and the meeting part);
- what was flagged: each :class:`~pepflow.documents.findings.ReadFinding` of the
  read-back, every answer that could not be read (``invalid_fields``: kept verbatim
  with the reason), answer boxes missing from the file, and an older version of the
  form coming back ("this is the form sent on <date>, not the latest");
- what it changes against the returns accepted before (``field: before -> after``).

A return with nothing flagged and no change against an earlier return is accepted at
once ("clean returns go straight on"). Any other waits for business support
(``ReviewReturnedFormTask`` in the diagram; ``pep form-review``; the web review page),
who accept it, accept it with edits (checked against the school part's model, as
any submission is), or ask the school again (a secure mail to the designated teacher
with the query in words; the process waits for the next return).

Accepting *merges*: a later return that leaves a field empty keeps what an earlier
return gave; each change against the earlier return is shown and audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, get_args

from pydantic import ValidationError

from .documents import Encrypted, ReadBackResult, SchoolReturn, WrongPassword, read_school_return
from .documents._fields import FormShape, all_fields, meeting_sections, school_sections
from .documents.findings import ReadFinding
from .documents.model import VARIANTS, PepReview
from .domain.enums import DocumentKind, PepSection, PepStatus
from .domain.instants import local_date
from .domain.meeting_dates import long_date
from .store import returns as st

if TYPE_CHECKING:
    from .casework import CaseContext, Casework

SYSTEM = "system"
#: the reason codes business support can give in Tasklist when asking the school again
#: (the review page takes a message in words as well)
QUERY_REASONS: dict[str, str] = {
    "text-outside-answers": "Some of what you wrote is outside the answer boxes, so we cannot tell which question it answers.",
    "unreadable-answers": "Some answers could not be read as the form asks (for example a number written in words).",
    "older-version": "The form you returned is an earlier version, not the latest one we sent.",
    "changed-answers": "Some answers differ from the form you returned before; please confirm which are right.",
    "other": "We need to check some of your answers with you.",
}


class ReturnRefused(ValueError):
    """A return that cannot be taken in: the message says why and what to do."""


class InvalidEdits(ValueError):
    """Edits business support made that the school part's model refuses, by field."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def _labels() -> dict[str, str]:
    """Every answer's label, over every shape a form is issued in (and the first layout)."""
    from itertools import product

    from .documents._sections_v1 import school_sections_for

    labels: dict[str, str] = {}
    shapes = [FormShape(variant, review, *flags)
              for variant, review, flags in product(VARIANTS, get_args(PepReview), product((False, True), repeat=4))]
    sections = [s for shape in shapes for s in school_sections(shape)]
    sections += [s for variant in VARIANTS for t in (False, True) for s in school_sections_for(variant, t)]
    for spec in all_fields(tuple(sections)):
        labels.setdefault(spec.name, spec.alias)
    for spec in all_fields(meeting_sections()):
        labels.setdefault(f"meeting.{spec.name}", f"Meeting: {spec.alias}")
    return labels


LABELS = _labels()


def label(name: str) -> str:
    """How a field is called on the form (``attendance_percent`` -> "Attendance (%)")."""
    return LABELS.get(name, name.replace("_", " ").replace(".", " "))


def findings_of(result: ReadBackResult) -> list[ReadFinding]:
    """Every finding of a read-back: its own, and each answer that could not be read
    (``invalid_fields``) that no finding already covers, kept verbatim with why."""
    found = list(result.findings)
    covered = {f.field for f in found if f.field}
    for name, raw in result.invalid_fields.items():
        if name in covered:
            continue
        found.append(ReadFinding(
            kind="unparsed", where=label(name), text=raw, field=name,
            reason="this answer could not be read as the form asks; it was not taken in",
        ))
    for name in result.missing_fields:
        found.append(ReadFinding(
            kind="outside-answers", where=label(name), text="", field=name,
            reason="the answer box for this question is not in the returned file (deleted or replaced)",
        ))
    return found


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def merge(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """``before`` with every answer ``after`` gives: (merged, changes, kept).

    An answer left empty in ``after`` keeps ``before``'s (listed in ``kept``); a
    different answer is a change ``{field, before, after}``; a new one is simply taken.
    """
    merged = dict(before)
    changes: list[dict[str, Any]] = []
    kept: list[str] = []
    for name in sorted(set(before) | set(after)):
        new, old = after.get(name), before.get(name)
        if _empty(new):
            if not _empty(old):
                kept.append(name)
            continue
        if not _empty(old) and old != new:
            changes.append({"field": name, "before": old, "after": new})
        merged[name] = new
    return merged, changes, kept


def _merged_baseline(accepted: dict[str, Any] | None, queried: st.StoredReturn | None) -> dict[str, Any]:
    """The accepted answers merged with those of the return the school was asked about."""
    baseline = dict(accepted or {})
    if queried is not None:
        baseline, _, _ = merge(baseline, queried.values.get("school", {}))
    return baseline


@dataclass
class ReturnReport:
    """What business support (and the CLI) sees of one return, side by side."""

    return_id: int
    pep_id: str
    status: str
    read: dict[str, Any]
    findings: list[ReadFinding]
    changes: list[dict[str, Any]]
    kept: list[str]
    version_note: str | None
    received_at: str
    received_by: str
    decided_by: str | None = None
    query: str | None = None
    edits: dict[str, Any] | None = None
    accepted: dict[str, Any] = field(default_factory=dict)
    answers_query: str | None = None
    """The query this return answers (the school was asked again): it is always reviewed."""

    @property
    def flag_count(self) -> int:
        return len(self.findings) + (1 if self.version_note else 0)

    @property
    def needs_review(self) -> bool:
        return bool(self.flag_count or self.changes or self.answers_query)

    def lines(self) -> list[str]:
        """The report in words (the CLI prints it; the web shows the same)."""
        out = [f"{self.pep_id}: returned form {self.return_id} ({self.status}), received {self.received_at} from {self.received_by}"]
        if self.answers_query:
            out.append(f"  ANSWERS the question the school was asked: {self.answers_query}")
        if self.version_note:
            out.append(f"  FLAG {self.version_note}")
        for f in self.findings:
            text = f'"{f.text}"' if f.text else "(nothing)"
            out.append(f"  FLAG {f.where}: {text} - {f.reason}")
        for c in self.changes:
            out.append(f"  CHANGED {label(c['field'])}: {_shown(c['before'])} -> {_shown(c['after'])}")
        for name in self.kept:
            out.append(f"  KEPT {label(name)}: empty in this return, the earlier answer stays ({_shown(self.accepted.get(name))})")
        if self.query:
            out.append(f"  ASKED AGAIN: {self.query}")
        if self.decided_by:
            out.append(f"  decided by {self.decided_by}")
        if not self.needs_review:
            out.append("  nothing flagged, no change against an earlier return")
        return out


def _shown(value: Any) -> str:
    if _empty(value):
        return "(empty)"
    if isinstance(value, list):
        return "; ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_shown(v)}" for k, v in value.items() if not _empty(v))
    return str(value)


class SchoolReturns:
    """The service over ``store.returns``, the read-back and the PEP's school section."""

    def __init__(self, casework: Casework | CaseContext) -> None:
        # either has the store, the settings, the casework's mail (``SecureMail``) and its
        # document pool (the read-back runs in a worker process when there is one)
        self.casework = casework
        self.store = casework.store
        self._documents = casework.spins

    # ------------------------------------------------------------------ reading
    def _read(self, pep_id: str, data: bytes) -> tuple[ReadBackResult, int | None, int | None]:
        """Read the file; a protected one with each version's password, newest first.
        Returns (the read-back, the form version that opened it, the latest version)."""
        secret = self.casework.config.document_secret
        read = self._documents.run  # python-docx work: in a document worker process when there is one
        forms = self.store.documents(pep_id, DocumentKind.FORM)
        latest = forms[-1].version if forms else None
        try:
            return read(read_school_return, data, pep_id, secret), None, latest
        except Encrypted:
            pass
        for form in reversed(forms):
            password, _ = self.casework.mail.document_password(pep_id, DocumentKind.FORM, form.version)
            try:
                return read(read_school_return, data, pep_id, secret, password=password), form.version, latest
            except WrongPassword:
                continue
        tried = len(forms)
        raise WrongPassword(
            f"The file is protected with a password that is not the password of any of the {tried} version(s) of "
            f"{pep_id}'s form we sent. Ask the school to save it again with the password we gave them, or with no "
            "password (`pep password` gives each version's password)."
        )

    def _version_note(self, pep_id: str, version: int | None, latest: int | None) -> str | None:
        if version is None or latest is None or version >= latest:
            return None
        sent = self._form_sent_on(pep_id, version)
        newest = self._form_sent_on(pep_id, latest)
        return (f"this is the form sent on {long_date(sent)} (version {version}), not the latest "
                f"(version {latest}, sent on {long_date(newest)})")

    def _form_sent_on(self, pep_id: str, version: int) -> date:
        document = next(d for d in self.store.documents(pep_id, DocumentKind.FORM) if d.version == version)
        return local_date(document.created_at)

    def check_open(self, pep_id: str) -> None:
        """A final or cancelled PEP takes no returned form: refused with what to do."""
        pep = self.store.pep(pep_id)
        if pep.status == PepStatus.FINAL:
            finalised = f" on {long_date(local_date(pep.finalised_at))}" if pep.finalised_at else ""
            raise ReturnRefused(
                f"{pep_id} is already final (finalised{finalised}): a returned form cannot change it and was not "
                f"taken in. If the school's form corrects the final PEP, ask the council's PEP team to open a "
                f"correction (`pep correct {pep_id} --section school-return --set field=value --reason ...`); "
                f"a new version of the final PEP then goes to every attendee."
            )
        if pep.status == PepStatus.CANCELLED:
            open_pep = self.store.open_pep(pep.child_id)
            hint = f" The child's open PEP is {open_pep.id}: ask the school to return that PEP's form." if open_pep else ""
            raise ReturnRefused(f"{pep_id} was cancelled: a returned form cannot be taken in for it.{hint}")

    def receive(self, pep_id: str, data: bytes, *, actor: str) -> ReturnReport:
        """Check, keep and read a returned form; accept it at once when nothing is
        flagged and nothing changes, else keep it pending for review."""
        self.check_open(pep_id)
        result, version, latest = self._read(pep_id, data)
        school = result.values.model_dump(mode="json")
        meeting = result.meeting.model_dump(mode="json")
        findings = findings_of(result)
        _, changes, _ = merge(self._baseline(pep_id), school)
        with self.store.atomic():
            count = len(self.store.documents(pep_id, DocumentKind.RETURNED))
            document = self.store.record_document(
                pep_id, DocumentKind.RETURNED, f"{pep_id}-returned-v{count + 1}.docx", content=data, actor=actor,
            )
            stored = self.store.returns.add(
                pep_id, document.id, form_version=version, latest_form_version=latest,
                values={"school": school, "meeting": meeting, "found_by": result.found_by},
                findings=[f.model_dump() for f in findings], changes=changes, actor=actor,
            )
            report = self._report(stored)
            if not report.needs_review:
                self._accept(stored, actor=actor, edits=None)
        return self.report(stored.id)

    # ---------------------------------------------------------------- reporting
    def _baseline(self, pep_id: str, before_id: int | None = None) -> dict[str, Any]:
        """What a return is compared with: the answers accepted so far, merged with
        the answers of a return the school was asked about (their new form answers
        that query: business support sees what they changed)."""
        return _merged_baseline(self.store.section(pep_id, PepSection.SCHOOL_RETURN),
                                self._queried_before(pep_id, before_id))

    def _queried_before(self, pep_id: str, before_id: int | None) -> st.StoredReturn | None:
        earlier = [x for x in self.store.returns.for_pep(pep_id) if before_id is None or x.id < before_id]
        return earlier[-1] if earlier and earlier[-1].status == st.QUERIED else None

    def _report(self, stored: st.StoredReturn) -> ReturnReport:
        accepted = self.store.section(stored.pep_id, PepSection.SCHOOL_RETURN) or {}
        school = stored.values.get("school", {})
        queried = self._queried_before(stored.pep_id, stored.id)
        if stored.status == st.PENDING:  # compared with what was just read, not read again
            _, changes, kept = merge(_merged_baseline(accepted, queried), school)
        else:
            changes = stored.changes
            kept = []
        return ReturnReport(
            return_id=stored.id, pep_id=stored.pep_id, status=stored.status, read=school,
            findings=[ReadFinding.model_validate(f) for f in stored.findings], changes=changes, kept=kept,
            version_note=self._version_note(stored.pep_id, stored.form_version, stored.latest_form_version),
            received_at=long_date(stored.received_at.date()), received_by=stored.received_by,
            decided_by=stored.decided_by, query=stored.query, edits=stored.edits, accepted=accepted,
            answers_query=queried.query if queried is not None else None,
        )

    def report(self, return_id: int) -> ReturnReport:
        return self._report(self.store.returns.get(return_id))

    def latest(self, pep_id: str) -> st.StoredReturn | None:
        returns = self.store.returns.for_pep(pep_id)
        return returns[-1] if returns else None

    def pending(self) -> list[ReturnReport]:
        return [self._report(x) for x in self.store.returns.pending()]

    # ---------------------------------------------------------------- deciding
    def check_edits(self, return_id: int, edits: dict[str, Any]) -> dict[str, Any]:
        """Edits to the school's answers, checked against the school part's model like
        any submission: unknown fields and values the model refuses are refused, by
        field (:class:`InvalidEdits`). Returns the edits as the model reads them."""
        stored = self.store.returns.get(return_id)
        merged, _, _ = merge(self._baseline(stored.pep_id, stored.id), stored.values.get("school", {}))
        errors: dict[str, str] = {}
        known = set(SchoolReturn.model_fields)
        for name in edits:
            if name not in known:
                errors[name] = f"there is no answer {name!r} in the school's part of the form"
        if errors:
            raise InvalidEdits(errors)
        candidate = {**merged, **{k: (None if _empty(v) else v) for k, v in edits.items()}}
        try:
            checked = SchoolReturn.model_validate({k: v for k, v in candidate.items() if v is not None})
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "form"
                errors.setdefault(name, f"{label(name)}: {error['msg']}")
            raise InvalidEdits(errors) from None
        dumped = checked.model_dump(mode="json")
        return {k: dumped.get(k) for k in edits}

    def _accept(self, stored: st.StoredReturn, *, actor: str, edits: dict[str, Any] | None) -> st.StoredReturn:
        merged, changes, _ = merge(self._baseline(stored.pep_id, stored.id), stored.values.get("school", {}))
        if edits:
            for name, value in edits.items():
                changes.append({"field": name, "before": merged.get(name), "after": value, "edited_by": actor})
                merged[name] = value
        # the meeting part the school filled in (issue 15) merges the same way
        meeting_before = self.store.section(stored.pep_id, PepSection.SCHOOL_MEETING)
        meeting, _, _ = merge(meeting_before or {}, stored.values.get("meeting", {}))
        with self.store.atomic():
            decided = self.store.returns.decide(stored.id, st.ACCEPTED, actor=actor, edits=edits)
            self.store.save_section(stored.pep_id, PepSection.SCHOOL_RETURN, merged, actor=actor)
            if meeting_before is None or meeting != meeting_before:
                self.store.save_section(stored.pep_id, PepSection.SCHOOL_MEETING, meeting, actor=actor)
        return decided

    def accept(self, return_id: int, *, actor: str, edits: dict[str, Any] | None = None) -> ReturnReport:
        """Accept a pending return (with ``edits``, checked first), merged into the PEP."""
        stored = self.store.returns.get(return_id)
        self.check_open(stored.pep_id)
        checked = self.check_edits(return_id, edits) if edits else None
        self._accept(stored, actor=actor, edits=checked)
        return self.report(return_id)

    def ask_again(self, return_id: int, *, actor: str, query: str | None, reason_code: str | None = None) -> ReturnReport:
        """Record that the school is asked again, with the query in words (the mail goes
        with :meth:`send_query`)."""
        words = (query or "").strip() or QUERY_REASONS.get(reason_code or "", "")
        if not words:
            raise ValueError("say what the school is asked: a message, or one of " + ", ".join(QUERY_REASONS))
        self.store.returns.decide(return_id, st.QUERIED, actor=actor, query=words)
        return self.report(return_id)

    async def send_query(self, return_id: int) -> bool:
        """The secure mail to the setting's designated teacher (or whoever the form
        went to) with the query in words and where each flag was; queued once."""
        stored = self.store.returns.get(return_id)
        if stored.status != st.QUERIED:
            raise ValueError(f"returned form {return_id} was not queried (it is {stored.status})")
        pep = self.store.pep(stored.pep_id)
        report = self._report(stored)
        places = [f.where for f in report.findings] + [label(c["field"]) for c in report.changes]
        if report.version_note:
            places.insert(0, "the version of the form")
        sent = False
        for recipient in self.casework.mail.setting_recipients(pep):  # the casework's own rule
            sent |= await self.casework.mail.queue(
                f"{pep.id}:school-form-query:{return_id}:{recipient.email}", "pep-form-query", pep, recipient, {
                    "pep_reference": pep.id, "query": stored.query or "", "places": places,
                    "received_on": stored.received_at.date(), "recipient_role": self.casework.mail.reader_role(recipient),
                    "meeting_date": pep.meeting_at.date() if pep.meeting_at else None,
                },
            )
        return sent

    def decide_in_process(self, return_id: int, decision: str, reason_code: str | None, *, actor: str = "tasklist") -> bool:
        """The diagram's step after the review task: a decision made in Tasklist (the
        web and the CLI record theirs, with who decided, before completing the task) is
        recorded here. Returns whether the return is accepted."""
        stored = self.store.returns.get(return_id)
        if stored.status == st.PENDING:
            if decision == "accept":
                stored = self._accept(stored, actor=actor, edits=None)
            elif decision == "ask-again":
                stored = self.store.returns.decide(
                    return_id, st.QUERIED, actor=actor, query=QUERY_REASONS.get(reason_code or "other", QUERY_REASONS["other"]),
                )
            else:
                raise ValueError(f"unknown review decision {decision!r}")
        return stored.status == st.ACCEPTED

