"""Client credentials from the settings: Faust's for the worker, aiokafka's options for every other client."""

from __future__ import annotations

from typing import Any

import faust

from streams.settings import Settings


def credentials(settings: Settings) -> faust.auth.Credentials | None:
    """Faust credentials for the configured TLS/SASL; None for plaintext."""
    ctx = settings.ssl_context()
    if settings.security_protocol.startswith("SASL"):
        assert settings.sasl_password is not None
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.get_secret_value(),
            ssl_context=ctx,
            mechanism=settings.sasl_mechanism,
        )
    if ctx is not None:
        return faust.SSLCredentials(ctx)
    return None


def kafka_options(settings: Settings) -> dict[str, Any]:
    """aiokafka client arguments: bootstrap servers, TLS and SASL from the worker's settings."""
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers(),
        "security_protocol": settings.security_protocol,
    }
    ctx = settings.ssl_context()
    if ctx is not None:
        opts["ssl_context"] = ctx
    if settings.sasl_mechanism is not None:
        opts["sasl_mechanism"] = settings.sasl_mechanism
        opts["sasl_plain_username"] = settings.sasl_username
        opts["sasl_plain_password"] = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return opts


def admin_options(settings: Settings) -> dict[str, Any]:
    """`kafka_options` without the bootstrap servers (the admin client takes them apart)."""
    opts = kafka_options(settings)
    opts.pop("bootstrap_servers")
    return opts
