from __future__ import annotations

import asyncio
import email
import email.policy
from pathlib import Path

import aiosmtplib
import pytest

from pepflow.mail import (
    InsecureServerError,
    LocalOutboxServer,
    Mailer,
    PermanentMailError,
    RecordingMailer,
    SmtpMailer,
    SmtpSettings,
    TransientMailError,
)
from pepflow.mail.local_outbox import SmtpServerController, ensure_certificate

from .servers import REFERENCE, ScriptedHandler, free_port, running, sample_mail


async def send_once(settings: SmtpSettings, mail):
    async with SmtpMailer(settings) as mailer:
        return await mailer.send(mail)


async def test_sends_through_the_local_outbox_with_starttls_and_auth(outbox):
    data = bytes(range(256)) * 100
    mail = sample_mail(attachment=data)
    async with SmtpMailer(outbox.smtp_settings()) as mailer:
        result = await mailer.send(mail)

    assert result.accepted == ("dt@school.example",)
    assert result.message_id == mail.message_id
    [path] = outbox.message_files()
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert REFERENCE in message["Subject"]
    assert message["Message-ID"] == mail.message_id
    assert message["X-Envelope-To"] == "dt@school.example"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{REFERENCE}.docx"
    assert attachment.get_content() == data


async def test_wrong_password_is_a_permanent_error(outbox):
    settings = outbox.smtp_settings().model_copy(update={"password": "wrong"})
    settings = SmtpSettings.model_validate(settings.model_dump() | {"password": "wrong"})
    async with SmtpMailer(settings) as mailer:
        with pytest.raises(PermanentMailError, match="login refused") as excinfo:
            await mailer.send(sample_mail())
    assert excinfo.value.code == 535
    assert outbox.message_files() == []


async def test_server_without_starttls_is_refused_and_nothing_is_sent(tmp_path):
    handler = ScriptedHandler()
    with running(SmtpServerController(handler, hostname="127.0.0.1", port=0)) as plain:
        settings = SmtpSettings(
            host="127.0.0.1", port=plain.port, sender="pep-service@council.example",
            ca_bundle=ensure_certificate(tmp_path)[0], timeout=5, local_hostname="localhost",
        )
        async with SmtpMailer(settings) as mailer:
            with pytest.raises(InsecureServerError, match="STARTTLS"):
                await mailer.send(sample_mail())
    assert handler.peers, "the client did reach the server"
    assert handler.mail_from == []
    assert handler.rcpt_to == []
    assert handler.data == []


async def test_starttls_with_login_is_never_attempted_in_clear(tmp_path):
    """With credentials configured, a plain server must not see AUTH either."""
    handler = ScriptedHandler()
    seen_auth: list[str] = []

    async def handle_AUTH(server, session, envelope, args):
        seen_auth.append(args)
        return "535 no"

    handler.handle_AUTH = handle_AUTH  # type: ignore[attr-defined]
    with running(SmtpServerController(handler, hostname="127.0.0.1", port=0,
                                auth_require_tls=False)) as plain:
        settings = SmtpSettings(
            host="127.0.0.1", port=plain.port, sender="pep-service@council.example",
            username="user", password="secret", timeout=5, local_hostname="localhost",
        )
        with pytest.raises(InsecureServerError):
            await send_once(settings, sample_mail())
    assert seen_auth == []
    assert handler.data == []


async def test_untrusted_certificate_is_refused(scripted_server, tmp_path):
    handler, settings = scripted_server()
    system_store = settings.model_copy(update={"ca_bundle": None})
    other_cert, _ = ensure_certificate(tmp_path / "someone-else")
    pinned_elsewhere = settings.model_copy(update={"ca_bundle": other_cert})

    for untrusted in (system_store, pinned_elsewhere):
        with pytest.raises(InsecureServerError, match="certificate verify failed|TLS failed"):
            await send_once(untrusted, sample_mail())
    assert handler.mail_from == []
    assert handler.data == []


async def test_trusted_certificate_for_another_host_is_refused(scripted_server, tmp_path):
    other_host = tmp_path / "other-host"
    ensure_certificate(other_host, dns_names=("mail.other.example",), ip_addresses=())
    handler, settings = scripted_server(cert_dir=other_host)
    assert settings.ca_bundle == other_host / "cert.pem"  # pinned, yet the name is wrong
    with pytest.raises(InsecureServerError, match="127.0.0.1|mismatch|TLS failed"):
        await send_once(settings, sample_mail())
    assert handler.data == []


async def test_implicit_tls(scripted_server):
    handler, settings = scripted_server(implicit_tls=True)
    async with SmtpMailer(settings) as mailer:
        result = await mailer.send(sample_mail())
    assert result.accepted == ("dt@school.example",)
    assert len(handler.data) == 1


