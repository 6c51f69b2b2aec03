"""Request bodies are limited before anything reads them.

A pure ASGI middleware: the declared ``Content-Length`` is checked first (413 at once),
and a body without one (chunked) is counted as it arrives and cut off at the limit, so
nothing larger than the limit is ever parsed, spooled to disk or held in memory - not
the sign-in form of someone who is not signed in, not a multipart upload before the
CSRF check. The limit depends on who asks and where:

* not signed in (no valid session cookie): ``ANONYMOUS`` (the sign-in and reset forms);
* signed in: ``SIGNED_IN`` for JSON (task completions, drafts, allocations);
* a returned school form upload: ``UPLOAD`` (the 10 MB file and its multipart framing).
"""

from __future__ import annotations

import json

ANONYMOUS = 16 * 1024
SIGNED_IN = 256 * 1024
UPLOAD = 10 * 1024 * 1024 + 64 * 1024
UPLOAD_SUFFIXES = ("/school-form",)


class BodyLimit:
    def __init__(self, app, *, is_signed_in) -> None:
        self.app = app
        self.is_signed_in = is_signed_in  # (cookie header value) -> bool, signature checked only

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = self._limit(scope["path"], headers.get("cookie", ""))
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await _too_large(send, limit)
                return
        received = 0
        refused = False

        async def limited_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _BodyTooLarge()
            return message

        state = {"sent": False, "replaced": False}

        async def tracking_send(message):
            # a framework that caught our refusal answers on its own (FastAPI: 400 "error
            # parsing the body"): the answer is 413, whatever it would have said
            if refused:
                if message["type"] == "http.response.start" and not state["sent"]:
                    state["sent"] = state["replaced"] = True
                    await _too_large(send, limit)
                return
            if message["type"] == "http.response.start":
                state["sent"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not state["sent"]:
                await _too_large(send, limit)
        except Exception:
            if refused and not state["sent"]:  # a parser that wrapped our refusal in its own error
                await _too_large(send, limit)
                return
            raise

    def _limit(self, path: str, cookies: str) -> int:
        if not self.is_signed_in(cookies):
            return ANONYMOUS
        if path.endswith(UPLOAD_SUFFIXES):
            return UPLOAD
        return SIGNED_IN


class _BodyTooLarge(Exception):
    pass


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"detail": f"the request is larger than {limit // 1024} KB, the limit here"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
