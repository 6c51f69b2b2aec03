"""The gRPC channel to a Zeebe gateway, as :class:`ZeebeSettings` describe it."""

from __future__ import annotations

import grpc
from pyzeebe import create_insecure_channel, create_oauth2_client_credentials_channel, create_secure_channel

from .settings import ZeebeSettings

# Zeebe's gateway closes idle connections after a while; keepalive pings (pyzeebe's
# default of 45 s) keep a long-poll alive through proxies and load balancers.
_KEEPALIVE = (("grpc.keepalive_time_ms", 45_000),)


def channel_credentials(settings: ZeebeSettings) -> grpc.ChannelCredentials:
    if settings.ca_bundle is not None:
        return grpc.ssl_channel_credentials(root_certificates=settings.ca_bundle.read_bytes())
    return grpc.ssl_channel_credentials()


def create_channel(settings: ZeebeSettings) -> grpc.aio.Channel:
    """Plaintext, TLS, or TLS with OAuth client credentials (tokens fetched and
    refreshed by pyzeebe before they expire). Call inside a running event loop."""
    if settings.uses_oauth:
        return create_oauth2_client_credentials_channel(
            grpc_address=settings.address,
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value() if settings.client_secret else "",
            authorization_server=settings.authorization_server_url,
            scope=settings.scope,
            audience=settings.token_audience,
            channel_credentials=channel_credentials(settings),
            channel_options=_KEEPALIVE,
        )
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
