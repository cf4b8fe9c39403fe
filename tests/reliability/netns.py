"""Test hosts made of Linux network namespaces: a bridge holding the broker's address, one namespace per worker.

    root namespace:  bridge  <net>.1   (the broker listens here; the test produces and reads here)
                       │ veth
    namespace w1:    eth0    <net>.11  (worker 1)
    namespace w2:    eth0    <net>.12  (worker 2)

A worker's link can then fail the two ways a network fails:

- `link_down()`: its interface goes down. Packets have no route: new
  connections fail at once, established ones error out after retries.
- `drop()`: every packet in both directions is dropped by a `pfifo` queue of
  length 0 on both ends of its veth pair (iproute2's `tc`, no kernel module
  beyond the scheduler's default ones). Nothing fails: connections hang, as
  when a switch or a firewall in between loses them.

Names and addresses are the test's own (derived from its process id) and are
removed at the end, whatever happened; leftovers of a test process that no
longer exists are removed first. Creating namespaces needs root (CAP_NET_ADMIN);
where that is impossible the test fails and says so (`NamespacesUnavailable`):
it is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from streams.demo.broker import _die_with_parent_preexec
from tests.integration.kafka import ROOT, Wire, WorkerProcess

PREFIX = "psn"  # every name made here starts with it: bridge psn<pid>b, namespace psn<pid>-<host>, veth psn<pid>v<i>


class NamespacesUnavailable(AssertionError):
    """This machine (or this user) cannot make network namespaces: the test cannot run, and fails."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)  # noqa: S603, S607


def _tc(namespace: str | None, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["tc", *args] if namespace is None else ["ip", "netns", "exec", namespace, "tc", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=check)  # noqa: S603


@dataclass
class Host:
    """A network namespace with one interface (`eth0`) on the bridge."""

    name: str  # the namespace
    address: str
    outer: str  # the veth end in the root namespace, on the bridge
    cut: str | None = None  # "down" or "drop" while the link is cut

    def exec_argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def link_down(self) -> None:
        """The interface goes down: no route to the broker, connections fail."""
        assert self.cut is None, self.cut
        _ip("-n", self.name, "link", "set", "eth0", "down")
        self.cut = "down"

    def drop(self) -> None:
        """Every packet is dropped, both ways; the interface stays up: connections hang."""
        assert self.cut is None, self.cut
        _tc(self.name, "qdisc", "replace", "dev", "eth0", "root", "pfifo", "limit", "0")
        _tc(None, "qdisc", "replace", "dev", self.outer, "root", "pfifo", "limit", "0")
        self.cut = "drop"

    def dropped_packets(self) -> int:
        """Packets the `drop()` queues refused so far (proof that the cut was real)."""
        total = 0
        for ns, dev in ((self.name, "eth0"), (None, self.outer)):
            out = _tc(ns, "-s", "qdisc", "show", "dev", dev, check=False).stdout
            for part in out.split("(dropped ")[1:]:
                total += int(part.split(",", 1)[0])
        return total

    def restore(self) -> None:
        if self.cut == "down":
            _ip("-n", self.name, "link", "set", "eth0", "up")
        elif self.cut == "drop":
            _tc(self.name, "qdisc", "del", "dev", "eth0", "root", check=False)
            _tc(None, "qdisc", "del", "dev", self.outer, "root", check=False)
        self.cut = None


@dataclass
class HostNetwork:
    """A bridge and `hosts` namespaces on it; see the module docstring."""

    hosts_wanted: int = 2
    pid: int = field(default_factory=os.getpid)
    hosts: list[Host] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.pid}b"[:15]

    @property
    def subnet(self) -> str:
        # 10.(200..249).(0..255).0/24 from the process id: two test processes at once get different nets.
        return f"10.{200 + (self.pid >> 8) % 50}.{self.pid % 256}"

    @property
    def broker_host(self) -> str:
        return f"{self.subnet}.1"

    def __enter__(self) -> HostNetwork:
        missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
        if missing:
            raise NamespacesUnavailable(f"{', '.join(missing)} not found: install iproute2 to run this test")
        remove_leftovers()
        try:
            self._create()
        except subprocess.CalledProcessError as exc:
            self.__exit__(None, None, None)
            raise NamespacesUnavailable(
                f"cannot make the test's network namespaces ({' '.join(exc.cmd)}: {exc.stderr.strip()}); "
                "this test needs root or CAP_NET_ADMIN (ip netns, veth, bridge, tc)"
            ) from exc
        return self

    def _create(self) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.broker_host}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i in range(1, self.hosts_wanted + 1):
            name = f"{PREFIX}{self.pid}-w{i}"
            outer = f"{PREFIX}{self.pid}v{i}"[:15]
            host = Host(name, f"{self.subnet}.{10 + i}", outer)
            _ip("netns", "add", name)
            self.hosts.append(host)
            _ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", name)
            _ip("link", "set", outer, "master", self.bridge)
            _ip("link", "set", outer, "up")
            _ip("-n", name, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip("-n", name, "link", "set", "eth0", "up")
            _ip("-n", name, "link", "set", "lo", "up")

    def __exit__(self, *_: object) -> None:
        for host in self.hosts:
            with contextlib.suppress(Exception):
                host.restore()
            _ip("netns", "del", host.name, check=False)  # its eth0 goes with it, and the veth's other end
            _ip("link", "del", host.outer, check=False)
        _ip("link", "del", self.bridge, check=False)
        self.hosts.clear()


def remove_leftovers() -> None:
    """Namespaces and bridges of earlier runs of this test whose process is gone (a SIGKILLed pytest)."""
    namespaces = _ip("netns", "list", check=False).stdout.split()
    links = [line.split(":")[1].strip().split("@")[0] for line in _ip("-o", "link", check=False).stdout.splitlines()]
    for name in [*namespaces, *links]:
        match = re.match(rf"{PREFIX}(\d+)[bv-]", name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            if name in namespaces:
                _ip("netns", "del", name, check=False)
            else:
                _ip("link", "del", name, check=False)


def start_worker_on(host: Host, wire: Wire, tmp: Path, name: str, **extra_env: str) -> WorkerProcess:
    """`postsale worker` inside `host`'s namespace (its own process group, output to `<name>.log`). It dies with
    the test process (`PR_SET_PDEATHSIG`, as the embedded broker does): a test killed before its teardown
    leaves no worker behind in a namespace nobody can name any more."""
    log = tmp / f"{name}.log"
    env = dict(os.environ)
    env.update(wire.env(**extra_env))
    env.setdefault("POSTSALE_DATA_DIR", str(tmp / f"{name}-data"))
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        host.exec_argv([sys.executable, "-m", "streams.cli", "worker"]),
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent_preexec(),  # noqa: PLW1509 - fork-safe: prctl only
    )
    return WorkerProcess(proc, log, extra_env)


def kill_quietly(worker: WorkerProcess) -> None:
    if worker.alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.proc.wait(10)
