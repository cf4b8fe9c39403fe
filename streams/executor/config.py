"""executor.yaml: where each action type goes, per-store secrets, retry limits and the refund breaker.

Read with the policy file's rules: YAML in, a validated `ExecutorConfig` out,
or a `ConfigError` naming line and field. A secret never appears in the file,
only the name of the environment variable that holds it; `resolve_secrets`
reads those once at start-up and fails on a missing one.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import ssl
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from standardwebhooks import Webhook

from models.common import ACTION_TYPES, Amount, CurrencyCode, StoreId
from models.yaml_file import MAX_PROBLEMS, FileError, YamlDocument, field_path, parse_yaml, read_yaml

EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$", description="Name of an environment variable.")]


def _endpoint_key(name: str) -> str:
    if name != "default" and name not in ACTION_TYPES:
        raise ValueError(f"unknown action type {name!r}; known: default, {', '.join(ACTION_TYPES)}")
    return name


EndpointKey = Annotated[str, AfterValidator(_endpoint_key)]


class ConfigError(FileError):
    """An executor.yaml that cannot be used; `problems` lists (line or None, field path, message)."""

    kind = "executor config"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _https_or_loopback(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("must be an http(s) URL with a host")
    if parsed.scheme == "http":
        host = parsed.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ValueError("must be https (plain http only to a loopback address, for tests)")
    return url


class WebhookEndpoint(_Strict):
    """A Standard Webhooks receiver: POST the action JSON, signed with the store's secret."""

    kind: Literal["webhook"]
    url: str | None = Field(default=None, description="Default URL; a store may override it.")
    secret_env: EnvName | None = Field(
        default=None, description="Environment variable holding the default `whsec_…` secret."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=300, description="Per attempt, connect to last byte.")
    ca_file: Path | None = Field(
        default=None, description="Extra CA bundle to verify the receiver; TLS verification cannot be turned off."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _https_or_loopback(value)

    @field_validator("ca_file")
    @classmethod
    def _readable_bundle(cls, value: Path | None) -> Path | None:
        # Read now, at start-up: not at the first delivery, where it would stop the executor mid-stream.
        if value is not None:
            try:
                ssl.create_default_context(cafile=str(value))
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot be read as a PEM CA bundle ({type(exc).__name__})") from None
        return value


class DryRunEndpoint(_Strict):
    """Log the action and do nothing else: no call, no outcome event."""

    kind: Literal["dry_run"]


Endpoint = Annotated[WebhookEndpoint | DryRunEndpoint, Field(discriminator="kind")]


class StoreEndpoint(_Strict):
    """Per-store overrides of every webhook endpoint: the store's own secret and, optionally, URL."""

    secret_env: EnvName | None = None
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _https_or_loopback(value)


class Retry(_Strict):
    """Exponential backoff with full jitter: attempt n (1-based) waits uniform(0, min(cap, base * 2**(n-1)))."""

    max_attempts: int = Field(default=8, ge=1, le=100, description="Attempts in all, the first included.")
    base_seconds: float = Field(default=1.0, gt=0, le=3600)
    cap_seconds: float = Field(default=300.0, gt=0, le=86_400)
    retry_after_max_seconds: float = Field(
        default=3600.0, gt=0, le=86_400, description="A longer Retry-After is shortened to this."
    )


class CurrencyLimits(_Strict):
    """Refund limits in one currency (amounts in that currency)."""

    single: Amount = Field(description="A refund above this is always held.")
    per_hour: Amount = Field(description="Refunds in the last 60 minutes above this are held.")
    min_hourly_baseline: Amount = Field(
        default=Decimal("0"),
        description="Floor of the store's usual hourly amount, so a quiet store's first refunds are not held.",
    )


MAX_RATE_MULTIPLE = 1000.0
"""A rate test a thousand times the usual hour is no test; a larger multiple is a typo."""


class StoreBreaker(_Strict):
    max_rate_multiple: float | None = Field(default=None, gt=0, le=MAX_RATE_MULTIPLE)
    limits: dict[CurrencyCode, CurrencyLimits] = Field(default_factory=dict)


class Breaker(_Strict):
    """Automated customer refunds that are held for a person instead of being sent."""

    max_rate_multiple: float = Field(
        default=5.0,
        gt=0,
        le=MAX_RATE_MULTIPLE,
        description="Hold when the last hour exceeds this multiple of the usual hourly amount.",
    )
    baseline_hours: int = Field(
        default=168, ge=2, le=24 * 90, description="History (hours) behind the usual hourly amount."
    )
    limits: dict[CurrencyCode, CurrencyLimits] = Field(
        default_factory=dict, description="Per currency; a refund in a currency not listed is held."
    )
    stores: dict[StoreId, StoreBreaker] = Field(default_factory=dict)

    def for_store(self, store_id: str, currency: str) -> tuple[CurrencyLimits | None, float]:
        """The limits and rate multiple in force for one store and currency (store overrides win)."""
        override = self.stores.get(store_id)
        multiple = self.max_rate_multiple
        limits = self.limits.get(currency)
        if override is not None:
            multiple = override.max_rate_multiple or multiple
            limits = override.limits.get(currency, limits)
        return limits, multiple


class ExecutorConfig(_Strict):
    endpoints: dict[EndpointKey, Endpoint] = Field(
        description="Per action type; `default` serves every type not listed. A type with neither is dry-run."
    )
    stores: dict[StoreId, StoreEndpoint] = Field(default_factory=dict)
    retry: Retry = Field(default_factory=Retry)
    breaker: Breaker = Field(default_factory=Breaker)

    @model_validator(mode="after")
    def _complete(self) -> ExecutorConfig:
        for name, ep in self.endpoints.items():
            if not isinstance(ep, WebhookEndpoint):
                continue
            stores = list(self.stores.values())
            if ep.url is None and (not stores or any(s.url is None for s in stores)):
                raise ValueError(f"endpoints.{name}: a webhook needs a url (here or for every store)")
            if ep.secret_env is None and (not stores or any(s.secret_env is None for s in stores)):
                raise ValueError(f"endpoints.{name}: a webhook needs secret_env (here or for every store)")
        refund = self.endpoint_for("refund")
        if isinstance(refund, WebhookEndpoint) and not self.breaker.limits and not self.breaker.stores:
            raise ValueError("breaker.limits: a webhook refund endpoint needs refund limits (at least one currency)")
        return self

    def endpoint_for(self, action_type: str) -> WebhookEndpoint | DryRunEndpoint:
        by_type: dict[str, WebhookEndpoint | DryRunEndpoint] = dict(self.endpoints)
        return by_type.get(action_type) or by_type.get("default") or DryRunEndpoint(kind="dry_run")

    def target(self, action_type: str, store_id: str) -> tuple[str, str] | None:
        """(url, secret env var name) of a webhook for this action type and store; None for a dry run."""
        ep = self.endpoint_for(action_type)
        if not isinstance(ep, WebhookEndpoint):
            return None
        store = self.stores.get(store_id)
        url = (store.url if store is not None else None) or ep.url
        secret = (store.secret_env if store is not None else None) or ep.secret_env
        if url is None or secret is None:
            raise KeyError(f"store {store_id!r} has no webhook url/secret for {action_type}")
        return url, secret

    def secret_uses(self, env_name: str) -> list[str]:
        """The fields that name `env_name` (`endpoints.refund.secret_env`, `stores.<id>.secret_env`)."""
        uses = [
            f"endpoints.{key}.secret_env"
            for key, ep in self.endpoints.items()
            if isinstance(ep, WebhookEndpoint) and ep.secret_env == env_name
        ]
        uses += [f"stores.{store}.secret_env" for store, s in self.stores.items() if s.secret_env == env_name]
        return uses or [env_name]

    def secret_names(self) -> set[str]:
        names = {ep.secret_env for ep in self.endpoints.values() if isinstance(ep, WebhookEndpoint) and ep.secret_env}
        if any(isinstance(ep, WebhookEndpoint) for ep in self.endpoints.values()):
            names |= {s.secret_env for s in self.stores.values() if s.secret_env}
        return names


def all_dry_run() -> ExecutorConfig:
    """The configuration of `postsale execute --dry-run` without a file: log every action."""
    return ExecutorConfig(endpoints={"default": DryRunEndpoint(kind="dry_run")})


SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = (24, 64)
"""A Standard Webhooks secret: `whsec_` (optional) and the base64 of 24 to 64 random bytes."""


def secret_problem(value: str) -> str | None:
    """Why `value` is not a usable webhook secret (never quoting it), or None."""
    body = value.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return "is not a Standard Webhooks secret (whsec_ and base64)"
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        return f"is not a Standard Webhooks secret (whsec_ and base64 of {low} to {high} bytes; it has {len(key)})"
    try:
        Webhook(value)
    except Exception:  # noqa: BLE001 - whatever the library refuses, it would refuse at the first delivery
        return "is refused by the Standard Webhooks library"
    return None


def resolve_secrets(config: ExecutorConfig, environ: Mapping[str, str]) -> dict[str, SecretStr]:
    """The secrets the config names, read once; a `ConfigError` lists every missing or malformed one, naming
    where the config uses it (`stores.store-hz-01.secret_env`) and the variable, never the value."""
    problems: list[tuple[int | None, str, str]] = []
    for name in sorted(config.secret_names()):
        value = environ.get(name)
        if not value:
            problems.append((None, name, "environment variable not set"))
            continue
        why = secret_problem(value)
        if why is not None:
            problems += [(None, field, f"{name} {why}") for field in config.secret_uses(name)]
    if problems:
        raise ConfigError("(environment)", problems)
    return {name: SecretStr(environ[name]) for name in config.secret_names()}


def parse_config(text: str | bytes, source: str = "<executor.yaml>") -> ExecutorConfig:
    return _config(parse_yaml(text, source, ConfigError), source)


def load_config(path: str | Path) -> ExecutorConfig:
    return _config(read_yaml(path, ConfigError), str(path))


def _config(doc: YamlDocument, source: str) -> ExecutorConfig:
    if not isinstance(doc.data, dict):
        raise ConfigError(source, [(1, "", "the file is a mapping with at least `endpoints`")])
    try:
        return ExecutorConfig.model_validate(doc.data)
    except ValidationError as exc:
        problems: list[tuple[int | None, str, str]] = []
        for err in exc.errors(include_url=False, include_input=False)[:MAX_PROBLEMS]:
            loc = tuple(err["loc"])
            msg = err["msg"]
            if not loc and msg.startswith("Value error, endpoints."):
                # A model-level check names its field in the message: point at that line.
                path = msg.removeprefix("Value error, ").split(":", 1)[0]
                loc = tuple(path.split("."))
            elif not loc and "breaker.limits" in msg:
                loc = ("breaker",)
            # Discriminated unions add the tag to the path (`endpoints.refund.webhook.url`): drop it.
            # and a bad mapping key adds `[key]`: the key's own line is the one to fix.
            loc = tuple(p for p in loc if p not in ("webhook", "dry_run", "[key]"))
            problems.append((doc.line_of(loc), field_path(loc), msg))
        raise ConfigError(source, problems, more=exc.error_count() - len(problems)) from None
