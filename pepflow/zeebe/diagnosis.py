"""Why the Zeebe gateway cannot be used, in words a person can act on.

gRPC reports every failure to connect as UNAVAILABLE ("failed to connect to all
addresses"), with the TLS error buried in its details, and a token endpoint that fails
as a metadata plugin error. When a call fails, :func:`diagnose` retraces the connection
with the same settings, one layer at a time, and names the first thing that fails:

1. the TCP connection to the gateway (refused, unknown host, timeout): the gateway may
   still be starting - not fatal, the worker keeps trying;
2. the TLS handshake with the gateway, verified as the channel verifies it (the CA
   bundle, or the system store; the gateway's host name): ``certificate verify failed:
   self-signed certificate``, ``Hostname mismatch, certificate is not valid for
   'zeebe.council.example'``, or a gateway that does not speak TLS - fatal, a
   configuration to correct;
3. the OAuth token endpoint, verified with the token CA bundle: its TLS, its reachability,
   and whether it accepts the client credentials (fatal when refused).

Nothing secret is ever part of a message.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from .settings import ZeebeSettings


@dataclass(frozen=True)
class Diagnosis:
    message: str
    # a configuration to correct (TLS, credentials): trying again cannot help
    fatal: bool


class GatewayConfigurationError(ConnectionError):
    """The gateway or its token endpoint cannot be used as configured (TLS, credentials)."""


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def diagnose(settings: ZeebeSettings, *, timeout: float = 5.0) -> Diagnosis | None:
    """The first layer of the connection that fails, or None when the gateway takes a
    TCP connection, completes TLS and (with OAuth) a token is issued."""
    host, port = _host_port(settings.address)
    where = f"the Zeebe gateway at {settings.address}"
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return Diagnosis(f"cannot reach {where}: {exc.strerror or exc}", fatal=False)
    with sock:
        if settings.uses_tls:
            problem = _tls(sock, host, settings, where)
            if problem is not None:
                return problem
        elif _speaks_tls(sock, host):
            return Diagnosis(f"{where} speaks TLS: set PEP_ZEEBE_TLS=true (and PEP_ZEEBE_CA_BUNDLE for a private CA)", fatal=True)
    if settings.uses_oauth:
        return _token(settings, timeout)
    return None


def _tls(sock: socket.socket, host: str, settings: ZeebeSettings, where: str) -> Diagnosis | None:
    context = ssl.create_default_context(cafile=str(settings.ca_bundle) if settings.ca_bundle else None)
    context.set_alpn_protocols(["h2"])
    trust = f"PEP_ZEEBE_CA_BUNDLE {settings.ca_bundle}" if settings.ca_bundle else "the system's trusted CAs"
    try:
        with context.wrap_socket(sock, server_hostname=host):
            return None
    except ssl.SSLCertVerificationError as exc:
        return Diagnosis(f"TLS to {where} failed: certificate verify failed: {exc.verify_message} (trusting {trust})", fatal=True)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        hint = " - does the gateway speak TLS? (PEP_ZEEBE_TLS)" if "WRONG_VERSION_NUMBER" in str(exc) or "record layer" in str(exc) else ""
        return Diagnosis(f"TLS to {where} failed: {reason}{hint}", fatal=True)
    except OSError as exc:  # closed during the handshake
        return Diagnosis(f"TLS to {where} failed: the connection closed during the handshake ({exc})", fatal=True)


def _speaks_tls(sock: socket.socket, host: str) -> bool:
    """A plaintext channel to a TLS gateway times out or fails vaguely: ask it for a
    TLS handshake (nothing verified) to tell the person which setting is wrong."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        probe = socket.create_connection(sock.getpeername()[:2], timeout=sock.gettimeout())
    except OSError:
        return False
    try:
        with context.wrap_socket(probe, server_hostname=host):
            return True
    except (ssl.SSLError, OSError):
        return False
    finally:
        probe.close()


def _token(settings: ZeebeSettings, timeout: float) -> Diagnosis | None:
    import requests
    from oauthlib.oauth2 import OAuth2Error

    from .channel import oauth_session

    url = settings.authorization_server_url
    session, fetch = oauth_session(settings, timeout=timeout)
    trust = f"the CA bundle {settings.token_verify}" if settings.token_verify else "the system's trusted CAs"
    try:
        fetch()
    except requests.exceptions.SSLError as exc:
        return Diagnosis(f"TLS to the token endpoint {url} failed: {_ssl_reason(exc)} (trusting {trust})", fatal=True)
    except requests.exceptions.ConnectionError as exc:
        return Diagnosis(f"cannot reach the token endpoint {url}: {_root(exc)}", fatal=False)
    except requests.exceptions.Timeout:
        return Diagnosis(f"the token endpoint {url} did not answer in {timeout:.0f} s", fatal=False)
    except OAuth2Error as exc:
        return Diagnosis(
            f"the token endpoint {url} refused the client credentials of PEP_ZEEBE_CLIENT_ID: "
            f"{exc.error}{': ' + exc.description if exc.description else ''}",
            fatal=True,
        )
    except ValueError as exc:  # not a token response (a wrong URL answering HTML)
        return Diagnosis(f"the token endpoint {url} did not answer with a token: {exc}", fatal=True)
    finally:
        session.close()
    return None


def _root(exc: BaseException) -> str:
    while exc.__context__ is not None and exc.__cause__ is None:
        exc = exc.__context__
    seen = exc
    while getattr(seen, "__cause__", None) is not None:
        seen = seen.__cause__
    return str(seen.args[0] if getattr(seen, "args", None) else seen)


def _ssl_reason(exc: BaseException) -> str:
    """The TLS error inside what requests/urllib3 wrap around it."""
    queue: list[BaseException] = [exc]
    seen: set[int] = set()
    innermost_ssl: ssl.SSLError | None = None
    while queue:
        node = queue.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {node.verify_message}"
        if isinstance(node, ssl.SSLError):
            innermost_ssl = node
        queue += [a for a in getattr(node, "args", ()) if isinstance(a, BaseException)]
        queue += [e for e in (node.__cause__, node.__context__, getattr(node, "reason", None)) if isinstance(e, BaseException)]
    if innermost_ssl is not None:
        return innermost_ssl.reason or str(innermost_ssl)
    return str(exc)
