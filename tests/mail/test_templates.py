from __future__ import annotations

import re
from datetime import date, time

import pytest

from pepflow.mail import KINDS, TemplateContextError, UnknownMailKindError, render
from pepflow.mail.templates import template_variables

REFERENCE = "PEP-C-0001-2026-AUT"

FULL_CONTEXT = {
    "pep_reference": REFERENCE,
    "council_name": "Example Council",
    "sender_team": "North Locality Business Support",
    "on_behalf_of": "North Locality Business Support",
    "meeting_due": date(2026, 9, 14),
    "entered_care_on": date(2026, 9, 1),
    "emergency": True,
    "meeting_date": date(2026, 10, 12),
    "meeting_time": time(14, 30),
    "venue": "Northfield Primary School, meeting room 2",
    "days_overdue": 3,
    "return_by": date(2026, 9, 21),
    "password": "correct-horse-battery-staple",
    "document_name": f"{REFERENCE}.docx",
    "password_by_phone": False,
    "recipient_role": "designated-teacher",
    "has_setting": True,
    "reminded": True,
    "what": "the record of the PEP meeting",
    "due_on": date(2026, 10, 14),
    "who_owns": "Social worker",
    "owner_name": "Amira Quillfeather",
    "next_step": "Please contact the worker.",
    "version": 2,
    "rated_on": date(2026, 10, 20),
    "web_link": f"https://pep.council.example.org/peps/{REFERENCE}",
    "query": "Please put the sixth target in the targets table.",
    "places": ["Targets, an added row", "Attendance (%)"],
    "received_on": date(2026, 9, 18),
}

ALLOWED_VARIABLES = set(FULL_CONTEXT)
CHILD_DETAILS = re.compile(r"child|first_?name|surname|forename|full_?name|birth|dob|address|upn")


def test_every_kind_the_process_sends_has_templates():
    assert set(KINDS) == {
        "initial-pep", "virtual-school-notice", "initial-meeting-arranged",
        "initial-meeting-reminder", "initial-meeting-overdue", "pep-form",
        "pep-form-health-visitor", "pep-form-reminder", "pep-form-query", "final-pep", "form-password", "pep-escalation",
        "final-pep-corrected", "pep-quality-returned",
    }


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_subject_text_and_html(kind):
    subject, text, html = render(kind, FULL_CONTEXT)
    assert REFERENCE in subject
    assert "\n" not in subject
    assert REFERENCE in text
    assert REFERENCE in html
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "<" not in text  # text bodies are plain
    assert "Example Council" in text


@pytest.mark.parametrize("kind", KINDS)
def test_templates_use_no_child_details(kind):
    variables = template_variables(kind)
    assert variables <= ALLOWED_VARIABLES
    assert not [v for v in variables if CHILD_DETAILS.search(v)]
    assert "pep_reference" in variables


def test_missing_variable_is_a_clear_error():
    context = dict(FULL_CONTEXT)
    del context["return_by"]
    with pytest.raises(TemplateContextError, match="return_by"):
        render("pep-form", context)


def test_unknown_kind_is_an_error():
    with pytest.raises(UnknownMailKindError, match="no-such-mail"):
        render("no-such-mail", FULL_CONTEXT)


def test_reference_must_be_a_pep_reference_not_a_name():
    with pytest.raises(TemplateContextError, match="pep_reference"):
        render("final-pep", {**FULL_CONTEXT, "pep_reference": "Jane Smith"})


def test_html_is_escaped_and_text_is_not():
    venue = '<script>alert("x")</script> Smith & Jones Hall'
    subject, text, html = render("initial-meeting-arranged", {**FULL_CONTEXT, "venue": venue})
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "Smith &amp; Jones Hall" in html
    assert venue in text


def test_dates_and_times_are_written_out():
    subject, text, _ = render("initial-meeting-arranged", FULL_CONTEXT)
    assert subject == f"Initial PEP meeting arranged: {REFERENCE} on Monday 12 October 2026"
    assert "14:30" in text


def test_form_password_carries_the_password_and_the_document_name():
    subject, text, html = render("form-password", FULL_CONTEXT)
    assert "correct-horse-battery-staple" in text
    assert "correct-horse-battery-staple" in html
    assert f"{REFERENCE}.docx" in text
    assert "correct-horse" not in subject


def test_overdue_plural():
    _, one, _ = render("initial-meeting-overdue", {**FULL_CONTEXT, "days_overdue": 1})
    _, many, _ = render("initial-meeting-overdue", {**FULL_CONTEXT, "days_overdue": 4})
    assert "1 day overdue" in one
    assert "4 days overdue" in many


