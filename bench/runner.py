"""Runs the benchmark: server processes pinned apart from the load, rounds, CPU and RSS accounting.

Every server (a style under ``rosetta serve`` or a floor) is its own process, pinned to the
server core(s); the load generators are other processes pinned to the remaining core(s). Server
CPU comes from the kernel's accounting of the server process (``/proc/PID/stat``) over the
measured window; the generator reports its own CPU over the same window.

Size: over 500 lines, and ``run_asyncio_load`` over 80: the whole measurement protocol (servers,
pinning, rounds, accounting, verdicts) in the order it runs; splitting it is still to do.
"""

# pylint: disable=too-many-lines

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import auth as bench_auth
from bench import contention, loadgen, native
from bench.capture import CapturingRelay, Seeded, client_class, prepare
from bench.contention import MeasuredServer, stop_process
from bench.floors import FLOOR_OF, FLOORS, LIST_FLOORS
from bench.workload import MIXES, Templates

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
SATURATED = 0.90  # generator CPU share at or above which a figure is the generator's, not the server's


@dataclass
class Settings:
    styles: list[str]
    mixes: list[str]
    duration: float = 10.0
    warmup: float = 3.0
    connections: int = 32
    rounds: int = 3
    floors: bool = True
    wire_ops: int = 40
    generator_processes: int = 0  # 0: one per generator core
    target_http: str | None = None  # drive an existing deployment: http://host:port
    target_grpc: str | None = None  # host:port
    language: str = "en"
    grpc_generator: str = "auto"  # auto: h2load for gRPC get/list when installed; asyncio; h2load
    noisy_spread: float = 0.20  # (max - min) / median above which a figure is marked noisy
    rate: float | None = None  # open loop: operations per second offered to every style and floor
    rate_sweep: list[float] | None = None  # open loop, a curve per style: these rates ([] = automatic)
    slo_ms: float = 50.0  # the p99 target of the sweep's verdict
    drain: float = 2.0  # open loop: seconds an answer may arrive after the window before it is unfinished
    scenarios: list[str] = field(default_factory=list)
    scenario_iterations: int = 50
    topology: str = "direct"  # direct, or edge: nginx in front (tests/support/topology)
    # Extra environment per server launch (e.g. auth settings); the bench's own clients must match.
    server_env: dict[str, str] = field(default_factory=dict)
    auth: str = "off"  # bench/auth.py: off, apikey or jwt (what the servers check, what the clients send)


