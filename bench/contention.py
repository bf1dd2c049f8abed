"""Is the server's core really the server's? Three independent witnesses, sampled around each window.

1. **Other processes**: every task on the machine whose CPU time grew during the window while it
   last ran on a server core (``/proc/*/task/*/stat``), named, plus the core's total busy time
   minus the server's own.
2. **Steal**: time the hypervisor gave the server's vCPU to someone else (``/proc/stat``), which
   no process on this machine shows.
3. **A calibrated probe**: a fixed CPU-bound loop in a fresh process pinned to the server core(s),
   about a quarter of a second long, timed before and after each window. Its calibration is the
   run's *usual* probe time (the median of every probe so far, five before the first window); a
   window whose probes took on average more than 15 % longer ran on a slower or shared core: a
   process the first witness missed, a sibling hyper-thread or a noisy neighbour on the host,
   frequency scaling.

Why the probe is built so: a probe of a few milliseconds, run in the bench's own process, missed a
CPU hog pinned to the server core (the scheduler runs a task that has just woken up ahead of one
that has been running, so a short probe finishes before it is made to share; a quarter of a second
spans many scheduling periods and shares the core as the server did), and could wait on the bench's
own threads for the GIL. And the run's *fastest* probe is no calibration on a virtual machine whose
host lends it a full core only some of the time: the same loop took 225-432 ms on an idle machine
here (wall time equal to CPU time), so against the fastest, every window looked slowed.

A flagged round is shown but never used for a target verdict; a row of several rounds takes its
figures from its clean rounds when they are the majority (``runner.summarize``).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


def stop_process(process: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """Terminate a server process that is still running, and kill it if it does not end in time."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class MeasuredServer(Protocol):
    """A server whose CPU and memory a run reads: a ServerProcess, or one behind an edge."""

    def cpu_seconds(self) -> float: ...

    def peak_rss_mb(self) -> float: ...


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
OTHERS_LIMIT = 0.15  # share of the server core used by other processes
STEAL_LIMIT = 0.05  # share of the server core's time stolen by the hypervisor
PROBE_LIMIT = 0.15  # the window's probes slower than the run's usual probe by more than this
PROBE_LOOP = 2_000_000  # about 0.25 s of pure Python here: many scheduling periods long

_PROBE_PROGRAM = """
import os, sys, time
os.sched_setaffinity(0, {int(c) for c in sys.argv[2].split(",")})
time.sleep(0)
total = 0
started = time.perf_counter()
for i in range(int(sys.argv[1])):
    total += i * i
print(time.perf_counter() - started, total > 0)
"""


