"""Lab 05: a GraphQL schema for "every room with its reservations on a day". It works, and it is slow.

`api` has `list_rooms()` and `list_reservations(ReservationQuery)` (each a request to the real server).
Count the calls one query makes, then make it one call for all the rooms, whatever their number.
"""

from typing import Any

import strawberry
from strawberry.asgi import GraphQL

from services.core.model import ReservationQuery


@strawberry.type
class Reservation:
    guest_name: str
    start_time: str


def create_app(api: Any) -> Any:
    @strawberry.type
    class Room:
        room_id: str
        name: str

        @strawberry.field
        async def reservations(self, date: str) -> list[Reservation]:
            # One call per room: 5 rooms, 5 calls; 500 rooms, 500 calls.
            page = await api.list_reservations(
                ReservationQuery(room_id=self.room_id, date_from=date, date_to=date, page_size=100)
            )
            return [Reservation(guest_name=r.guest_name, start_time=r.start_time) for r in page.items]

    @strawberry.type
    class Query:
        @strawberry.field
        async def rooms(self) -> list[Room]:
            return [Room(room_id=room.room_id, name=room.name) for room in await api.list_rooms()]

    return GraphQL(strawberry.Schema(query=Query))
