"""One validated settings object, from the environment (POSTSALE_*) and command-line flags.

Nothing else in postsale reads `os.environ`. A bad setting stops the worker
at start-up with the variable's name and what is wrong with it; secrets are
`SecretStr`, so they never appear in a repr, a log line or a metric.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError as _SourceError

SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
S = TypeVar("S", bound=BaseSettings)


MAX_SPAN_SECONDS = 365 * 86_400
"""Longest time span a setting may name (a year): far beyond any use, well inside what a date can hold."""


class SettingsError(ValueError):
    """Settings that cannot be used, with one line per problem naming the environment variable."""


class Settings(BaseSettings):
    # No inf or nan in any number: "nan seconds" would pass every bound and fail later, with a traceback.
    model_config = SettingsConfigDict(
        env_prefix="POSTSALE_", frozen=True, extra="forbid", env_nested_delimiter="__", allow_inf_nan=False
    )

    # Kafka
    brokers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["kafka://127.0.0.1:9092"],
        description="Broker URLs, comma separated (kafka://host:port;host2:port or several entries).",
    )
    app_id: str = Field(
        default="postsale", pattern=r"^[A-Za-z0-9._-]+$", description="Consumer group and table prefix."
    )
    partitions: int = Field(default=8, ge=1, le=1024, description="Partition count of every input topic and table.")
    replication_factor: int = Field(default=1, ge=1, le=7)
    topic_orders: str = "orders"
    topic_shipments: str = "shipments"
    topic_disputes: str = "disputes"
    topic_actions: str = "actions"
    topic_dead_letter: str = "postsale-dead-letter"
    topic_ticks: str = "postsale-ticks"
    create_topics: bool = Field(
        default=True, description="Create missing topics at start-up (off where an admin owns them)."
    )
    # Security
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # State
    store: str = Field(default="memory://", description="memory:// (tests, demo) or rocksdb:// (production).")
    data_dir: Path = Field(default=Path("./postsale-data"), description="Where RocksDB state lives.")
    standby_replicas: int = Field(default=1, ge=0, le=5)
    # Policy
    policy_file: Path | None = Field(default=None, description="Policy YAML; the shipped default if unset.")
    # Time
    clock_mode: Literal["wall", "events"] = Field(
        default="wall",
        description="wall: once caught up, time follows the wall clock (live); events: only event times and "
        "explicit clock ticks move it (tests, replays through Kafka).",
    )
    clock_speed: float = Field(default=1.0, gt=0, le=1_000_000, description="Simulated seconds per wall second (demo).")
    clock_origin: str | None = Field(
        default=None, description="Event time at the worker's start when clock_speed != 1."
    )
    tick_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    allowed_lateness_seconds: float = Field(
        default=0.0, ge=0, le=MAX_SPAN_SECONDS, description="How far behind its partition an event may be."
    )
    topic_idle_seconds: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="clock_mode=events: a caught-up topic read from less than this long ago still holds the "
        "partition's clock back (its next record may be older than the other topics' latest).",
    )
    # Throughput
    batch_max_records: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Most records decided before their effects are settled together (sent, acknowledged by the "
        "broker, stored); a batch also ends whenever no record is waiting.",
    )
    delivery: Literal["batch", "stream"] = Field(
        default="batch",
        description="How fetched records reach the rules: `batch` hands each fetch over in one call (the fast "
        "path); `stream` one record at a time through a Faust agent's stream (Faust's own path, several times the "
        "CPU per record). Both decide, store and commit the same way.",
    )
    orders_kept_in_memory: int = Field(
        default=50_000,
        ge=0,
        le=10_000_000,
        description="Orders whose decoded state the worker keeps in memory between batches, across its partitions "
        "(the most recently stored; 0: none). An order's next event then skips the table read and the state's "
        "decoding. Each costs about 5.4 KiB of memory (docs/performance.md); what is kept is always what the table "
        "holds.",
    )
    producer_linger_ms: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="How long the producer waits to fill a request with more actions and changelog records "
        "(fewer, larger produce requests; adds at most this much to an action's latency).",
    )
    fetch_max_wait_ms: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="Longest a fetch may wait at the broker for records (Faust fixes it at 1,500 ms). Kafka answers "
        "as soon as a record is there: 500 there (deploy/) costs no latency and fewer idle fetches. The default "
        "suits brokers that hold a fetch for the whole wait (the embedded one): every action waits that long.",
    )
    commit_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often processed offsets are committed (Faust's broker_commit_interval): what a restarted "
        "worker reads again, as repeats that change nothing.",
    )
    # Routing
    partitioner: Literal["murmur2", "crc32", "auto", "none"] = Field(
        default="murmur2",
        description="How producers partition order ids: murmur2 (Java client, aiokafka), crc32 (librdkafka's "
        "default consistent_random: confluent-kafka, Go, .NET, kcat), auto (whichever the records show; refuses "
        "when producers disagree), none (no check).",
    )
    misrouted: Literal["reroute", "dead_letter"] = "reroute"
    partitioner_evidence_records: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="Records that tell murmur2 and crc32 apart needed before the worker refuses a partitioner "
        "setting no record agrees with (auto: before it settles on one).",
    )
    reroute_grace_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="How long a partition's clock waits for a copy of a misplaced event sent on to it (seconds).",
    )
    # Web
    web_enabled: bool = True
    web_host: str = Field(default="127.0.0.1", description="Bind address of /metrics, health and the order view.")
    web_port: int = Field(default=6066, ge=0, le=65535)
    web_advertised_host: str | None = Field(
        default=None,
        description="Host name other workers use to reach this one (order-view routing); default web_host. "
        "Set it to the pod's DNS name when web_host is 0.0.0.0.",
    )
    order_view: bool = Field(default=True, description="Serve GET /orders/{order_id}.")
    order_view_token: SecretStr | None = Field(
        default=None, description="Bearer token of the order view that sees every store (an operator's)."
    )
    order_view_tokens: SecretStr | None = Field(
        default=None,
        description="Bearer tokens of the order view scoped to stores: comma-separated `store:token` entries; a "
        "token listed for several stores sees each of them, `*:token` sees every store. An order of another store "
        "answers 404, as a missing one does.",
    )
    order_view_tokens_file: Path | None = Field(
        default=None,
        description="A file of `store:token` lines (`#` comments), e.g. a mounted Secret; read at start-up, "
        "added to order_view_tokens.",
    )
    stores_max: int = Field(
        default=100, ge=1, description="Store labels exported to Prometheus at most (bounded labels)."
    )
    # Consumer tuning
    session_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    heartbeat_interval_seconds: float = Field(default=2.0, gt=0, le=1200)
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text: one readable line per record; json: one JSON object per line with structured fields "
        "(timestamp, level, logger, message, service, version, app_id, and ids such as action_id).",
    )

    @field_validator("brokers", mode="before")
    @classmethod
    def _split_brokers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("brokers")
    @classmethod
    def _broker_urls(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one broker URL is needed")
        out = []
        for url in value:
            if "://" not in url:
                url = f"kafka://{url}"
            parsed = urlparse(url)
            if parsed.scheme not in ("kafka", "aiokafka"):
                raise ValueError(f"{url!r}: the scheme must be kafka://")
            for host in parsed.netloc.split(";"):
                h, _, port = host.rpartition(":")
                if not h or not port.isdigit():
                    raise ValueError(f"{url!r}: each broker is host:port")
            out.append(url)
        return out

    @field_validator("order_view_token")
    @classmethod
    def _one_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            token = value.get_secret_value()
            if not token or any(c.isspace() or not c.isprintable() for c in token):
                raise ValueError("the token is empty or holds spaces or control characters")
        return value

    @field_validator("order_view_tokens")
    @classmethod
    def _scoped_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_store_tokens(value.get_secret_value().replace(",", "\n"), "entry")
        return value

    @field_validator("order_view_tokens_file")
    @classmethod
    def _scoped_tokens_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            parse_store_tokens(_read_secret_file(value), "line")
        return value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        if not (value.startswith("memory://") or value.startswith("rocksdb://")):
            raise ValueError("store must be memory:// or rocksdb://")
        return value

    @model_validator(mode="after")
    def _security(self) -> Settings:
        sasl = self.security_protocol.startswith("SASL")
        if sasl and (self.sasl_mechanism is None or not self.sasl_username or self.sasl_password is None):
            raise ValueError("SASL needs sasl_mechanism, sasl_username and sasl_password")
        if not sasl and self.sasl_mechanism is not None:
            raise ValueError("sasl_mechanism is set but security_protocol is not SASL_PLAINTEXT or SASL_SSL")
        if self.heartbeat_interval_seconds * 3 > self.session_timeout_seconds:
            raise ValueError("heartbeat_interval_seconds must be at most a third of session_timeout_seconds")
        topics = [
            self.topic_orders,
            self.topic_shipments,
            self.topic_disputes,
            self.topic_actions,
            self.topic_dead_letter,
        ]
        if len(set(topics)) != len(topics):
            raise ValueError("topic names must be distinct")
        return self

    def order_view_tokens_by_scope(self) -> list[tuple[str, str | None]]:
        """Every order-view token with the store it may see (None: every store); empty when the view is open."""
        out: list[tuple[str, str | None]] = []
        if self.order_view_token is not None:
            out.append((self.order_view_token.get_secret_value(), None))
        if self.order_view_tokens is not None:
            out += parse_store_tokens(self.order_view_tokens.get_secret_value().replace(",", "\n"), "entry")
        if self.order_view_tokens_file is not None:
            out += parse_store_tokens(_read_secret_file(self.order_view_tokens_file), "line")
        return out

    def order_view_unguarded(self) -> str | None:
        """Why the order view may not be served as configured (off loopback with no token), else None."""
        if not (self.web_enabled and self.order_view) or is_loopback(self.web_host):
            return None
        if self.order_view_tokens_by_scope():
            return None
        return (
            f"the order view would answer anyone on POSTSALE_WEB_HOST={self.web_host} (not loopback) without a token: "
            "set POSTSALE_ORDER_VIEW_TOKEN, POSTSALE_ORDER_VIEW_TOKENS or POSTSALE_ORDER_VIEW_TOKENS_FILE, "
            "or POSTSALE_ORDER_VIEW=false"
        )

    @property
    def input_topics(self) -> tuple[str, str, str]:
        return (self.topic_orders, self.topic_shipments, self.topic_disputes)

    def broker_string(self) -> str:
        """Faust's `broker` setting: one kafka:// URL with hosts separated by ';'."""
        hosts = [h for url in self.brokers for h in urlparse(url).netloc.split(";")]
        return "kafka://" + ";".join(hosts)

    def bootstrap_servers(self) -> list[str]:
        return [h for url in self.brokers for h in urlparse(url).netloc.split(";")]

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.security_protocol.endswith("SSL"):
            return None
        ctx = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
        if self.ssl_certfile is not None:
            ctx.load_cert_chain(str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None)
        return ctx

    def client_auth(self) -> dict[str, Any]:
        """Security options for plain aiokafka clients (simulator, executor, tools), as Faust gets them."""
        auth: dict[str, Any] = {"security_protocol": self.security_protocol}
        ctx = self.ssl_context()
        if ctx is not None:
            auth["ssl_context"] = ctx
        if self.security_protocol.startswith("SASL"):
            assert self.sasl_password is not None
            auth.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password.get_secret_value(),
            )
        return auth