def probe(cpus: list[int], loop: int = PROBE_LOOP) -> float | None:
    """Wall time of the fixed loop in a new process pinned to ``cpus`` (None if it cannot run there)."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return None
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE_PROGRAM, str(loop), ",".join(map(str, cpus))],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return float(done.stdout.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def core_times(cpus: list[int]) -> tuple[float, float] | None:
    """(busy seconds, steal seconds) of these CPUs from /proc/stat."""
    if not cpus:
        return None
    wanted = {f"cpu{c}" for c in cpus}
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = steal = 0
    for line in lines:
        parts = line.split()
        if parts and parts[0] in wanted:
            values = [int(v) for v in parts[1:]]
            # user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
            busy += sum(values[:8]) - values[3] - values[4]
            steal += values[7] if len(values) > 7 else 0
    return busy / CLOCK_TICKS, steal / CLOCK_TICKS


def tasks_on(cpus: list[int]) -> dict[tuple[int, int], tuple[str, int, int]]:
    """(pid, tid) -> (command, CPU ticks, last CPU) of every task on the machine."""
    found: dict[tuple[int, int], tuple[str, int, int]] = {}
    if not cpus:
        return found
    proc = Path("/proc")
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        with contextlib.suppress(OSError):
            for task in os.scandir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = Path(f"/proc/{pid}/task/{task.name}/stat").read_text()
                    command = stat[stat.index("(") + 1 : stat.rindex(")")]
                    rest = stat[stat.rindex(")") + 2 :].split()
                    found[(pid, int(task.name))] = (command, int(rest[11]) + int(rest[12]), int(rest[36]))
    return found


@dataclass
class Window:
    """What was sampled at the start of a window."""

    cpus: list[int]
    exclude: set[int]
    started: float
    core: tuple[float, float] | None
    tasks: dict[tuple[int, int], tuple[str, int, int]] = field(default_factory=dict)


@dataclass
class Detector:
    """One per run: keeps every probe, whose median is the run's calibration."""

    cpus: list[int]
    probes: list[float] = field(default_factory=list)

    def calibrate(self, rounds: int = 5) -> None:
        for _ in range(rounds):
            self._keep(probe(self.cpus))

    def _keep(self, value: float | None) -> float | None:
        if value is not None:
            self.probes.append(value)
        return value

    @property
    def usual_probe(self) -> float | None:
        """The run's calibration: the median probe so far."""
        return statistics.median(self.probes) if self.probes else None

    def probe_now(self) -> float | None:
        return self._keep(probe(self.cpus))

    def open(self, exclude: set[int]) -> Window:
        """Start of the measured window; ``exclude``: pids of the server (its own CPU is not noise)."""
        return Window(self.cpus, exclude, time.monotonic(), core_times(self.cpus), tasks_on(self.cpus))

    def close(self, window: Window, server_cpu_seconds: float | None) -> dict[str, Any]:
        """End of the window: others' and steal shares of the server core(s), the busiest others named."""
        elapsed = max(1e-9, time.monotonic() - window.started)
        capacity = elapsed * max(1, len(self.cpus))
        end_core = core_times(self.cpus)
        end_tasks = tasks_on(self.cpus)
        others = steal = None
        if window.core is not None and end_core is not None:
            busy = end_core[0] - window.core[0]
            steal = (end_core[1] - window.core[1]) / capacity
            if server_cpu_seconds is not None:
                others = max(0.0, busy - server_cpu_seconds) / capacity
        wanted = set(self.cpus)
        named: dict[str, float] = {}
        for key, (command, ticks, last_cpu) in end_tasks.items():
            if key[0] in window.exclude or last_cpu not in wanted:
                continue
            before = window.tasks.get(key)
            used = ticks - (before[1] if before else 0)
            if used > 0:
                named[command] = named.get(command, 0.0) + used / CLOCK_TICKS / capacity
        top = {name: round(share, 3) for name, share in sorted(named.items(), key=lambda i: -i[1])[:5]}
        return {"others_share": others, "steal_share": steal, "other_processes": top}

    def verdict(self, figures: dict[str, Any], probes: list[float | None]) -> dict[str, Any]:
        """Adds the probe's slowdown (the window's probes, averaged, against the run's usual) and the flag."""
        measured = [p for p in probes if p is not None]
        usual = self.usual_probe
        slowdown = statistics.fmean(measured) / usual - 1 if measured and usual else None
        others, steal = figures.get("others_share"), figures.get("steal_share")
        reasons = []
        if others is not None and others > OTHERS_LIMIT:
            reasons.append(f"others {others:.0%}")
        if steal is not None and steal > STEAL_LIMIT:
            reasons.append(f"steal {steal:.0%}")
        if slowdown is not None and slowdown > PROBE_LIMIT:
            reasons.append(f"probe +{slowdown:.0%}")
        return {
            **figures,
            "probe_ms": [round(p * 1000, 3) for p in measured],
            "probe_usual_ms": round(usual * 1000, 3) if usual else None,
            "probe_slowdown": slowdown,
            "contended": bool(reasons),
            "reasons": reasons,
        }


def server_pids(server: Any) -> set[int]:
    """The pids whose CPU is the server's: its process and children (and an edge's, when in front)."""
    if server is None:
        return set()
    if hasattr(server, "pids"):
        return set(server.pids())
    process = getattr(server, "process", server)
    if process is None:
        return set()
    pids = {process.pid}
    with contextlib.suppress(OSError):
        for task in os.scandir(f"/proc/{process.pid}/task"):
            with contextlib.suppress(OSError):
                children = Path(f"/proc/{process.pid}/task/{task.name}/children").read_text().split()
                pids.update(int(child) for child in children)
    return pids
