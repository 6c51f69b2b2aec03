"""The gRPC channel to a Zeebe gateway, as :class:`ZeebeSettings` describe it."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import grpc
from oauthlib import oauth2
from pyzeebe import create_insecure_channel, create_secure_channel
from pyzeebe.channel.channel_options import get_channel_options
from pyzeebe.credentials.oauth import OAuth2MetadataPlugin
from requests_oauthlib import OAuth2Session

from .settings import ZeebeSettings

#: how long a token request may take (the gateway call waits for it)
TOKEN_TIMEOUT_SECONDS = 10.0

# Zeebe's gateway closes idle connections after a while; keepalive pings (pyzeebe's
# default of 45 s) keep a long-poll alive through proxies and load balancers.
_KEEPALIVE = (("grpc.keepalive_time_ms", 45_000),)


def channel_credentials(settings: ZeebeSettings) -> grpc.ChannelCredentials:
    if settings.ca_bundle is not None:
        return grpc.ssl_channel_credentials(root_certificates=settings.ca_bundle.read_bytes())
    return grpc.ssl_channel_credentials()


def oauth_session(settings: ZeebeSettings, *, timeout: float = TOKEN_TIMEOUT_SECONDS) -> tuple[OAuth2Session, Callable[[], dict]]:
    """An OAuth 2.0 client-credentials session for the token endpoint, verified with
    the token CA bundle (``PEP_ZEEBE_TOKEN_CA_BUNDLE``, else ``PEP_ZEEBE_CA_BUNDLE``,
    else the system store), and the call that fetches a token."""
    session = OAuth2Session(client=oauth2.BackendApplicationClient(client_id=settings.client_id, scope=settings.scope))
    fetch = partial(
        session.fetch_token,
        token_url=settings.authorization_server_url,
        client_secret=settings.client_secret.get_secret_value() if settings.client_secret else "",
        audience=settings.token_audience,
        timeout=timeout,
        # given with each request: a session's own ``verify`` loses to REQUESTS_CA_BUNDLE
        # in the environment, which many container images set
        verify=str(settings.token_verify) if settings.token_verify is not None else None,
    )
    return session, fetch


def create_channel(settings: ZeebeSettings) -> grpc.aio.Channel:
    """Plaintext, TLS, or TLS with OAuth client credentials (tokens fetched and
    refreshed before they expire by pyzeebe's OAuth plugin, over a session that trusts
    the token CA bundle). Call inside a running event loop."""
    if settings.uses_oauth:
        session, fetch = oauth_session(settings)
        plugin = OAuth2MetadataPlugin(oauth2session=session, func_retrieve_token=fetch)
        credentials = grpc.composite_channel_credentials(
            channel_credentials(settings), grpc.metadata_call_credentials(plugin)
        )
        return grpc.aio.secure_channel(settings.address, credentials, options=get_channel_options(_KEEPALIVE))
    if settings.uses_tls:
        return create_secure_channel(
            grpc_address=settings.address, channel_options=_KEEPALIVE,
            channel_credentials=channel_credentials(settings),
        )
    return create_insecure_channel(grpc_address=settings.address, channel_options=_KEEPALIVE)


def describe(settings: ZeebeSettings) -> str:
    """For logs: where and how, never a secret."""
    how = "TLS + OAuth" if settings.uses_oauth else "TLS" if settings.uses_tls else "plaintext"
    return f"{settings.address} ({how})"
