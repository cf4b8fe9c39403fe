"""The console's settings (POSTSALE_CONSOLE_*), next to the worker's and the executor's.

Broker, topics, TLS and SASL are the worker's own settings (POSTSALE_*); the
held, audit and outcome topics and the executor.yaml used to release a refund
are the executor's (POSTSALE_EXECUTOR_*), so that one environment configures
all three and a decision made on the page is the one `postsale actions` makes.

Who may sign in comes from configuration: one token (`token`, full access) or
a users file. The console binds to 127.0.0.1 and refuses any other address
unless sign-in is configured.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from streams.executor.settings import ExecutorSettings
from streams.settings import SettingsError, build_settings

PREFIX = "POSTSALE_CONSOLE_"
DEFAULT_EVENTS_DIR = Path(__file__).resolve().parents[1] / "samples"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    executor: ExecutorSettings = Field(description="Executor settings: topics, executor.yaml (POSTSALE_EXECUTOR_*).")
    host: str = Field(default="127.0.0.1", description="Bind address; anything but loopback needs sign-in.")
    port: int = Field(default=6070, ge=0, le=65535)
    workers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:6066"],
        description="Base URLs of the workers' web endpoints (order view, /metrics), comma separated.",
    )
    worker_token: SecretStr | None = Field(default=None, description="The workers' order-view bearer token.")
    token: SecretStr | None = Field(default=None, description="One sign-in token with access to every store.")
    users_file: Path | None = Field(default=None, description="YAML list of accounts (name, token, optional store).")
    events_dir: Path = Field(default=DEFAULT_EVENTS_DIR, description="Events files offered to the what-if page.")
    upload_max_mb: float = Field(default=200, gt=0, description="Largest events or policy file accepted by upload.")
    feed_size: int = Field(default=100_000, ge=100, description="Actions kept in memory for lists and exports.")
    orders_indexed: int = Field(
        default=200_000, ge=100, description="Orders whose events (ids, types, SKU, tracking number) are indexed."
    )
    stream_window: int = Field(
        default=500, ge=10, le=10_000, description="Rows the live page keeps in the browser (older ones drop off)."
    )
    work_dir: Path | None = Field(default=None, description="Uploads and what-if runs (default: a temporary dir).")
    secure_cookies: bool = Field(default=False, description="Mark the session cookie Secure (behind HTTPS).")

    @field_validator("workers", mode="before")
    @classmethod
    def _split_workers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [w.strip().rstrip("/") for w in value.split(",") if w.strip()]
        return value

    @model_validator(mode="after")
    def _safe_bind(self) -> ConsoleSettings:
        if self.token is not None and self.users_file is not None:
            raise ValueError("set token or users_file, not both")
        if not is_loopback(self.host) and self.token is None and self.users_file is None:
            raise ValueError(
                f"refusing to listen on {self.host} without sign-in: set POSTSALE_CONSOLE_TOKEN or "
                "POSTSALE_CONSOLE_USERS_FILE (or bind to 127.0.0.1)"
            )
        for url in self.workers:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"workers: {url!r} is not an http(s) URL")
        return self


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class User:
    """A signed-in account. `store` None: every store; else only that store's orders and refunds."""

    name: str
    store: str | None = None

    def sees(self, store_id: str) -> bool:
        return self.store is None or self.store == store_id


ANONYMOUS = User("local")


class _Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w .@-]+$")
    token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    token_env: str | None = Field(default=None, description="Name of an environment variable holding the token.")
    store: str | None = None

    @model_validator(mode="after")
    def _one_token(self) -> _Account:
        if (self.token_sha256 is None) == (self.token_env is None):
            raise ValueError("give token_sha256 or token_env")
        return self


class _UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[_Account] = Field(min_length=1)


class Accounts:
    """Who may sign in: token → account. No accounts at all means the console is open (loopback only)."""

    def __init__(self, entries: list[tuple[bytes, User]]) -> None:
        self._entries = entries

    @property
    def open(self) -> bool:
        return not self._entries

    def find(self, token: str) -> User | None:
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for expected, user in self._entries:  # compare with every entry: no early exit
            if hmac.compare_digest(digest, expected):
                found = user
        return found

    @classmethod
    def from_settings(cls, settings: ConsoleSettings, environ: dict[str, str]) -> Accounts:
        if settings.token is not None:
            token = settings.token.get_secret_value()
            return cls([(hashlib.sha256(token.encode()).digest(), User("admin"))])
        if settings.users_file is None:
            return cls([])
        return cls(load_users(settings.users_file, environ))


def load_users(path: Path, environ: dict[str, str]) -> list[tuple[bytes, User]]:
    """The users file: `users: [{name, token_sha256 | token_env, store?}]`; a `SettingsError` says what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _UsersFile.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"{path}: {problems}") from exc
    out: list[tuple[bytes, User]] = []
    for acc in parsed.users:
        if acc.token_env is not None:
            token = environ.get(acc.token_env)
            if not token:
                raise SettingsError(f"{path}: user {acc.name}: variable {acc.token_env} is not set")
            digest = hashlib.sha256(token.encode()).digest()
        else:
            assert acc.token_sha256 is not None
            digest = bytes.fromhex(acc.token_sha256)
        out.append((digest, User(acc.name, acc.store)))
    return out


def load_console_settings(executor: ExecutorSettings, **overrides: Any) -> ConsoleSettings:
    """POSTSALE_CONSOLE_* with flag overrides; a `SettingsError` names each bad variable."""
    return build_settings(ConsoleSettings, PREFIX, executor=executor, **overrides)