async def test_recipient_refused_550_is_permanent_with_the_server_reason(scripted_server):
    handler, settings = scripted_server(
        ScriptedHandler(rcpt_replies={"gone@school.example": "550 5.1.1 No such mailbox here"})
    )
    async with SmtpMailer(settings) as mailer:
        with pytest.raises(PermanentMailError, match="No such mailbox here") as excinfo:
            await mailer.send(sample_mail(recipients=("gone@school.example",)))
        error = excinfo.value
        assert error.code == 550
        assert error.reason == "5.1.1 No such mailbox here"
        assert [(r.address, r.code) for r in error.refused] == [("gone@school.example", 550)]
        assert error.accepted == ()
        # the connection is still usable after the refusal
        await mailer.send(sample_mail(key="next"))
        assert mailer.connections_opened == 1
    assert len(handler.data) == 1


async def test_one_of_several_recipients_refused_is_reported(scripted_server):
    handler, settings = scripted_server(
        ScriptedHandler(rcpt_replies={"gone@school.example": "550 5.1.1 No such mailbox here"})
    )
    mail = sample_mail(recipients=("dt@school.example", "gone@school.example", "sw@council.example"))
    async with SmtpMailer(settings) as mailer:
        with pytest.raises(PermanentMailError, match="gone@school.example") as excinfo:
            await mailer.send(mail)
    error = excinfo.value
    assert error.accepted == ("dt@school.example", "sw@council.example")
    assert [(r.address, r.code, r.reason) for r in error.refused] == [
        ("gone@school.example", 550, "5.1.1 No such mailbox here")
    ]
    assert len(handler.data) == 1  # the others did receive it


async def test_451_is_transient(scripted_server):
    _, settings = scripted_server(
        ScriptedHandler(rcpt_replies={"dt@school.example": "451 4.7.1 Greylisted, try later"})
    )
    with pytest.raises(TransientMailError, match="Greylisted") as excinfo:
        await send_once(settings, sample_mail())
    assert excinfo.value.code == 451


async def test_451_after_data_is_transient_and_554_permanent(scripted_server):
    _, busy = scripted_server(ScriptedHandler(data_reply="451 4.3.0 Queue full"))
    _, rejecting = scripted_server(ScriptedHandler(data_reply="554 5.6.0 Message rejected"))
    with pytest.raises(TransientMailError, match="Queue full"):
        await send_once(busy, sample_mail())
    with pytest.raises(PermanentMailError, match="Message rejected") as excinfo:
        await send_once(rejecting, sample_mail())
    assert excinfo.value.reason == "5.6.0 Message rejected"


async def test_connection_refused_is_transient():
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), sender="pep@council.example",
                            timeout=5, local_hostname="localhost")
    with pytest.raises(TransientMailError, match="cannot connect"):
        await send_once(settings, sample_mail())


