"""Where a style's server spends its time under one mix: py-spy samples, summed by frame.

``python -m bench.profile soap list --seconds 6`` starts the style's server as ``rosetta bench``
does (memory store, pinned), seeds and captures as the bench does, drives the mix with the
bench's load generator, and samples the server with ``py-spy record`` (``pip install py-spy``;
it needs ptrace rights over the server: root, or ``kernel.yama.ptrace_scope=0``). It prints the
frames with the largest inclusive share of the samples (a frame counted once per sample) and the
largest self share (only the thread holding the GIL is sampled, so a thread waiting for it
does not count as working), and writes the collapsed stacks (for a flame graph) to ``--output``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.runner import Placement, Settings, free_port, run_load, style_server


def summarize(collapsed: str, top: int) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count

    def share(counts: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(frame, n / total) for frame, n in counts.most_common(top)]

    return total, share(inclusive), share(own)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("style", choices=("rest", "graphql", "grpc", "soap", "websocket"))
    parser.add_argument("mix", choices=("get", "list", "write", "mixed"))
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--output", default="profile.collapsed", help="collapsed stacks (default ./profile.collapsed)"
    )
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy")
    from bench.capture import prepare

    placement = Placement.decide()
    settings = Settings(
        styles=[args.style],
        mixes=[args.mix],
        duration=args.seconds,
        warmup=0.5,
        connections=args.connections,
        grpc_generator="asyncio",
    )
    port, grpc_port = free_port(), free_port()
    with style_server(args.style, port, grpc_port, placement.server_cpus) as server:
        _, templates = asyncio.run(prepare(args.style, "127.0.0.1", port, f"127.0.0.1:{grpc_port}"))
        assert server.process is not None
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "profile.txt"
            recorder = subprocess.Popen(
                [spy, "record", "--pid", str(server.process.pid), "--format", "raw", "--output", str(raw),
                 "--duration", str(int(args.seconds)), "--rate", "200", "--nonblocking", "--gil"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            load_port = grpc_port if args.style == "grpc" else port
            settings.warmup = 0.5
            result = run_load(
                settings, placement, args.style, "127.0.0.1", load_port, templates, args.mix, 1, server
            )
            _, errors = recorder.communicate(timeout=args.seconds + 60)
            if recorder.returncode != 0 or not raw.exists():
                raise SystemExit(f"py-spy failed: {errors[-800:]}")
            collapsed = raw.read_text()
    Path(args.output).write_text(collapsed)
    total, inclusive, own = summarize(collapsed, args.top)
    operations = sum(len(v) for v in result["latencies"].values())
    print(
        f"{args.style} {args.mix}: {total} samples, {operations} operations measured; stacks in {args.output}"
    )
    print("\ninclusive (share of samples with this frame on the stack):")
    for frame, share in inclusive:
        print(f"  {share:6.1%}  {frame}")
    print("\nself (share of samples with this frame on top):")
    for frame, share in own:
        print(f"  {share:6.1%}  {frame}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
