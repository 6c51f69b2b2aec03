"""A process that queues and sends mail, to be killed at random points by
``test_outbox_crash.py``. It queues ``count`` messages (idempotently: a key already
queued by an earlier, killed run is skipped) a chunk at a time, flushing the outbox
after each chunk, and prints ``ready`` once it is about to start and ``done`` at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

from pepflow.clock import SystemClock
from pepflow.mail.message import Attachment, OutgoingMail
from pepflow.mail.transport import SmtpMailer, SmtpSettings
from pepflow.mail.outbox import OutboxSender, enqueue
from pepflow.store import RecordsStore


PREFIX = "crash-child-"


SENDER = "bso.north@council.example"


def mail_for(i: int) -> OutgoingMail:
    return OutgoingMail(
        idempotency_key=key(i), sender=SENDER, recipients=(f"dt{i}@school.example",),
        subject=f"PEP form PEP-C-{i:04d}-2026-AUT", text_body="Please find the PEP form attached.\n",
        attachments=(Attachment(filename="form.docx", data=b"x" * 2000),),
    )


def key(i: int) -> str:
    return f"crash-test:{i:04d}:dt{i}@school.example"


async def main(config: dict) -> None:
    store = RecordsStore(config["url"], SystemClock())
    name = f"{PREFIX}{uuid.uuid4().hex[:8]}"
    # what ``pep run`` does on start: claims of a run that died are free again
    store.release_orphaned_mail(PREFIX, except_owner=name)
    settings = SmtpSettings(**config["smtp"])
    async with SmtpMailer(settings) as mailer:
        sender = OutboxSender(store, mailer, name=name, batch_size=5)
        print("ready", flush=True)
        count, chunk = config["count"], config["chunk"]
        for start in range(0, count, chunk):
            for i in range(start, min(count, start + chunk)):
                if store.mail_entry(key(i)) is None:
                    enqueue(store, mail_for(i), kind="pep-form")
            await sender.flush()
        await sender.flush()
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
