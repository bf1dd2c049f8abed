"""Lab 08, a reference answer, from the run in my-bench/ (2026-11-30 on a shared, busy 2-vCPU machine:
`rosetta bench --mixes get,list --rounds 1 --duration 2 --no-floors -o my-bench`; see its flags)."""

# What a reasonable person predicts before measuring (it was wrong about WebSocket and REST).
PREDICTED: dict[str, list[str]] = {
    "get": ["grpc", "websocket", "rest", "graphql", "soap"],
    "list": ["grpc", "rest", "websocket", "graphql", "soap"],
    "room_page": ["graphql", "grpc", "websocket", "rest", "soap"],
}

BENCH_JSON = "my-bench/bench.json"
FASTEST_GET = "grpc"  # 4,328 ops/s — but REST, GraphQL and WebSocket ran on a contended core (flags)
CHEAPEST_GET = "websocket"  # 0.062 CPU ms/op: no HTTP parsing per request, one JSON frame each way
FEWEST_BYTES_GET = "grpc"  # 100 + 211 B: field numbers, binary values, HPACK-compressed headers

ROOM_PAGE_ROUND_TRIPS: dict[str, int] = {"rest": 2, "graphql": 1}

EXPLANATION = """
Throughput in this run is not a fair ranking: the flags say REST, GraphQL and WebSocket shared their core
with other processes (contended 75-88 %), so their ops/s are low for reasons outside the server. CPU ms/op
is the figure to compare. Per get, WebSocket spends the least CPU (0.06 ms): the connection is open, a frame
is parsed instead of an HTTP request, and the answer is a small JSON frame. REST (0.13 ms) and gRPC (0.15 ms)
follow: HTTP parsing and routing for one, HTTP/2 framing and protobuf for the other. GraphQL (0.41 ms) parses
and validates a query document and walks resolvers for every field; SOAP (0.92 ms) parses and writes XML with
namespaces through spyne. For list, the cost per item dominates: SOAP 5.8 ms and GraphQL 2.4 ms per page of
20 against gRPC 0.3 ms. Bytes follow the encoding: gRPC sends field numbers and binary values (311 bytes per
get both ways), WebSocket a bare JSON frame (480), REST adds headers and hypermedia links (1,346), SOAP an
envelope that repeats every element name with namespaces (1,685). A room with its reservations is one round
trip in GraphQL, two in REST (the room links its reservations), which matters more than CPU on a slow network.
"""
