"""Lab 08: predict, measure, explain. Styles: "rest", "graphql", "grpc", "soap", "websocket"."""

# 1. Before measuring: your ranking, fastest first, for one reservation (get), a page of 20 with their rooms
#    (list), and a room with its reservations (room_page).
PREDICTED: dict[str, list[str]] = {
    "get": [],
    "list": [],
    "room_page": [],
}

# 2. Your run, e.g. `rosetta bench --mixes get,list --rounds 1 --no-floors -o my-bench` in this folder.
BENCH_JSON = "my-bench/bench.json"
FASTEST_GET = ""  # the highest ops/s for get in your run
CHEAPEST_GET = ""  # the lowest server CPU ms/op for get in your run
FEWEST_BYTES_GET = ""  # the fewest bytes on the wire per get, both directions

# 3. HTTP round trips for "a room with its reservations".
ROOM_PAGE_ROUND_TRIPS: dict[str, int] = {"rest": 0, "graphql": 0}

# 4. Why? Use the CPU ms/op and B/op columns.
EXPLANATION = """
"""
