"""The package as a user gets it: a wheel, installed in a fresh virtualenv away from the source tree, runs the demo.

What the demo reads besides code must be in the wheel: the shipped policy, the sample day, the console's pages,
the alert rules its Prometheus loads. The demo runs from a directory that holds nothing of the repository, so
every file it finds comes from the installed package.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "models", "rules", "streams", "deploy/prometheus/alerts.yaml")
PACKAGE_DATA = {
    "models/default_policy.yaml",
    "streams/samples/day.jsonl",
    "streams/console/templates/live.html",
    "streams/console/static/console.css",
    "streams/demo/alerts.yaml",
}


def run(*args: str | Path, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{args}: {out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    return out


def test_the_wheel_installs_in_a_fresh_venv_and_runs_the_demo(tmp_path: Path) -> None:
    # The build frontend a release uses, on a copy of what the package is made of (the build writes its own
    # directories next to the sources); this venv's setuptools, no isolated build environment to download.
    src = tmp_path / "src"
    for part in SOURCES:
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, src / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (src / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / part, src / part)
    run(
        sys.executable,
        "-m",
        "build",
        "--wheel",
        "--no-isolation",
        "--outdir",
        tmp_path / "dist",
        src,
        cwd=src,
        timeout=120,
    )
    [wheel] = (tmp_path / "dist").glob("postsale-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert PACKAGE_DATA <= names, PACKAGE_DATA - names
    assert not any(n.startswith(("tests/", "benchmarks/", "deploy/")) for n in names)
    assert (
        zipfile.ZipFile(wheel).read("streams/demo/alerts.yaml") == (ROOT / "deploy/prometheus/alerts.yaml").read_bytes()
    )

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    run(
        bin_dir / "python",
        "-m",
        "pip",
        "install",
        "-qq",
        "--disable-pip-version-check",
        "--no-compile",  # no .pyc written ahead for every dependency: CPU the test does not need
        f"{wheel}[demo]",
        cwd=tmp_path,
        timeout=300,
    )
    assert run(bin_dir / "postsale", "--version", cwd=tmp_path, timeout=60).stdout.strip() == "postsale 0.1.0"

    home = tmp_path / "elsewhere"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("VIRTUAL_ENV")}
    env.update(COLUMNS="120", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    demo = subprocess.Popen(  # noqa: S603
        [str(bin_dir / "postsale"), "demo", "--duration", "8", "--web-port", "0", "--prometheus-port", "0",
         "--console-port", "0"],
        cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert demo.stdout is not None
    lines: list[str] = []
    console_page = ""
    deadline = time.monotonic() + 120
    try:
        while demo.poll() is None and time.monotonic() < deadline:
            if not select.select([demo.stdout], [], [], 1)[0]:
                continue
            text = demo.stdout.readline()
            lines.append(text)
            found = re.match(r"console: (http://\S+)", text)
            if found and not console_page:
                # The console's pages come from the package's templates and static files.
                with urllib.request.urlopen(found.group(1), timeout=10) as page:  # noqa: S310 - the demo's own
                    console_page = page.read().decode()
        lines += demo.stdout.readlines()
        demo.wait(30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
    output = "".join(lines)
    assert demo.returncode == 0, output[-3000:]
    assert "worker ready" in output, output[-3000:]
    decided = re.search(r"stopped: ([\d,]+) events produced, ([\d,]+) actions decided", output)
    assert decided is not None and int(decided.group(2).replace(",", "")) > 0, output[-3000:]
    assert "<html" in console_page.lower() and "console.css" in console_page
    if shutil.which("prometheus") or Path("/usr/bin/prometheus").exists():
        assert "scrapes the worker" in output, output[-3000:]  # started with the packaged alert rules
    assert list(home.iterdir()) == [], "the demo leaves nothing in the directory it runs from"
