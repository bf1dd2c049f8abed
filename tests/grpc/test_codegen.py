"""The committed stubs are exactly what codegen makes from protos/ (python -m services.grpc.codegen)."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.grpc import codegen
from services.grpc.generated import reservations_pb2, reservations_pb2_grpc


def test_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    fresh = {path.name: path.read_text(encoding="utf-8") for path in codegen.generate(tmp_path)}
    committed = {
        path.name: path.read_text(encoding="utf-8")
        for path in codegen.GENERATED_DIR.iterdir()
        if path.is_file() and path.suffix in (".py", ".pyi")
    }
    assert sorted(committed) == sorted(fresh)
    stale = [name for name in fresh if committed[name] != fresh[name]]
    assert not stale, f"stubs drifted from protos/: {stale}; run python -m services.grpc.codegen"


def test_stubs_import_as_a_package_and_pin_grpcio() -> None:
    assert reservations_pb2_grpc.rosetta_dot_reservations_dot_v1_dot_reservations__pb2 is reservations_pb2
    assert reservations_pb2.DESCRIPTOR.name == "rosetta/reservations/v1/reservations.proto"
    assert grpc.__version__.startswith(reservations_pb2_grpc.GRPC_GENERATED_VERSION.rpartition(".")[0] + ".")