_STORE_SCOPE = re.compile(r"^(\*|[A-Za-z0-9_.-]{1,64})$")


def parse_store_tokens(text: str, unit: str) -> list[tuple[str, str | None]]:
    """`store:token` entries, one per line (blank lines and `#` comments skipped): (token, store or None for
    `*`). A bad entry is named by its number, never by its content (it holds a secret)."""
    out: list[tuple[str, str | None]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        store, sep, token = entry.partition(":")
        store, token = store.strip(), token.strip()
        if not sep or not _STORE_SCOPE.match(store):
            raise ValueError(f"{unit} {n}: expected store:token, the store an id (letters, digits, _ . -) or *")
        if not token or any(c.isspace() or not c.isprintable() for c in token):
            raise ValueError(f"{unit} {n}: the token after the colon is empty or holds spaces or control characters")
        out.append((token, None if store == "*" else store))
    return out


def _read_secret_file(path: Path) -> str:
    try:
        return path.read_bytes()[: 1 << 20].decode()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {type(exc).__name__}") from exc


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: reachable from this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_settings(cls: type[S], prefix: str, **values: Any) -> S:
    """`cls(**values)` (None values dropped), or a `SettingsError` naming each bad environment variable."""
    clean = {k: v for k, v in values.items() if v is not None}
    try:
        return cls(**clean)
    except _SourceError as exc:
        raise SettingsError(f"bad settings:\n  {exc}") from exc
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"])
            var = f"{prefix}{field.upper()}" if field else "settings"
            lines.append(f"{var}: {e['msg']}")
        raise SettingsError("bad settings:\n  " + "\n  ".join(lines)) from exc


def load_settings(**overrides: Any) -> Settings:
    """Settings from POSTSALE_* variables with flag overrides; a `SettingsError` naming each bad variable."""
    return build_settings(Settings, "POSTSALE_", **overrides)


TOOLING_VARIABLES: dict[str, str] = {
    "POSTSALE_TEST_WORKER_LOG_LEVEL": "the test suite: log level of the workers it starts (`warning`)",
    "POSTSALE_FUZZ_EXAMPLES": "the test suite: examples per fuzz test (`120`)",
    "POSTSALE_SCREENSHOTS": "the console's browser tests: where their screenshots go",
    "POSTSALE_CHROMIUM": "the console's browser tests: the browser they drive (`/usr/bin/chromium`)",
    "POSTSALE_BENCH_QUIX_PYTHON": "the benchmark: a Python that has Quix Streams",
}
"""`POSTSALE_` variables read by the tests and the benchmark, not by postsale: never refused."""

SECRET_MARK = "_SECRET"  # noqa: S105 - a part of a variable's name, not a secret
"""A `POSTSALE_` variable whose name holds this (`POSTSALE_WEBHOOK_SECRET`, `POSTSALE_SECRET_HZ01`) is a secret a
configuration file names (executor.yaml's `secret_env`), never a setting: the worker, which does not read that
file, lets it be."""


def unknown_variables(known: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per `POSTSALE_` variable that is neither a setting (`known`), nor one of `TOOLING_VARIABLES`, nor
    a secret (`SECRET_MARK`), with the closest known name: a misspelt setting would otherwise be ignored in
    silence and its default used."""
    environ = os.environ if environ is None else environ
    names = set(known) | set(TOOLING_VARIABLES)
    lines = []
    for var in sorted(environ):
        if not var.startswith("POSTSALE_") or var in names or SECRET_MARK in var:
            continue
        # Compared without the prefix every name shares, which would make any two names look alike.
        rests = {name.removeprefix("POSTSALE_"): name for name in names}
        close = difflib.get_close_matches(var.removeprefix("POSTSALE_"), sorted(rests), n=1, cutoff=0.6)
        hint = f"; did you mean {rests[close[0]]}?" if close else ""
        lines.append(f"{var}: no postsale setting has this name{hint} (every setting: docs/configuration.md)")
    return lines