async def test_silent_server_times_out_as_transient():
    writers: list[asyncio.StreamWriter] = []

    async def never_greets(reader, writer):
        writers.append(writer)

    server = await asyncio.start_server(never_greets, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = SmtpSettings(host="127.0.0.1", port=port, sender="pep@council.example",
                                timeout=0.3, local_hostname="localhost")
        with pytest.raises(TransientMailError, match="[Tt]imed out"):
            await send_once(settings, sample_mail())
    finally:
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()


async def test_fifty_messages_share_one_connection(scripted_server):
    handler, settings = scripted_server()
    async with SmtpMailer(settings) as mailer:
        for n in range(50):
            await mailer.send(sample_mail(key=f"batch:{n}"))
    assert len(handler.data) == 50
    assert len(handler.peers) == 1
    assert mailer.connections_opened == 1


async def test_concurrent_sends_share_one_connection(outbox):
    async with SmtpMailer(outbox.smtp_settings()) as mailer:
        await asyncio.gather(*(mailer.send(sample_mail(key=f"c:{n}")) for n in range(20)))
        assert mailer.connections_opened == 1
    assert len(outbox.message_files()) == 20


async def test_reconnects_when_the_server_restarted(tmp_path):
    state = tmp_path / "state"
    first = LocalOutboxServer(state, password="fixed-for-test")
    first.start()
    port = first.port
    mailer = SmtpMailer(first.smtp_settings())
    try:
        await mailer.send(sample_mail(key="before"))
        first.stop()
        await asyncio.sleep(0.05)  # let the client see the connection close
        with LocalOutboxServer(state, port=port, password="fixed-for-test") as second:
            await mailer.send(sample_mail(key="after"))
            assert len(second.message_files()) == 2
        assert mailer.connections_opened == 2
    finally:
        first.stop()
        await mailer.close()


async def test_recording_mailer_is_a_mailer():
    recorder = RecordingMailer()
    assert isinstance(recorder, Mailer)
    assert isinstance(SmtpMailer(SmtpSettings(host="x.example", sender="a@b.example")), Mailer)
    result = await recorder.send(sample_mail())
    assert result.accepted == ("dt@school.example",)
    assert recorder.to("DT@school.example") == [sample_mail()]

    recorder.fail_with.append(TransientMailError("down"))
    with pytest.raises(TransientMailError):
        await recorder.send(sample_mail(key="2"))
    assert len(recorder.sent) == 1


def test_settings_have_no_plain_option_and_need_both_credentials():
    with pytest.raises(ValueError):
        SmtpSettings(host="h.example", sender="a@b.example", security="none")
    with pytest.raises(ValueError, match="together"):
        SmtpSettings(host="h.example", sender="a@b.example", username="u")
    assert SmtpSettings(host="h.example", sender="a@b.example").effective_port == 587
    assert SmtpSettings(host="h.example", sender="a@b.example", security="tls").effective_port == 465
    assert "secret" not in repr(
        SmtpSettings(host="h.example", sender="a@b.example", username="u", password="secret")
    )


async def test_plain_client_is_refused_by_the_local_outbox(outbox):
    """The outbox itself insists on STARTTLS, whatever the client does."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=outbox.port, start_tls=False,
                             local_hostname="localhost", timeout=5)
    async with client:
        with pytest.raises(aiosmtplib.SMTPResponseException) as excinfo:
            await client.sendmail("a@b.example", ["c@d.example"], b"Subject: x\r\n\r\nx\r\n")
    assert excinfo.value.code == 530
    assert outbox.message_files() == []


async def test_the_outboxs_own_process_ends_when_its_caller_is_gone(tmp_path):
    server = LocalOutboxServer(tmp_path / "state", own_process=True)
    server.start()
    child = server._child
    async with SmtpMailer(server.smtp_settings()) as mailer:
        await mailer.send(sample_mail(key="stored by the child"))
    assert len(server.message_files()) == 1
    child.conn.close()  # as when the product's process dies: no "stop" ever comes
    child.process.join(10)
    assert child.process.exitcode == 0
    server._child = None


async def test_an_outbox_process_that_cannot_listen_says_why(tmp_path):
    with LocalOutboxServer(tmp_path / "first", own_process=True) as first:
        taken = LocalOutboxServer(tmp_path / "second", port=first.port, own_process=True)
        with pytest.raises(RuntimeError, match="the local outbox could not start: .*(in use|Errno)"):
            taken.start()
        assert taken._child is None


async def test_the_outboxs_own_process_loads_only_the_server(tmp_path):
    """Its process holds aiosmtpd and the standard library, not the mail package's
    other libraries: no pydantic, no cryptography (their compiled parts would be
    mapped into it), so it costs about 24 MiB beside the product, not 48."""
    with LocalOutboxServer(tmp_path / "state", own_process=True) as server:
        async with SmtpMailer(server.smtp_settings()) as mailer:
            await mailer.send(sample_mail(key="stored by the slim child"))
        assert len(server.message_files()) == 1
        maps = Path(f"/proc/{server._child.pid}/maps").read_text()
    assert "/_ssl." in maps  # the check can see a compiled module: TLS is loaded
    for library in ("pydantic_core", "cryptography", "markupsafe"):
        assert f"/{library}/" not in maps, f"the outbox's process loaded {library}"


@pytest.mark.parametrize(("cores", "setting", "own"), [
    (2, None, True), (4, None, True), (1, None, False), (2, "false", False), (1, "true", True),
])
async def test_the_apps_local_outbox_has_its_own_process_where_there_is_another_core(
        tmp_path, monkeypatch, cores, setting, own):
    """By default the outbox's TLS and SMTP work go to a process of their own when the
    machine has a core for it; PEP_OUTBOX_PROCESS decides when it is set."""
    from pepflow.app import open_app
    from pepflow.clock import SystemClock
    from pepflow.config import AppSettings

    monkeypatch.delenv("PEP_OUTBOX_PROCESS", raising=False)
    if setting is not None:
        monkeypatch.setenv("PEP_OUTBOX_PROCESS", setting)
    monkeypatch.setattr("pepflow.config.os.cpu_count", lambda: cores)
    settings = AppSettings(data_dir=tmp_path, smtp_host=None)
    async with open_app(settings, SystemClock()) as app:
        assert app.outbox is not None and app.outbox.own_process is own
        assert (app.outbox._child is not None) is own
        async with SmtpMailer(app.outbox.smtp_settings()) as mailer:
            await mailer.send(sample_mail(key=f"outbox on {cores} cores"))
        assert len(app.outbox.message_files()) == 1
