"""Benchmark: 2,000 messages with a 40 KB attachment through the outbox sender.

The messages are queued in a records store (SQLite, as the embedded product runs) and
delivered by :class:`pepflow.mail.outbox.OutboxSender` through ``SmtpMailer``\\ s that
keep their connections open, to the product's own aiosmtpd server (STARTTLS and AUTH
required, every message filed as an ``.eml``), running in a separate process so the
client and the server have the cores (``--server-processes`` aiosmtpd processes, one
port each, the connections spread over them: aiosmtpd reads DATA line by line in
Python and is the slowest part). Every figure is printed on its own line as
``name: value unit``.

    .venv/bin/python bench/mail_bench.py [--messages 2000] [--connections 4] [--mark-every 1]

First, the encoding of a message with a protected file, as casework queues one: the
CPU of this process per message when it encodes it itself (``encode_here_cpu``)
against when a document worker does (``DocumentPool.encode``: ``encode_in_worker_cpu``
is what is left here, the pickling both ways included), and the ratio. On a large
council's year the product's one interpreter is the limit, so that difference is what
counts, not the wall time of one message.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PASSWORD = "benchmark-password-0123456789"
SENDER = "pep.business.support@council.example.org"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(state_dir: str, port: int, index: int, ready, stop) -> None:
    from pepflow.mail import LocalOutboxServer
    outbox = Path(state_dir) / f"outbox-{index}"
    with LocalOutboxServer(Path(state_dir), outbox_dir=outbox, port=port, password=PASSWORD):
        ready.set()
        stop.wait()


def _sample(i: int, attachment: bytes):
    from pepflow.mail import Attachment, OutgoingMail

    return OutgoingMail(
        idempotency_key=f"bench:{i:05d}", sender=SENDER, sender_name="Business support",
        recipients=(f"dt{i % 97}@school{i % 13}.example",),
        subject=f"PEP form PEP-C-{i:04d}-2026-AUT: please return by Monday 21 September 2026",
        text_body="Please find attached the PEP form.\n" * 20,
        html_body="<p>Please find attached the PEP form.</p>\n" * 20,
        attachments=(Attachment(filename=f"PEP-C-{i:04d}-2026-AUT.docx", data=attachment),),
    )


def _encoding(count: int) -> None:
    from pepflow.documents.spin_pool import DocumentPool
    from pepflow.mail.message import message_bytes

    mails = [_sample(i, os.urandom(40 * 1024)) for i in range(count)]
    for mail in mails[:10]:
        message_bytes(mail)
    cpu = time.process_time()  # every thread of this process: the pool's feeder thread too
    for mail in mails:
        message_bytes(mail)
    here = (time.process_time() - cpu) / count
    with DocumentPool(1) as pool:
        for mail in mails[:10]:
            pool.encode(message_bytes, mail)
        cpu, wall = time.process_time(), time.perf_counter()
        for mail in mails:
            pool.encode(message_bytes, mail)
        there, wall = (time.process_time() - cpu) / count, (time.perf_counter() - wall) / count
    print(f"encode_here_cpu: {here * 1000:.2f} ms")
    print(f"encode_in_worker_cpu: {there * 1000:.2f} ms")
    print(f"encode_in_worker_wall: {wall * 1000:.2f} ms")
    print(f"encode_in_worker_cpu_ratio: {there / here:.2f} x")


async def _bench(args: argparse.Namespace, work: Path) -> None:
    from pepflow.clock import SystemClock
    from pepflow.mail import SmtpMailer, SmtpSettings
    from pepflow.mail.local_outbox import ensure_certificate
    from pepflow.mail.outbox import OutboxSender, enqueue
    from pepflow.store import RecordsStore, migrate

    url = f"sqlite:///{work / 'bench.sqlite3'}"
    migrate(url)
    store = RecordsStore(url, SystemClock())
    state = work / "server"
    cert, _key = ensure_certificate(state)
    ports = [_free_port() for _ in range(args.server_processes)]
    stop = multiprocessing.Event()
    servers = []
    for index in range(args.server_processes):
        ready = multiprocessing.Event()
        server = multiprocessing.Process(
            target=_serve, args=(str(state), ports[index], index, ready, stop), daemon=True
        )
        server.start()
        if not ready.wait(30):
            raise SystemExit("the SMTP server did not start")
        servers.append(server)
    settings = SmtpSettings(
        host="127.0.0.1", port=ports[0], security="starttls", username="pepflow", password=PASSWORD,
        ca_bundle=cert, timeout=30, sender=SENDER, local_hostname="localhost",
    )
    attachment = os.urandom(40 * 1024)
    started = time.perf_counter()
    for i in range(args.messages):
        enqueue(store, _sample(i, attachment), kind="pep-form")
    queued = time.perf_counter() - started

    # connections spread over the server processes (one port each)
    mailers = [
        SmtpMailer(settings.model_copy(update={"port": ports[i % len(ports)]}))
        for i in range(args.connections)
    ]
    sender = OutboxSender(store, mailers, batch_size=args.batch, mark_every=args.mark_every)
    started, cpu = time.perf_counter(), time.process_time()
    result = await sender.flush()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await sender.close()
    stop.set()
    for server in servers:
        server.join(30)
    received = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Message-ID"]
        for p in sorted(state.glob("outbox-*/*.eml"))
    ]
    store.close()
    print(f"messages: {args.messages} messages")
    print(f"attachment: {len(attachment) // 1024} KB")
    print(f"connections: {sum(m.connections_opened for m in mailers)} connections")
    print(f"server_processes: {args.server_processes} processes")
    print(f"queue_elapsed: {queued:.2f} s")
    print(f"queue_throughput: {args.messages / queued:.0f} messages/s")
    print(f"sent: {result.sent} messages")
    print(f"failed: {result.failed + result.retried} messages")
    print(f"received: {len(received)} messages")
    print(f"duplicates: {len(received) - len(set(received))} messages")
    print(f"elapsed: {elapsed:.2f} s")
    print(f"sender_cpu: {cpu:.2f} s")
    print(f"sender_cpu_per_message: {cpu / max(1, result.sent) * 1000:.2f} ms")
    print(f"throughput: {result.sent / elapsed:.0f} messages/s")
    print(f"end_to_end_throughput: {result.sent / (elapsed + queued):.0f} messages/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100, help="messages claimed at a time")
    parser.add_argument(
        "--server-processes", type=int, default=2,
        help="aiosmtpd processes sharing the port (aiosmtpd reads DATA line by line in Python)",
    )
    parser.add_argument("--mark-every", type=int, default=1, help="record 'sent' after this many")
    parser.add_argument("--encodings", type=int, default=300, help="messages encoded here, then in a worker (0: skip)")
    args = parser.parse_args()
    if args.encodings < 0:
        parser.error("--encodings cannot be negative (0 skips the encoding figures)")
    if args.encodings:
        _encoding(args.encodings)
    with tempfile.TemporaryDirectory(prefix="pep-mail-bench-") as tmp:
        asyncio.run(_bench(args, Path(tmp)))


if __name__ == "__main__":
    main()
