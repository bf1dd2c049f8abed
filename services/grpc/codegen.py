"""Regenerate the gRPC stubs (``_pb2.py``, ``.pyi``, ``_pb2_grpc.py``) from ``protos/``.

Run ``python -m services.grpc.codegen`` after editing a ``.proto``; a test fails when the
committed stubs in ``services/grpc/generated/`` drift from what this produces.

protoc names imports after the proto path (``from rosetta.reservations.v1 import ...``), while
the descriptors must keep that path (reflection serves it). So the stubs are generated with the
real proto path into a scratch directory, flattened into ``generated/``, and their imports of
each other rewritten to ``services.grpc.generated``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from importlib import resources
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "protos"
GENERATED_DIR = Path(__file__).resolve().parent / "generated"
GENERATED_PACKAGE = "services.grpc.generated"
PROTOS: tuple[str, ...] = ("rosetta/reservations/v1/reservations.proto",)

INIT_TEXT = '"""Stubs generated from protos/ by services/grpc/codegen.py: do not edit."""\n'


def _rewrite_imports(text: str) -> str:
    for proto in PROTOS:
        package = proto.rpartition("/")[0].replace("/", ".")
        text = text.replace(f"from {package} import ", f"from {GENERATED_PACKAGE} import ")
    return text


def generate(out_dir: Path = GENERATED_DIR, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Write the stubs of every proto in ``PROTOS`` into ``out_dir``; return the files written."""
    from grpc_tools import protoc  # dev dependency: only codegen needs it

    well_known = str(resources.files("grpc_tools").joinpath("_proto"))
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as scratch:
        args = [
            "grpc_tools.protoc",
            f"--proto_path={proto_root}",
            f"--proto_path={well_known}",
            f"--python_out={scratch}",
            f"--pyi_out={scratch}",
            f"--grpc_python_out={scratch}",
            *(str(proto_root / proto) for proto in PROTOS),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed: {' '.join(args)}")
        for proto in PROTOS:
            stem = Path(proto).with_suffix("")
            for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
                source = Path(scratch) / f"{stem}{suffix}"
                target = out_dir / f"{stem.name}{suffix}"
                target.write_text(_rewrite_imports(source.read_text(encoding="utf-8")), encoding="utf-8")
                written.append(target)
    init = out_dir / "__init__.py"
    init.write_text(INIT_TEXT, encoding="utf-8")
    written.append(init)
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=GENERATED_DIR, help="output directory")
    options = parser.parse_args(argv)
    for path in generate(options.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
