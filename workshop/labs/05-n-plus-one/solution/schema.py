"""Lab 05, a reference answer: a DataLoader per request batches every room's load into one call."""

from collections import defaultdict
from typing import Any

import strawberry
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader

from services.core.model import ReservationQuery


@strawberry.type
class Reservation:
    guest_name: str
    start_time: str


def create_app(api: Any) -> Any:
    async def load(keys: list[tuple[str, str]]) -> list[list[Reservation]]:
        # Every (room, date) asked for in this tick arrives here at once: one call per date, not per room.
        grouped: dict[tuple[str, str], list[Reservation]] = defaultdict(list)
        for date in sorted({date for _, date in keys}):
            page = await api.list_reservations(ReservationQuery(date_from=date, date_to=date, page_size=100))
            for r in page.items:
                grouped[(r.room_id, r.date)].append(
                    Reservation(guest_name=r.guest_name, start_time=r.start_time)
                )
        return [grouped[key] for key in keys]

    @strawberry.type
    class Room:
        room_id: str
        name: str

        @strawberry.field
        async def reservations(self, info: strawberry.Info, date: str) -> list[Reservation]:
            loader: DataLoader[tuple[str, str], list[Reservation]] = info.context["reservations"]
            return await loader.load((self.room_id, date))

    @strawberry.type
    class Query:
        @strawberry.field
        async def rooms(self) -> list[Room]:
            return [Room(room_id=room.room_id, name=room.name) for room in await api.list_rooms()]

    class App(GraphQL[dict[str, Any], None]):
        async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
            return {"request": request, "response": response, "reservations": DataLoader(load_fn=load)}

    return App(strawberry.Schema(query=Query))