@pytest.mark.parametrize("kind", ["initial-pep", "pep-form", "pep-form-health-visitor", "final-pep"])
def test_a_protected_document_says_how_its_password_comes_and_never_carries_it(kind):
    _, by_mail, _ = render(kind, {**FULL_CONTEXT, "password_by_phone": False})
    assert "separate e-mail" in by_mail
    _, by_phone, html = render(kind, {**FULL_CONTEXT, "password_by_phone": True})
    assert "telephone North Locality Business Support" in by_phone and "telephone" in html
    assert FULL_CONTEXT["password"] not in by_mail + by_phone + html


# --------------------------------------------------------------------- wording per reader
READERS = {
    "designated-teacher": "Dear Designated Teacher,",
    "designated-practitioner": "Dear Designated Practitioner,",
    "designated-person": "Dear Designated Person,",
    "health-visitor": "Dear Health Visitor,",
    "foster-carer": "Dear foster carer,",
    "parent": "Dear parent,",
    "social-worker": "Dear Social Worker,",
    "leaving-care-worker": "Dear Leaving Care Worker,",
    "personal-adviser": "Dear Personal Adviser,",
    "pep-coordinator": "Dear PEP Co-ordinator,",
    "virtual-school": "Dear Virtual School,",
}


@pytest.mark.parametrize("kind", [k for k in KINDS if "recipient_role" in template_variables(k)])
@pytest.mark.parametrize("role", sorted(READERS))
def test_every_message_greets_its_reader_by_their_role(kind, role):
    _, text, html = render(kind, {**FULL_CONTEXT, "recipient_role": role})
    assert text.startswith(READERS[role]) and f"<p>{READERS[role]}</p>" in html
    others = {g for r, g in READERS.items() if r != role}
    assert not [g for g in others if g in text or g in html]


def test_every_kind_names_its_reader():
    assert [k for k in KINDS if "recipient_role" not in template_variables(k)] == []


@pytest.mark.parametrize("role", ["health-visitor", "foster-carer", "parent"])
def test_a_young_child_without_a_setting_is_not_a_child_at_your_setting(role):
    for kind in ("initial-pep", "pep-form-reminder"):
        _, text, html = render(kind, {**FULL_CONTEXT, "recipient_role": role})
        assert "at your setting" not in text + html and "Designated" not in text + html


def test_a_setting_reads_about_its_own_kind():
    _, school, _ = render("initial-pep", {**FULL_CONTEXT, "recipient_role": "designated-teacher"})
    _, college, _ = render("initial-pep", {**FULL_CONTEXT, "recipient_role": "designated-person"})
    assert "A child at your school" in school and "A child at your college" in college


def test_an_unknown_reader_is_refused_not_greeted_wrongly():
    with pytest.raises(TemplateContextError, match="no wording for recipient role"):
        render("pep-form", {**FULL_CONTEXT, "recipient_role": "headteacher"})


@pytest.mark.parametrize("kind", sorted(__import__("pepflow.mail.links", fromlist=["STAFF_KINDS"]).STAFF_KINDS))
def test_every_staff_mail_links_to_the_pep_page(kind):
    """Staff open the PEP from the mail: the link is in the text and the HTML part and
    carries the reference, never a name."""
    _, text, html = render(kind, {**FULL_CONTEXT, "recipient_role": "pep-coordinator"})
    link = FULL_CONTEXT["web_link"]
    assert link in text and f'href="{link}"' in html


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in __import__("pepflow.mail.links", fromlist=["STAFF_KINDS"]).STAFF_KINDS])
def test_mail_to_settings_and_carers_has_no_link_into_the_web(kind):
    """Designated teachers, carers and Health Visitors do not sign in: no link."""
    assert "web_link" not in template_variables(kind)


def test_the_base_address_is_checked_and_a_link_carries_only_the_reference():
    from pepflow.mail.links import check_base_url, pep_link

    assert check_base_url("https://pep.council.example.org/") == "https://pep.council.example.org"
    for bad in ("pep.council.example.org", "ftp://x.example", "https://x.example/?next=1", "https://u:p@x.example"):
        with pytest.raises(ValueError, match="PEP_WEB_BASE_URL"):
            check_base_url(bad)
    with pytest.raises(ValueError, match="https in production"):
        check_base_url("http://pep.council.example.org", production=True)
    assert pep_link("https://pep.example.org", "PEP-C-0001-2026-AUT") == "https://pep.example.org/peps/PEP-C-0001-2026-AUT"


def test_a_query_to_the_school_says_what_is_asked_and_where_in_words():
    _, text, html = render("pep-form-query", FULL_CONTEXT)
    assert "Dear Designated Teacher," in text
    assert "Please put the sixth target in the targets table." in text
    assert "- Targets, an added row" in text and "<li>Attendance (%)</li>" in html
    assert "Friday 18 September 2026" in text and "Monday 12 October 2026" in text
