"""Docker Engine for the compose test, on a machine that may have neither an engine running nor
access to an image registry.

``docker_engine()`` starts ``dockerd`` if no engine answers (its log in a file) and stops it, by its
PID, only if it started it. ``base_images()`` makes sure every base image the project's Dockerfile
and compose file name exists under its official name: pulled when the registry answers, otherwise
a stand-in built from Debian's packages (this folder's ``*.Dockerfile``) on a ``debootstrap``
minbase bookworm imported as ``rosetta-standin/bookworm:minbase``. Stand-ins are built once and
kept by the engine; a later successful pull replaces them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = "rosetta-standin/bookworm:minbase"
MIRROR = "http://deb.debian.org/debian"
# official name -> stand-in Dockerfile in this folder (the compose file and Dockerfile name these)
STANDINS = {
    "python:3.11-slim": "python.Dockerfile",
    "postgres:16": "postgres.Dockerfile",
    "nginx:1.27": "nginx.Dockerfile",
    "redis:7": "redis.Dockerfile",
}
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")


def _run(args: list[str], log: Path, *, timeout: float, stdin: int | None = None) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        completed = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, stdin=stdin)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({completed.returncode}); see {log}")


def engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@contextmanager
def docker_engine(log: Path) -> Iterator[None]:
    """An answering Docker Engine for the duration; started (and then stopped) here if none answers."""
    if engine_answers():
        yield
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise RuntimeError("no Docker Engine answers and dockerd is not installed: run scripts/system-deps")
    with log.open("a") as out:
        process = subprocess.Popen([dockerd], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not engine_answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not come up; see {log}")
            time.sleep(0.5)
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def _pull(name: str, log: Path) -> bool:
    try:
        _run(["docker", "pull", "--quiet", name], log, timeout=600)
    except (RuntimeError, subprocess.TimeoutExpired):
        return False
    return True


def _build_base(log: Path) -> None:
    """debootstrap minbase bookworm, with the host's extra CA certificates (so pip and apt inside
    a build reach the outside through the same TLS-inspecting proxy as the host), imported."""
    with tempfile.TemporaryDirectory(prefix="rosetta-standin-", dir="/var/tmp") as work:
        root = Path(work) / "rootfs"
        _run(
            ["debootstrap", "--variant=minbase", "--include=ca-certificates", "bookworm", str(root), MIRROR],
            log,
            timeout=1200,
        )
        extra = sorted(EXTRA_CA_DIR.glob("*.crt")) if EXTRA_CA_DIR.is_dir() else []
        if extra:
            target = root / EXTRA_CA_DIR.relative_to("/")
            target.mkdir(parents=True, exist_ok=True)
            for cert in extra:
                shutil.copy(cert, target / cert.name)
            _run(["chroot", str(root), "update-ca-certificates"], log, timeout=120)
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (root / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        try:
            _run(["docker", "import", "-", BASE], log, timeout=600, stdin=tar.stdout.fileno())
        finally:
            tar.stdout.close()
            tar.wait(60)


def base_images(log: Path) -> dict[str, str]:
    """Each base image under its official name; returns name -> "pulled", "cached" or "stand-in built"."""
    done: dict[str, str] = {}
    for name, dockerfile in STANDINS.items():
        if _pull(name, log):
            done[name] = "pulled"
            continue
        if image_exists(name):
            done[name] = "cached"
            continue
        if not image_exists(BASE):
            _build_base(log)
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        with log.open("a") as out:
            completed = subprocess.run(
                ["docker", "build", "--network", "host", "-t", name, "-f", str(HERE / dockerfile), str(HERE)],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=1200,
                env=env,
            )
        if completed.returncode != 0:
            raise RuntimeError(f"building the stand-in for {name} failed; see {log}")
        done[name] = "stand-in built"
    return done
