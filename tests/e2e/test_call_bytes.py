"""``python -m bench.call_bytes`` measures real bytes for one call in every style."""

from __future__ import annotations

from bench.call_bytes import STYLES, measure, table
from tests.support.server import live_server


async def test_every_style_reports_request_and_response_bytes_for_both_operations() -> None:
    with live_server(styles="rest,graphql,grpc,soap,websocket") as server:
        assert server.grpc_target is not None
        results = await measure(server.base_url, server.grpc_target)
    assert set(results) == set(STYLES)
    for style, operations in results.items():
        for operation in ("getReservation", "createReservation"):
            counts = operations[operation]
            assert counts["request"] > 0 and counts["response"] > 0, (style, operation)
    # A SOAP envelope cannot be smaller than the protobuf message carrying the same reservation.
    assert results["soap"]["getReservation"]["response"] > results["grpc"]["getReservation"]["response"]
    assert table(results).count("\n") == len(STYLES) + 1
