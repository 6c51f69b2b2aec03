"""Issue 11's smaller points: limits before parsing, the account lifecycle, passwords,
sign-in timing and wording, production cookies and HSTS."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from pepflow.web import WebSettings, create_app
from pepflow.web import accounts as accounts_module
from pepflow.web.accounts import AccountError, password_problem
from pepflow.web.limits import ANONYMOUS, SIGNED_IN

from .conftest import PASSWORD, SECRET, Session, sign_in


# ------------------------------------------------------------------ limits
def test_an_anonymous_large_body_is_refused_before_anything_reads_it(world, monkeypatch):
    read = []
    from starlette.requests import Request

    original = Request.form

    def spy(self, *a, **k):
        read.append(self.url.path)
        return original(self, *a, **k)

    monkeypatch.setattr(Request, "form", spy)
    with TestClient(world.app) as client:
        big = b"a" * (ANONYMOUS + 1)
        response = client.post("/sign-in", content=big, headers={"content-type": "multipart/form-data; boundary=x"})
        assert response.status_code == 413
        # without a Content-Length (chunked): counted as it arrives, cut off at the limit
        response = client.post("/api/v1/users", content=iter([b"a" * 8192] * 4), headers={"content-type": "application/json"})
        assert response.status_code == 413
    assert read == []  # the CSRF check never parsed (or spooled) the body


def test_signed_in_limits_and_drafts(world, session_for):
    world.child_looked_after()
    sw = session_for("st-0001")
    [task] = world.engine.user_tasks()
    huge = {"variables": {"venueCode": "x" * (SIGNED_IN + 10)}}
    assert sw.put(f"/api/v1/user-tasks/{task.user_task_key}/draft", json=huge).status_code == 413
    # a draft of the right fields but too large for a draft is refused too (64 KB)
    assert sw.put(f"/api/v1/user-tasks/{task.user_task_key}/draft",
                  json={"variables": {"inviteeIds": ["ES-0001"] * 8000}}).status_code in (413, 422)


def test_pep_form_returned_checks_the_size_before_reading(tmp_path):
    from pepflow.limits import read_limited

    path = tmp_path / "big.docx"
    with path.open("wb") as handle:
        handle.seek(2 * 1024 * 1024 * 1024)  # a sparse 2 GiB file: reading it would take 2 GiB
        handle.write(b"\0")
    with pytest.raises(ValueError, match="at most 10240 KB"):
        read_limited(path, 10 * 1024 * 1024, "a returned form")


# ------------------------------------------------------------------ account lifecycle
def test_administrator_disables_enables_resets_and_ends_sessions(world, session_for):
    admin = session_for("st-0030")
    sw = session_for("st-0001")
    account = world.accounts.by_username("st-0001")
    assert sw.get("/api/v1/me").status_code == 200
    assert admin.post(f"/api/v1/users/{account.id}/disable").status_code == 204
    assert sw.get("/api/v1/me").status_code == 401  # at once: no cache of who is signed in
    with TestClient(world.app) as client:
        assert "error=failed" in sign_in(client, "st-0001").headers["location"]
    assert admin.post(f"/api/v1/users/{account.id}/enable").status_code == 204
    again = Session(world.app, "st-0001")
    assert admin.delete(f"/api/v1/users/{account.id}/sessions").status_code == 204
    assert again.get("/api/v1/me").status_code == 401
    again.close()
    reset = admin.post(f"/api/v1/users/{account.id}/password-reset").json()
    assert reset["link"].endswith("#" + reset["code"])  # never in a URL a server logs
    with TestClient(world.app) as client:
        page = client.get("/reset-password")
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        weak = client.post("/reset-password", data={"code": reset["code"], "password": "password1234",
                                                    "password2": "password1234", "csrf_token": token})
        assert "too common" in weak.text
        new = "violet-lantern-orbit-47"
        token = re.search(r'name="csrf_token" value="([^"]+)"', weak.text).group(1)
        done = client.post("/reset-password", data={"code": reset["code"], "password": new, "password2": new,
                                                    "csrf_token": token}, follow_redirects=False)
        assert done.headers["location"] == "/sign-in?notice=password-changed"
        assert sign_in(client, "st-0001", new).headers["location"] == "/"
    with TestClient(world.app) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/reset-password").text).group(1)
        used = client.post("/reset-password", data={"code": reset["code"], "password": new + "x", "password2": new + "x",
                                                    "csrf_token": token})
        assert "not valid" in used.text  # once only
    actions = [e.action for e in world.store.audit_entries("account", "st-0001")]
    assert {"disable", "enable", "revoke-sessions", "password-reset-issued", "password-reset"} <= set(actions)
    assert admin.post(f"/api/v1/users/{world.accounts.by_username('st-0030').id}/disable").status_code == 409


def test_cli_account_lifecycle_is_audited_as_the_os_user(tmp_path, monkeypatch):
    import getpass

    from typer.testing import CliRunner

    from pepflow.cli import app
    from pepflow.store import RecordsStore
    from pepflow.clock import SystemClock
    from pepflow.web.accounts import Accounts

    monkeypatch.setenv("PEP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PEP_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["import", "all", "pepflow/sample_data"]).exit_code == 0
    url = f"sqlite:///{(tmp_path / 'pep.sqlite3').resolve()}"
    accounts = Accounts(url, SystemClock())
    accounts.add("st-0001", password=PASSWORD, staff_id="ST-0001")
    for command in (["user", "disable", "st-0001"], ["user", "enable", "st-0001"],
                    ["user", "end-sessions", "st-0001"], ["user", "reset-password", "st-0001"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    assert "one-time reset code" in result.output
    store = RecordsStore(url, SystemClock())
    entries = store.audit_entries("account", "st-0001")
    assert [e.action for e in entries] == ["disable", "enable", "revoke-sessions", "password-reset-issued"]
    assert {e.actor_id for e in entries} == {f"os:{getpass.getuser()}"}
    store.close()
    accounts.close()


# ------------------------------------------------------------------ passwords and sign-in
@pytest.mark.parametrize("password", [" " * 12, "password1234", "Password1234!", "qwertyuiopasdf", "aaaaaaaaaaaaaaa",
                                      "st-0001-secret-ok"])
def test_common_and_guessable_passwords_are_refused(password):
    assert password_problem(password, "st-0001") is not None


def test_a_long_uncommon_password_is_fine_without_composition_rules():
    assert password_problem("violet lantern orbit paper", "st-0001") is None


def test_every_sign_in_failure_does_the_same_work(world, monkeypatch):
    """Unknown user, no password, wrong password, locked, disabled: one hash check each,
    so the time does not tell them apart (no timing in the test: the work is counted)."""
    calls = []
    real = accounts_module._hasher

    class Counting:
        def verify(self, hash_, password):
            calls.append(1)
            return real.verify(hash_, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(accounts_module, "_hasher", Counting())
    accounts = world.accounts
    sso = accounts.add("sso-only", password=None)
    disabled = accounts.by_username("st-0002")
    accounts.set_active(disabled.id, False)
    for _ in range(5):
        accounts.authenticate("st-0003", "wrong-password-xyz")
    cases = [("nobody", "x"), ("sso-only", "x"), ("st-0001", "wrong-password-xyz"), ("st-0003", PASSWORD),
             ("st-0002", PASSWORD)]
    for username, password in cases:
        calls.clear()
        account, reason = accounts.authenticate(username, password)
        assert account is None and len(calls) == 1, (username, reason)
    assert sso.has_password is False


def test_the_sign_in_page_shows_no_text_from_the_query_string(world):
    with TestClient(world.app) as client:
        page = client.get("/sign-in?error=Your%20account%20is%20suspended%2C%20call%2001234")
        assert "suspended" not in page.text and "01234" not in page.text
        assert "check your username" in client.get("/sign-in?error=failed").text


def test_production_cookies_are_secure_and_hsts_is_sent(world):
    app = create_app(world.backend, WebSettings(secret_key=SECRET, production=True, _env_file=None))
    with TestClient(app, base_url="https://pep.council.example") as client:
        page = client.get("/sign-in")
        assert page.headers["strict-transport-security"].startswith("max-age=31536000")
        assert "secure" in page.headers["set-cookie"].lower()
    with TestClient(world.app) as client:  # development: neither
        assert "strict-transport-security" not in client.get("/sign-in").headers


def test_new_accounts_get_the_password_rules(world):
    with pytest.raises(AccountError, match="common"):
        world.accounts.add("someone", password="Password1234!")
