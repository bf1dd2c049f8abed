"""gRPC load with ``h2load`` (nghttp2-client), when installed: a C HTTP/2 generator, lighter than grpc.aio.

Used for the single-request mixes (get, list) of gRPC and its floors: the same pre-serialized
message in a gRPC length-prefixed frame, ``content-type: application/grpc``. h2load judges
success by the HTTP status only (gRPC errors ride in trailers), so the bytes-on-the-wire pass,
which runs through the asyncio generator and checks every grpc-status, doubles as the check
that these requests succeed.

Size: ``run_h2load`` is over 80 lines: building h2load's command line and parsing its report are one
step per protocol, kept together.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.contention import server_pids
from bench.loadgen import GRPC_SERVICE

METHODS = {"get": "GetReservation", "list": "ListReservations"}
_THROUGHPUT = re.compile(r"finished in [\d.]+m?s, ([\d.]+) req/s")


def h2load_path() -> str | None:
    return shutil.which("h2load")


def fits(protocol: str, mix: str) -> bool:
    return protocol == "grpc" and mix in METHODS and h2load_path() is not None


def run_h2load(  # pylint: disable=function-too-long
    *,
    host: str,
    port: int,
    message: bytes,
    mix: str,
    connections: int,
    warmup: float,
    duration: float,
    cpus: list[int],
    server: Any,
    language: str = "en",
    detector: Any = None,
    metadata: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    binary = h2load_path()
    assert binary is not None
    with tempfile.TemporaryDirectory(prefix="rosetta-h2load-") as tmp:
        body = Path(tmp) / "request.bin"
        body.write_bytes(b"\x00" + struct.pack("!I", len(message)) + message)
        log = Path(tmp) / "requests.tsv"
        argv = [binary, "-c", str(connections), "-m", "1", "-t", "1"]
        argv += [
            "-D",
            f"{round(duration * 1000)}ms",
            f"--warm-up-time={round(warmup * 1000)}ms",
            f"--log-file={log}",
            "-d",
            str(body),
        ]
        argv += [
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            "-H",
            f"accept-language: {language}",
        ]
        for name, value in metadata:  # call credentials (bench/auth.py)
            argv += ["-H", f"{name}: {value}"]
        argv.append(f"http://{host}:{port}{GRPC_SERVICE}{METHODS[mix]}")

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, set(cpus))

        probe_before = detector.probe_now() if detector else None
        started = time.time()
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=pin
        )
        # h2load connects (a few ms), warms up, then measures: sample the server around that window.
        t0 = started + 0.05 + warmup
        t1 = t0 + duration
        time.sleep(max(0.0, t0 - time.time()))
        cpu_start = server.cpu_seconds() if server else None
        window = detector.open(server_pids(server)) if detector else None
        time.sleep(max(0.0, t1 - time.time()))
        cpu_end = server.cpu_seconds() if server else None
        server_cpu = cpu_end - cpu_start if cpu_start is not None and cpu_end is not None else None
        figures = detector.close(window, server_cpu) if detector and window else {}
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        output = ""
        if process.stdout is not None:
            output = process.stdout.read()
            process.stdout.close()
        if process.returncode != 0:
            raise RuntimeError(f"h2load failed: {output[-1500:]}")
        probe_after = detector.probe_now() if detector else None
        found = detector.verdict(figures, [probe_before, probe_after]) if detector else {}
        latencies: list[float] = []
        failures = 0
        for line in log.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            if parts[1] != "200":
                failures += 1
                continue
            latencies.append(int(parts[2]) / 1e6)
    match = _THROUGHPUT.search(output)
    generator_cpu = usage.ru_utime + usage.ru_stime
    total_wall = time.time() - started
    errored = re.search(
        r"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored", output
    )
    if errored:
        failures = max(failures, int(errored.group(1)) + int(errored.group(2)))
    return {
        "window": duration,
        "latencies": {mix: latencies},
        "errors": {mix: failures} if failures else {},
        "error_samples": [output[-300:]] if failures else [],
        # h2load's CPU over its whole life (warm-up included) against its wall time: a fair share figure.
        "generator_cpu_share": generator_cpu / total_wall if total_wall else 0.0,
        "server_cpu_seconds": (cpu_end - cpu_start)
        if cpu_start is not None and cpu_end is not None
        else None,
        "ops_per_s": float(match.group(1)) if match else None,
        "generator": "h2load",
        "contention": found,
    }
