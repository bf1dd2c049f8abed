"""Fixtures of the gRPC tests: one real gateway (gRPC only) per module, a GrpcClient per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from services.grpc.client import GrpcClient
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server(styles="grpc") as running:
        yield running


@pytest.fixture
def target(server: LiveServer) -> str:
    assert server.grpc_target is not None
    return server.grpc_target


@pytest.fixture
async def api(target: str) -> AsyncIterator[GrpcClient]:
    async with GrpcClient(target) as client:
        yield client