@dataclass
class Placement:
    server_cpus: list[int]
    generator_cpus: list[int]
    pinned: bool
    note: str

    @classmethod
    def decide(cls) -> Placement:
        try:
            cpus = sorted(os.sched_getaffinity(0))
        except AttributeError:
            count = os.cpu_count() or 1
            return cls([], [], False, f"no sched_setaffinity on this platform ({count} CPUs, shared)")
        if len(cpus) < 2:
            return cls(cpus, cpus, False, "one CPU: server and load share it (figures are pessimistic)")
        half = max(1, len(cpus) // 2)
        server, generator = cpus[:half], cpus[half:]
        return cls(
            server, generator, True, f"server pinned to CPU {server}, load generator to CPU {generator}"
        )


@dataclass
class Measurement:
    name: str  # style or floor name
    kind: str  # "style" or "floor"
    protocol: str  # the style whose requests were sent
    mix: str
    round: int
    operations: int
    window: float
    ops_per_s: float
    latency_ms: dict[str, float]
    errors: int
    error_samples: list[str]
    generator: str
    generator_cpu_share: float
    generator_saturated: bool
    connections: int
    server_cpu_ms_per_op: float | None = None
    server_cpu_share: float | None = None
    server_peak_rss_mb: float | None = None
    # Share of the server CPU(s) used by other processes in the window (a shared machine's noise).
    others_on_server_cpus: float | None = None
    per_operation: dict[str, dict[str, float]] = field(default_factory=dict)
    contention: dict[str, Any] = field(default_factory=dict)
    intended_rate: float | None = None  # open loop: the offered rate (None: closed loop)
    unfinished: int = 0  # open loop: operations of the window still unanswered after the drain


def child_environment() -> dict[str, str]:
    """Subprocesses import this checkout's packages wherever ``rosetta bench`` was started."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PROJECT_ROOT, env.get("PYTHONPATH", "")) if p)
    return env


def cores_busy_seconds(cpus: list[int]) -> float | None:
    """Busy time of these CPUs from /proc/stat (everyone's work, not only the server's)."""
    if not cpus:
        return None
    wanted = {f"cpu{c}" for c in cpus}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = 0
    for line in lines:
        parts = line.split()
        if parts and parts[0] in wanted:
            values = [int(v) for v in parts[1:]]
            busy += sum(values) - values[3] - (values[4] if len(values) > 4 else 0)  # minus idle, iowait
    return busy / CLOCK_TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "p99.9": 0.0, "max": 0.0}
    ordered = sorted(values)
    last = len(ordered) - 1

    def at(q: float) -> float:
        return ordered[min(last, int(round(q * last)))] * 1000

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p99.9": at(0.999),
        "max": ordered[-1] * 1000,
    }


def hdr_percentiles(histogram: Any) -> dict[str, float]:
    """The same percentiles from an HDR histogram of microseconds."""
    if histogram is None or not histogram.get_total_count():
        return percentiles([])
    at = histogram.get_value_at_percentile
    return {
        "p50": at(50) / 1000,
        "p90": at(90) / 1000,
        "p99": at(99) / 1000,
        "p99.9": at(99.9) / 1000,
        "max": histogram.get_max_value() / 1000,
    }


DETECTOR: contention.Detector | None = None  # set by execute(): calibrated once per run


class ServerProcess:
    """A server in its own process, pinned; CPU and peak RSS read from /proc."""

    def __init__(self, argv: list[str], ports: list[int], cpus: list[int], env: dict[str, str] | None = None):
        self.argv = argv
        self.ports = ports
        self.cpus = cpus
        self.env = {**child_environment(), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(
            self.argv, stdout=self.log, stderr=subprocess.STDOUT, env=self.env, stdin=subprocess.DEVNULL
        )
        try:
            self._wait_ready(self.process)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        if self.cpus:
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setaffinity(process.pid, set(self.cpus))
        deadline = time.monotonic() + 30
        for port in self.ports:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server {self.argv} exited: {self.output()}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server {self.argv} did not listen on {port}: {self.output()}")
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.log.closed:
            return
        stop_process(self.process)
        self.log.close()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-2000:].decode(errors="replace")

    def banner(self) -> str:
        """What the server printed first (``rosetta serve``'s banner, with the demo client's key)."""
        self.log.seek(0)
        return self.log.read(16384).decode(errors="replace")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime, all threads

    def peak_rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0


def style_server(
    style: str, port: int, grpc_port: int, cpus: list[int], extra_env: dict[str, str] | None = None
) -> ServerProcess:
    """``rosetta serve`` for one style, in memory; access log off, the WebSocket rate limit lifted."""
    argv = [sys.executable, "-m", "gateway.cli", "serve", "--styles", style, "--host", "127.0.0.1"]
    argv += [
        "--port",
        str(port),
        "--grpc-port",
        str(grpc_port),
        "--db",
        "memory://",
        "--log-level",
        "warning",
    ]
    # Without extra_env the styles are compared as pure protocols; `rosetta bench --auth` (bench/auth.py,
    # default apikey) turns the checks on and gives the load the demo client's credential.
    env = {
        "ROSETTA_ACCESS_LOG": "false",
        "ROSETTA_WS_RATE_PER_SECOND": "0",
        "ROSETTA_AUTH": "off",
        **(extra_env or {}),
    }
    ports = [grpc_port] if style == "grpc" else []
    server = ServerProcess(argv, [port, *ports], cpus, env)
    return server


def floor_server(kind: str, port: int, cpus: list[int]) -> ServerProcess:
    return ServerProcess([sys.executable, "-m", "bench.floors", kind, str(port)], [port], cpus)


# -- the load ------------------------------------------------------------------------------


def run_load(
    settings: Settings,
    placement: Placement,
    protocol: str,
    host: str,
    port: int,
    templates: Templates,
    mix: str,
    run: int,
    server: MeasuredServer | None,
    rate: float | None = None,
) -> dict[str, Any]:
    """The load of one run, by h2load where it fits and is wanted, else by the asyncio generator."""
    wanted = settings.grpc_generator
    if rate:  # h2load paces connections, not requests: the open loop is the asyncio generator's
        return run_asyncio_load(settings, placement, protocol, host, port, templates, mix, run, server, rate)
    if wanted == "h2load" or (wanted == "auto" and native.fits(protocol, mix)):
        if not native.fits(protocol, mix):
            raise RuntimeError(
                f"h2load cannot drive {protocol}/{mix} (installed: {bool(native.h2load_path())})"
            )
        return native.run_h2load(
            host=host,
            port=port,
            message=templates.get if mix == "get" else templates.list,
            mix=mix,
            detector=DETECTOR,
            connections=settings.connections,
            warmup=settings.warmup,
            duration=settings.duration,
            cpus=placement.generator_cpus if placement.pinned else [],
            server=server,
            language=settings.language,
            metadata=bench_auth.current().grpc_metadata(),
        )
    return run_asyncio_load(settings, placement, protocol, host, port, templates, mix, run, server)


def run_asyncio_load(  # pylint: disable=function-too-long
    settings: Settings,
    placement: Placement,
    protocol: str,
    host: str,
    port: int,
    templates: Templates,
    mix: str,
    run: int,
    server: MeasuredServer | None,
    rate: float | None = None,
) -> dict[str, Any]:
    """Start the generator processes, warm up, measure one window; the raw figures of the run."""
    processes = settings.generator_processes or max(1, len(placement.generator_cpus))
    processes = min(processes, settings.connections)
    env = child_environment()
    if placement.pinned:
        env["ROSETTA_BENCH_CPUS"] = ",".join(map(str, placement.generator_cpus))
    share, extra = divmod(settings.connections, processes)
    workers: list[tuple[subprocess.Popen[str], Path]] = []
    with tempfile.TemporaryDirectory(prefix="rosetta-bench-") as tmp:
        first = 0
        for index in range(processes):
            count = share + (1 if index < extra else 0)
            spec = {
                "style": protocol,
                "host": host,
                "port": port,
                "mix": mix,
                "connections": count,
                "first_connection": first,
                "total_connections": settings.connections,
                "run": run,
                "templates": templates.to_json(),
                "language": settings.language,
                "metadata": bench_auth.current().grpc_metadata(),
                "rate": (rate or 0.0) * count / settings.connections,
                "drain": settings.drain,
            }
            first += count
            path = Path(tmp) / f"worker{index}.json"
            path.write_text(json.dumps(spec))
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.loadgen", str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            workers.append((proc, path))
        for proc, _ in workers:
            line = proc.stdout.readline() if proc.stdout else ""
            if line.strip() != "ready":
                stderr = proc.stderr.read() if proc.stderr else ""
                for other, _ in workers:
                    other.kill()
                    other.communicate()
                raise RuntimeError(f"load generator failed to start: {line!r} {stderr[-1500:]}")
        probe_before = DETECTOR.probe_now() if DETECTOR else None
        begin = time.time() + 0.2
        t0 = begin + settings.warmup
        t1 = t0 + settings.duration
        for proc, _ in workers:
            assert proc.stdin is not None
            proc.stdin.write(f"START {begin} {t0} {t1}\n")
            proc.stdin.flush()
        time.sleep(max(0.0, t0 - time.time()))
        cpu_start = server.cpu_seconds() if server else None
        busy_start = cores_busy_seconds(placement.server_cpus)
        pids = contention.server_pids(server)
        probe_window = DETECTOR.open(pids) if DETECTOR else None
        time.sleep(max(0.0, t1 - time.time()))
        cpu_end = server.cpu_seconds() if server else None
        busy_end = cores_busy_seconds(placement.server_cpus)
        server_cpu = cpu_end - cpu_start if cpu_start is not None and cpu_end is not None else None
        figures = DETECTOR.close(probe_window, server_cpu) if DETECTOR and probe_window else {}
        results = []
        for proc, path in workers:
            try:
                _, stderr = proc.communicate(timeout=settings.duration + settings.drain + 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise RuntimeError("load generator did not finish") from None
            result_path = path.with_suffix(".result.json")
            if proc.returncode != 0 or not result_path.exists():
                raise RuntimeError(f"load generator failed: {stderr[-1500:]}")
            results.append(json.loads(result_path.read_text()))
        probe_after = DETECTOR.probe_now() if DETECTOR else None
        found = DETECTOR.verdict(figures, [probe_before, probe_after]) if DETECTOR else {}
    window = t1 - t0
    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    samples: list[str] = []
    for result in results:
        for kind, values in result["latencies"].items():
            latencies.setdefault(kind, []).extend(values)
        for kind, count in result["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
        samples.extend(result["error_samples"])
    generator_cpu = sum(r["cpu_seconds"] for r in results)
    generator_cores = max(1, len(placement.generator_cpus)) if placement.pinned else (os.cpu_count() or 1)
    histograms: dict[str, Any] = {}
    for result in results:
        for kind, encoded in result.get("histograms", {}).items():
            if kind not in histograms:
                histograms[kind] = loadgen.histogram()
            histograms[kind].decode_and_add(encoded.encode())
    return {
        "window": window,
        "latencies": latencies,
        "histograms": histograms,
        "intended": sum(r.get("intended", 0) for r in results),
        "unfinished": sum(r.get("unfinished", 0) for r in results),
        "completed": sum(r["operations"] for r in results),
        "rate": rate,
        "contention": found,
        "errors": errors,
        "error_samples": samples[:5],
        "generator_cpu_share": generator_cpu / window / min(generator_cores, processes),
        "server_cpu_seconds": (cpu_end - cpu_start)
        if cpu_start is not None and cpu_end is not None
        else None,
        "server_cores_busy_seconds": (busy_end - busy_start)
        if busy_start is not None and busy_end is not None
        else None,
    }


def measurement(
    name: str,
    kind: str,
    protocol: str,
    mix: str,
    round_index: int,
    raw: dict[str, Any],
    settings: Settings,
    server: MeasuredServer | None,
) -> Measurement:
    all_latencies = [value for values in raw["latencies"].values() for value in values]
    window = raw["window"]
    histograms = raw.get("histograms") or {}
    if raw.get("rate"):  # open loop: what completed in the window, latency from the intended send time
        rate = raw["completed"] / window if window else 0.0
        latency = hdr_percentiles(histograms.get("all"))
        per_operation = {
            op: {"count": h.get_total_count(), **hdr_percentiles(h)}
            for op, h in histograms.items()
            if op != "all"
        }
    else:
        rate = raw.get("ops_per_s") or (len(all_latencies) / window if window else 0.0)
        latency = percentiles(all_latencies)
        per_operation = {
            op: {"count": len(values), **percentiles(values)} for op, values in raw["latencies"].items()
        }
    operations = round(rate * window)
    cpu = raw["server_cpu_seconds"]
    found = raw.get("contention") or {}
    others = found.get("others_share")
    return Measurement(
        name=name,
        kind=kind,
        protocol=protocol,
        mix=mix,
        round=round_index,
        operations=operations,
        window=window,
        ops_per_s=rate,
        latency_ms=latency,
        errors=sum(raw["errors"].values()),
        error_samples=raw["error_samples"],
        generator=raw.get("generator", "asyncio"),
        generator_cpu_share=raw["generator_cpu_share"],
        generator_saturated=raw["generator_cpu_share"] >= SATURATED,
        connections=settings.connections,
        server_cpu_ms_per_op=(cpu * 1000 / operations) if cpu is not None and operations else None,
        server_cpu_share=(cpu / window) if cpu is not None else None,
        server_peak_rss_mb=server.peak_rss_mb() if server else None,
        others_on_server_cpus=others if others is not None else _others(raw, window),
        per_operation=per_operation,
        contention=found,
        intended_rate=raw.get("rate"),
        unfinished=raw.get("unfinished", 0),
    )


def _others(raw: dict[str, Any], window: float) -> float | None:
    busy, own = raw.get("server_cores_busy_seconds"), raw.get("server_cpu_seconds")
    if busy is None or own is None or not window:
        return None
    return max(0.0, float(busy) - float(own)) / window


# -- bytes on the wire ---------------------------------------------------------------------


async def _wire_pass(
    protocol: str, host: str, port: int, templates: Templates, mix: str, ops: int
) -> dict[str, Any]:
    """One connection through a counting relay: connection setup, then ``ops`` operations of the mix."""
    async with CapturingRelay(host, port) as relay:
        relayed = templates.retarget("127.0.0.1", relay.port) if templates.host_header else templates
        spec = loadgen.Spec(
            protocol,
            "127.0.0.1",
            relay.port,
            mix,
            1,
            0,
            1,
            1,
            relayed,
            metadata=bench_auth.current().grpc_metadata(),
        )
        client = loadgen.make_client(spec)
        await client.open()
        tally = loadgen.Tally()
        await loadgen.run_connection(spec, client, 0, (0.0, 1e18), tally, limit=2)
        await asyncio.sleep(0.05)
        setup_up, setup_down = relay.count.to_server, relay.count.to_client
        relay.count.reset()
        spec.run = 2
        requests = await loadgen.run_connection(spec, client, 1, (0.0, 1e18), tally, limit=ops)
        await asyncio.sleep(0.05)
        up, down = relay.count.to_server, relay.count.to_client
        await client.close()
    return {
        "operations": ops,
        "requests": requests,
        "to_server_per_op": up / ops,
        "to_client_per_op": down / ops,
        "to_server_per_request": up / requests if requests else 0.0,
        "to_client_per_request": down / requests if requests else 0.0,
        "setup_to_server": setup_up,
        "setup_to_client": setup_down,
        "errors": sum(tally.errors.values()),
        "error_samples": tally.error_samples,
    }


def wire_pass(
    protocol: str, host: str, port: int, templates: Templates, mix: str, ops: int
) -> dict[str, Any]:
    return asyncio.run(_wire_pass(protocol, host, port, templates, mix, ops))


# -- the whole run -------------------------------------------------------------------------


@dataclass
class Outcome:
    settings: Settings
    placement: Placement
    measurements: list[Measurement] = field(default_factory=list)
    wire: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # name -> mix -> figures
    verification: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    sweep: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # style -> points by rate
    scenarios: dict[str, Any] = field(default_factory=dict)
    probe_usual_ms: float | None = None
    started: float = field(default_factory=time.time)
    finished: float = 0.0

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Outcome:
        """A written run read back (to render it again, or compare it)."""
        outcome = cls(Settings(**document["settings"]), Placement(**document["placement"]))
        outcome.measurements = [Measurement(**m) for m in document["measurements"]]
        for key in (
            "wire",
            "verification",
            "skipped",
            "sweep",
            "scenarios",
            "probe_usual_ms",
            "started",
            "finished",
        ):
            setattr(outcome, key, document.get(key, getattr(outcome, key)))
        return outcome

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": asdict(self.settings),
            "placement": asdict(self.placement),
            "measurements": [asdict(m) for m in self.measurements],
            "wire": self.wire,
            "verification": self.verification,
            "skipped": self.skipped,
            "sweep": self.sweep,
            "slo": slo_verdicts(self),
            "scenarios": self.scenarios,
            "probe_usual_ms": self.probe_usual_ms,
            "started": self.started,
            "finished": self.finished,
        }


Progress = Callable[[str, float], None]  # (what is happening, how many steps are done)


def plan_steps(settings: Settings) -> int:
    if settings.rate_sweep is not None:
        return len(settings.styles) * len(sweep_rates(settings))
    floors = sum(len(floors_for(s)) for s in settings.styles)
    per_round = len(settings.styles) * len(settings.mixes) + (floors if settings.floors else 0)
    # (an edge run happens inside its style's step)
    return per_round * settings.rounds


def floor_mixes(floor: str, mixes: list[str]) -> list[str]:
    """A floor serves get; the list floors also a fixed page of 20, measured when ``list`` is."""
    return ["get"] + (["list"] if "list" in mixes and floor in LIST_FLOORS else [])


# Extra reference floors, reported but not the style's floor: the host's share of the cost.
EXTRA_FLOORS: dict[str, tuple[str, ...]] = {
    "rest": ("asgi",),
    "grpc": ("grpc-sync",),
    "websocket": ("uvicorn-ws",),
}


def floors_for(style: str) -> tuple[str, ...]:
    return (*EXTRA_FLOORS.get(style, ()), *FLOOR_OF[style])


def execute(settings: Settings, progress: Progress) -> Outcome:
    placement = Placement.decide()
    if settings.target_http or settings.target_grpc:
        load = (
            f"load generator pinned to CPU {placement.generator_cpus}"
            if placement.pinned
            else "load unpinned"
        )
        placement = Placement(
            [],
            placement.generator_cpus if placement.pinned else [],
            placement.pinned,
            f"external target: no server started, no server CPU figures; {load}",
        )
    outcome = Outcome(settings, placement)
    global DETECTOR
    DETECTOR = contention.Detector(placement.server_cpus if placement.pinned else [])
    DETECTOR.calibrate()
    if settings.scenarios:
        styles = [s for s in settings.styles if _available(s, outcome)]
        run_scenarios(settings, placement, outcome, styles, progress)
        _recheck_contention(outcome)
        outcome.finished = time.time()
        return outcome
    if settings.rate_sweep is not None:
        styles = [s for s in settings.styles if _available(s, outcome)]
        sweep(settings, placement, outcome, styles, progress)
        _cross_check(outcome)
        _recheck_contention(outcome)
        outcome.finished = time.time()
        return outcome
    done = 0
    styles = [s for s in settings.styles if _available(s, outcome)]
    templates_of: dict[str, Templates] = {}
    for round_index in range(1, settings.rounds + 1):
        for style in styles:
            progress(f"round {round_index}: {style}", done)
            done = _measure_style(
                settings, placement, outcome, style, round_index, templates_of, progress, done
            )
            if style not in templates_of:
                done += len(floors_for(style)) if settings.floors else 0
                continue
            if settings.floors and not (settings.target_http or settings.target_grpc):
                for floor in floors_for(style):
                    progress(f"round {round_index}: floor {floor}", done)
                    try:
                        _measure_floor(settings, placement, outcome, floor, templates_of[style], round_index)
                    except Exception as error:
                        outcome.skipped[f"floor {floor} (round {round_index})"] = (
                            f"{type(error).__name__}: {str(error)[-400:]}"
                        )
                    done += 1
    _cross_check(outcome)
    _recheck_contention(outcome)
    outcome.finished = time.time()
    progress("done", done)
    return outcome


def _recheck_contention(outcome: Outcome) -> None:
    """Every window's probes against the run's usual probe (the median of all of them, known at the end)."""
    if DETECTOR is None:
        return
    points = [m.contention for m in outcome.measurements]
    points += [point["contention"] for curve in outcome.sweep.values() for point in curve]
    points += [step["contention"] for step in outcome.scenarios.get("results", [])]
    for found in points:
        if found:
            probes = [ms / 1000 for ms in found.get("probe_ms", [])]
            found.update(DETECTOR.verdict(found, list(probes)))
    outcome.probe_usual_ms = DETECTOR.usual_probe * 1000 if DETECTOR.usual_probe else None


# -- the open-loop sweep -------------------------------------------------------------------

SWEEP_START = 100.0
SWEEP_FACTOR = 1.5
SWEEP_STEPS = 14


def sweep_rates(settings: Settings) -> list[float]:
    if settings.rate_sweep:
        return sorted(settings.rate_sweep)
    return [round(SWEEP_START * SWEEP_FACTOR**i) for i in range(SWEEP_STEPS)]


def saturated(point: dict[str, Any], slo_ms: float) -> bool:
    """Past saturation: the server no longer keeps up with the offered rate (or answers far too late)."""
    return bool(
        point["unfinished"]
        or point["ops_per_s"] < 0.9 * point["intended_rate"]
        or point["latency_ms"]["p99"] > 20 * slo_ms
    )


def under_slo(point: dict[str, Any], slo_ms: float) -> bool:
    return (
        not point["errors"]
        and not point["unfinished"]
        and point["ops_per_s"] >= 0.95 * point["intended_rate"]
        and point["latency_ms"]["p99"] < slo_ms
    )


def sweep(
    settings: Settings, placement: Placement, outcome: Outcome, styles: list[str], progress: Progress
) -> None:
    """Each style from a low rate to past its saturation point, on one server per style (mix: the first)."""
    mix = settings.mixes[0]
    rates = sweep_rates(settings)
    done = 0
    for style in styles:
        curve: list[dict[str, Any]] = []
        try:
            with _style_target(settings, placement, style) as (host, port, grpc_port, server):
                grpc_target = f"{host}:{grpc_port}" if grpc_port else None
                seeded, templates = asyncio.run(prepare(style, host, port, grpc_target))
                _record_verification(outcome, style, seeded)
                load_port = grpc_port if style == "grpc" and grpc_port else port
                for number, rate in enumerate(rates, start=1):
                    progress(f"sweep {style} / {mix} at {rate:g}/s", done)
                    raw = run_load(
                        settings, placement, style, host, load_port, templates, mix, number, server, rate
                    )
                    point = asdict(measurement(style, "style", style, mix, 1, raw, settings, server))
                    curve.append(point)
                    done += 1
                    if saturated(point, settings.slo_ms) and not settings.rate_sweep:
                        break
        except Exception as error:
            outcome.skipped[f"{style} sweep"] = f"{type(error).__name__}: {str(error)[-400:]}"
        outcome.sweep[style] = curve


def run_scenarios(
    settings: Settings, placement: Placement, outcome: Outcome, styles: list[str], progress: Progress
) -> None:
    """Each style on a fresh server: seed, check the answers equal across styles, then measure."""
    from bench import scenarios

    wanted = [name for name in settings.scenarios if name in scenarios.SCENARIOS]
    for name in settings.scenarios:
        if name in scenarios.NOT_BUILT:
            outcome.skipped[f"scenario {name}"] = scenarios.NOT_BUILT[name]
    answers: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    pinned_before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    for done, style in enumerate(styles):
        progress(f"scenarios: {style}", done)
        try:
            if placement.pinned:  # this process is the client here: keep it off the server's core
                os.sched_setaffinity(0, set(placement.generator_cpus))
            with _style_target(settings, placement, style) as (host, port, grpc_port, server):
                found, steps = asyncio.run(
                    scenarios.measure_style(
                        style, host, port, grpc_port, server, wanted, settings.scenario_iterations, DETECTOR
                    )
                )
            answers[style] = found
            results.extend(asdict(step) for step in steps)
        except Exception as error:
            outcome.skipped[f"{style} scenarios"] = f"{type(error).__name__}: {str(error)[-400:]}"
        finally:
            if pinned_before is not None:
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(0, pinned_before)
    fan_out: list[dict[str, Any]] = []
    if "fan-out" in wanted:
        fan_out = _fan_out(settings, placement, outcome, styles, progress)
    mismatches = {}
    reference = next(iter(answers), None)
    reference_answers = answers[reference] if reference is not None else {}
    for style, found in answers.items():
        for step, answer in found.items():
            expected = reference_answers.get(step)
            if answer != expected:
                mismatches[f"{style}/{step}"] = {
                    "reference": reference,
                    "expected": str(expected)[:300],
                    "got": str(answer)[:300],
                }
    outcome.scenarios = {
        "described": {name: scenarios.SCENARIOS[name] for name in wanted},
        "iterations": settings.scenario_iterations,
        "same_result": not mismatches and len(answers) == len(styles),
        "mismatches": mismatches,
        "reference": reference,
        "results": results,
        "fan_out": fan_out,
    }


def _fan_out(
    settings: Settings, placement: Placement, outcome: Outcome, styles: list[str], progress: Progress
) -> list[dict[str, Any]]:
    """Each push style (and webhooks with REST) with 1, 10 and 100 subscribers, a fresh server each."""
    from bench import fanout

    push = [s for s in styles if s in fanout.PUSH_STYLES] + (["webhooks"] if "rest" in styles else [])
    if "soap" in styles:
        outcome.skipped["fan-out soap"] = "SOAP has no push (GetEvents polling only, DESIGN §5)"
    events = max(20, settings.scenario_iterations * 2)
    found = []
    pinned_before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    for style in push:
        for subscribers in fanout.FAN:
            progress(f"fan-out: {style} × {subscribers}", 0)
            try:
                if placement.pinned:
                    os.sched_setaffinity(0, set(placement.generator_cpus))
                port, grpc_port = free_port(), free_port()
                served = "rest,webhooks" if style == "webhooks" else style
                env = {"ROSETTA_WEBHOOK_ALLOWLIST": "127.0.0.1", **settings.server_env}
                # Subscribing needs webhooks:manage, which the demo client lacks; the webhooks fan-out
                # measures delivery, so its server runs without identity checks.
                mode = "off" if style == "webhooks" else settings.auth
                if style == "webhooks":
                    env["ROSETTA_AUTH"] = "off"
                with style_server(served, port, grpc_port, placement.server_cpus, env) as server:
                    bench_auth.activate(mode, server.banner(), f"http://127.0.0.1:{port}")
                    found.append(
                        asyncio.run(
                            fanout.measure(
                                style,
                                f"http://127.0.0.1:{port}",
                                f"127.0.0.1:{grpc_port}",
                                subscribers,
                                events,
                                server,
                            )  # fmt: skip
                        )
                    )
            except Exception as error:
                outcome.skipped[f"fan-out {style} × {subscribers}"] = (
                    f"{type(error).__name__}: {str(error)[-400:]}"
                )
            finally:
                if pinned_before is not None:
                    with contextlib.suppress(OSError):
                        os.sched_setaffinity(0, pinned_before)
    return found


def slo_verdicts(outcome: Outcome) -> dict[str, dict[str, Any]]:
    """Per style: the highest offered rate whose p99 stayed under the SLO, counting clean points only."""
    slo = outcome.settings.slo_ms
    found = {}
    for style, curve in outcome.sweep.items():
        clean = [
            p for p in curve if not (p["contention"] or {}).get("contended") and not p["generator_saturated"]
        ]
        good = [p["intended_rate"] for p in clean if under_slo(p, slo)]
        flagged_good = [p["intended_rate"] for p in curve if p not in clean and under_slo(p, slo)]
        best = max(good, default=None)
        found[style] = {
            "slo_ms": slo,
            "max_rate": best,
            "points": len(curve),
            "clean_points": len(clean),
            "saturated_at": next((p["intended_rate"] for p in curve if saturated(p, slo)), None),
            "flagged_higher": max(flagged_good, default=None)
            if flagged_good and (best is None or max(flagged_good) > best)
            else None,
            "never_saturated": bool(curve) and not any(saturated(p, slo) for p in curve),
        }
    return found


def _available(style: str, outcome: Outcome) -> bool:
    if client_class(style) is None:
        outcome.skipped[style] = "its ReservationApi client does not exist yet"
        return False
    return True


@contextlib.contextmanager
def _style_target(
    settings: Settings, placement: Placement, style: str
) -> Iterator[tuple[str, int, int | None, Any]]:
    """(host, http port, grpc port, server process or None) for a style: started here or given."""
    if settings.target_http or settings.target_grpc:
        from urllib.parse import urlsplit

        http = urlsplit(settings.target_http or "http://127.0.0.1:8000")
        host = http.hostname or "127.0.0.1"
        grpc_port = None
        if settings.target_grpc:
            grpc_host, _, grpc_text = settings.target_grpc.rpartition(":")
            grpc_port = int(grpc_text)
            if style == "grpc":
                host = grpc_host
        yield host, http.port or 80, grpc_port, None
        return
    port, grpc_port = free_port(), free_port()
    env = settings.server_env or bench_auth.server_env(settings.auth)
    with style_server(style, port, grpc_port, placement.server_cpus, env) as server:
        # Every client and generator of this server sends its demo client's credential (bench/auth.py).
        bench_auth.activate(settings.auth, server.banner(), f"http://127.0.0.1:{port}")
        yield "127.0.0.1", port, grpc_port, server


def _measure_style(
    settings: Settings,
    placement: Placement,
    outcome: Outcome,
    style: str,
    round_index: int,
    templates_of: dict[str, Templates],
    progress: Progress,
    done: int,
) -> int:
    # A fresh server (and store) per mix: what one mix leaves behind (thousands of canceled
    # reservations after ``write``) must not slow the next one's lists.
    for run, mix in enumerate(settings.mixes, start=1):
        progress(f"round {round_index}: {style} / {mix}", done)
        try:
            with _style_target(settings, placement, style) as (host, port, grpc_port, server):
                grpc_target = f"{host}:{grpc_port}" if grpc_port else None
                seeded, templates = asyncio.run(prepare(style, host, port, grpc_target))
                templates_of[style] = templates
                _record_verification(outcome, style, seeded)
                load_port = grpc_port if style == "grpc" and grpc_port else port
                per_mix = outcome.wire.setdefault(style, {})
                if mix not in per_mix:
                    per_mix[mix] = wire_pass(style, host, load_port, templates, mix, settings.wire_ops)
                raw = run_load(
                    settings,
                    placement,
                    style,
                    host,
                    load_port,
                    templates,
                    mix,
                    round_index * 10 + run,
                    server,
                    settings.rate,
                )
                outcome.measurements.append(
                    measurement(style, "style", style, mix, round_index, raw, settings, server)
                )
                if settings.topology == "edge" and server is not None and grpc_port:
                    _measure_edge(
                        settings, placement, outcome, style, mix, round_index, run, server, port, grpc_port,
                        templates,
                    )  # fmt: skip
        except Exception as error:  # a broken style or mix must not sink the others' figures
            outcome.skipped[f"{style}/{mix} (round {round_index})"] = (
                f"{type(error).__name__}: {str(error)[-400:]}"
            )
        done += 1
    return done


def _measure_edge(
    settings: Settings,
    placement: Placement,
    outcome: Outcome,
    style: str,
    mix: str,
    round_index: int,
    run: int,
    server: ServerProcess,
    port: int,
    grpc_port: int,
    templates: Templates,
) -> None:
    """The same server and mix through the compose edge's nginx: the extra hop's cost, same run."""
    from bench.edge import BehindEdge, Edge

    name = f"{style}+edge"
    with Edge(port, grpc_port, placement.server_cpus if placement.pinned else []) as edge:
        edge_port = edge.grpc_port if style == "grpc" else edge.http_port
        through = templates.retarget("127.0.0.1", edge_port)
        per_mix = outcome.wire.setdefault(name, {})
        if mix not in per_mix:
            per_mix[mix] = wire_pass(style, "127.0.0.1", edge_port, through, mix, settings.wire_ops)
        both = BehindEdge(server, edge)
        raw = run_load(
            settings, placement, style, "127.0.0.1", edge_port, through, mix, round_index * 10 + run + 5,
            both, settings.rate,
        )  # fmt: skip
        outcome.measurements.append(measurement(name, "edge", style, mix, round_index, raw, settings, both))


def _measure_floor(
    settings: Settings,
    placement: Placement,
    outcome: Outcome,
    floor: str,
    style_templates: Templates,
    round_index: int,
) -> None:
    protocol = FLOORS[floor][0]
    port = free_port()
    with floor_server(floor, port, placement.server_cpus) as server:
        templates = style_templates.retarget("127.0.0.1", port)
        if floor not in outcome.wire:
            outcome.wire[floor] = {
                "get": wire_pass(protocol, "127.0.0.1", port, templates, "get", settings.wire_ops)
            }
        for number, mix in enumerate(floor_mixes(floor, settings.mixes), start=1):
            if mix not in outcome.wire[floor]:
                outcome.wire[floor][mix] = wire_pass(
                    protocol, "127.0.0.1", port, templates, mix, settings.wire_ops
                )
            raw = run_load(
                settings,
                placement,
                protocol,
                "127.0.0.1",
                port,
                templates,
                mix,
                number,
                server,
                settings.rate,
            )
            outcome.measurements.append(
                measurement(floor, "floor", protocol, mix, round_index, raw, settings, server)
            )


def _record_verification(outcome: Outcome, style: str, seeded: Seeded) -> None:
    outcome.verification.setdefault("normalized", {})[style] = seeded.normalized


def _cross_check(outcome: Outcome) -> None:
    """Every style must have returned the same normalized get and list (ids and timestamps aside)."""
    normalized: dict[str, Any] = outcome.verification.get("normalized", {})
    reference_style = next(iter(normalized), None)
    reference_value = normalized.get(reference_style) if reference_style is not None else None
    mismatches = {}
    for style, value in normalized.items():
        if value != reference_value:
            mismatches[style] = f"differs from {reference_style}"
    wire_errors = {
        f"{name}/{mix}": figures["error_samples"]
        for name, per_mix in outcome.wire.items()
        for mix, figures in per_mix.items()
        if figures["errors"]
    }
    outcome.verification["same_result"] = not mismatches
    outcome.verification["mismatches"] = mismatches
    outcome.verification["replay_errors"] = wire_errors
    outcome.verification["reference"] = reference_style


# The targets: (style, mix) -> (its one baseline floor, minimum ratio to that floor's same mix).
TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("rest", "get"): ("fastapi", 0.95),
    ("graphql", "get"): ("strawberry", 1.1),
    ("grpc", "get"): ("grpc-aio", 1.0),
    ("soap", "get"): ("spyne", 0.8),
    ("websocket", "get"): ("websockets", 0.6),
    **{(style, "list"): (FLOOR_OF[style][0], 0.7) for style in FLOOR_OF},
}


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each style's get and list against the issue's target ratio to its floor (same mix)."""
    found = []
    floor_cpu = {
        (row["name"], row["mix"]): row.get("server_cpu_ms_per_op") for row in rows if row["kind"] == "floor"
    }
    for row in rows:
        key = (row["name"], row["mix"])
        if row["kind"] != "style" or key not in TARGETS:
            continue
        floor, minimum = TARGETS[key]
        ratio = row["ratio_to_floor"] if row["floor"] == floor and row["floor_mix"] == row["mix"] else None
        reasons = row_flags(row)
        own, base = row.get("server_cpu_ms_per_op"), floor_cpu.get((floor, row["mix"]))
        found.append(
            {
                "style": row["name"],
                "mix": row["mix"],
                "floor": floor,
                "target": minimum,
                "ratio": ratio,
                "met": None if ratio is None or reasons else ratio >= minimum,
                "trustworthy": not reasons,
                "flags": reasons,
                # What the adapter and core add per operation, in server CPU: a budget one run can judge
                # where a ratio near 1 flips with the host (README, "One run on this machine").
                "cpu_over_floor_us": None if own is None or base is None else (own - base) * 1000,
            }
        )
    return found


def row_flags(row: dict[str, Any]) -> list[str]:
    """Why a row's figure cannot decide a verdict (its own and its floor's flags)."""
    flags = []
    if row["generator_saturated"]:
        flags.append("GEN-BOUND")
    if row["noisy"]:
        flags.append("noisy")
    if row.get("contended"):
        flags.append("contended (" + "; ".join(row.get("contention_reasons") or []) + ")")
    if row["errors"]:
        flags.append(f"{row['errors']} errors")
    if row.get("floor_flags"):
        flags.append(f"floor {row['floor']}: " + ", ".join(row["floor_flags"]))
    return flags


def contention_summary(ms: list[Measurement]) -> list[str]:
    """The flagged rounds' witnesses, each once at its worst: ``2/3 rounds: others 90%, probe +386%``."""
    flagged = [m.contention for m in ms if (m.contention or {}).get("contended")]
    if not flagged:
        return []
    worst: dict[str, float] = {}
    for found in flagged:
        for reason in found.get("reasons", []):
            kind, _, value = reason.partition(" ")
            number = float(value.strip("+%") or 0)
            worst[kind] = max(worst.get(kind, 0.0), number)
    parts = [f"{kind} {'+' if kind == 'probe' else ''}{value:.0f}%" for kind, value in worst.items()]
    return [f"{len(flagged)}/{len(ms)} rounds: " + ", ".join(parts)]


def used_rounds(rounds: list[Measurement]) -> tuple[list[Measurement], bool]:
    """The rounds a row's figures come from, and whether the row is flagged contended.

    The clean rounds when they are the majority (a noisy neighbour that slowed one round of three costs
    that round, not the row's verdict); otherwise every round, and the row is flagged."""
    clean = [m for m in rounds if not (m.contention or {}).get("contended")]
    if len(clean) * 2 > len(rounds):
        return clean, False
    return rounds, True


def median_spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def summarize(outcome: Outcome) -> list[dict[str, Any]]:
    """One row per (name, mix): medians over rounds with min-max, ratio to the protocol's floor."""
    every_round: dict[tuple[str, str], list[Measurement]] = {}
    for m in outcome.measurements:
        every_round.setdefault((m.name, m.mix), []).append(m)
    chosen = {key: used_rounds(ms) for key, ms in every_round.items()}  # (rounds used, contended)
    groups = {key: used for key, (used, _) in chosen.items()}
    floor_ops = {
        key: statistics.median(m.ops_per_s for m in ms) for key, ms in groups.items() if ms[0].kind == "floor"
    }
    rows = []
    for (name, mix), ms in groups.items():
        first = ms[0]
        ops, low, high = median_spread([m.ops_per_s for m in ms])
        cpu = [m.server_cpu_ms_per_op for m in ms if m.server_cpu_ms_per_op is not None]
        rss = [m.server_peak_rss_mb for m in ms if m.server_peak_rss_mb is not None]
        row: dict[str, Any] = {
            "name": name,
            "kind": first.kind,
            "protocol": first.protocol,
            "mix": mix,
            "rounds": len(every_round[(name, mix)]),
            "rounds_used": len(ms),
            "ops_per_s": ops,
            "ops_per_s_min": low,
            "ops_per_s_max": high,
            "noisy": bool(ops) and (high - low) / ops > outcome.settings.noisy_spread,
            "p50_ms": statistics.median(m.latency_ms["p50"] for m in ms),
            "p90_ms": statistics.median(m.latency_ms["p90"] for m in ms),
            "p99_ms": statistics.median(m.latency_ms["p99"] for m in ms),
            "max_ms": max(m.latency_ms["max"] for m in ms),
            "errors": sum(m.errors for m in ms),
            "server_cpu_ms_per_op": statistics.median(cpu) if cpu else None,
            "server_peak_rss_mb": max(rss) if rss else None,
            "generator_cpu_share": max(m.generator_cpu_share for m in ms),
            "generator_saturated": any(m.generator_saturated for m in ms),
            "others_on_server_cpus": max(
                (m.others_on_server_cpus for m in ms if m.others_on_server_cpus is not None), default=None
            ),
            "contended": chosen[(name, mix)][1],
            "contention_reasons": contention_summary(every_round[(name, mix)]),
            "p999_ms": statistics.median(m.latency_ms.get("p99.9", 0.0) for m in ms),
            "intended_rate": first.intended_rate,
            "unfinished": sum(m.unfinished for m in ms),
            "generator": first.generator,
            "floor": None,
            "floor_mix": None,
            "ratio_to_floor": None,
        }
        if first.kind == "edge":  # compared with the same style, same mix, direct
            direct = groups.get((first.protocol, mix))
            value = statistics.median(m.ops_per_s for m in direct) if direct else None
            if value:
                row["floor"], row["floor_mix"], row["ratio_to_floor"] = first.protocol, mix, ops / value
        elif first.kind == "style" and name in FLOOR_OF:
            # One baseline per style (the library it is built on), its same mix when the floor serves it.
            floor = FLOOR_OF[name][0]
            floor_mix = mix if (floor, mix) in floor_ops else "get"
            value = floor_ops.get((floor, floor_mix))
            if value:
                row["floor"], row["floor_mix"], row["ratio_to_floor"] = floor, floor_mix, ops / value
        wire = outcome.wire.get(name, {}).get(mix)
        row["bytes_to_server_per_op"] = wire["to_server_per_request"] if wire else None
        row["bytes_to_client_per_op"] = wire["to_client_per_request"] if wire else None
        rows.append(row)
    flags_of = {(r["name"], r["mix"]): row_flags(r) for r in rows if r["kind"] == "floor"}
    for row in rows:
        if row["floor"]:
            row["floor_flags"] = flags_of.get((row["floor"], row["floor_mix"]), [])
    order = {s: i for i, s in enumerate(["rest", "graphql", "grpc", "soap", "websocket"])}
    mix_order = {m: i for i, m in enumerate(MIXES)}
    rows.sort(
        key=lambda r: (
            order.get(r["protocol"], 9),
            {"style": 0, "edge": 1}.get(r["kind"], 2),
            r["name"],
            mix_order.get(r["mix"], 9),
        )
    )
    return rows
