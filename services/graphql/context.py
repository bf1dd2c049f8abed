"""Per-operation context: the core service, the caller's language and the batching DataLoaders."""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from strawberry.dataloader import DataLoader

from services.core import model
from services.core.access import TRUSTED, Guard, Principal
from services.core.api import ServerApi
from services.core.errors import RoomNotFound, RosettaError


class RosettaContext:
    """What every resolver sees as ``info.context``; the loaders are built on first use.

    Over HTTP one context serves one request, so loaders cache. A WebSocket connection keeps
    one context for all its operations, so there ``cache=False``: loaders still batch
    within a tick but never serve stale reservations.
    """

    __slots__ = (
        "api",
        "language",
        "connection_params",
        "guard",
        "principal",
        "auth_error",
        "_base_api",
        "_cache",
        "_rooms",
        "_room_reservations",
    )

    def __init__(
        self,
        api: ServerApi,
        language: str,
        *,
        cache: bool = True,
        guard: Guard | None = None,
        principal: Principal = TRUSTED,
        auth_error: RosettaError | None = None,
    ) -> None:
        self._base_api = api
        self.api = api.acting_as(principal) if guard is not None else api
        self.guard = guard
        self.principal = principal
        self.auth_error = auth_error  # a refused credential: every protected field reports it
        self.language = language
        self.connection_params: object = None  # set by strawberry on graphql-transport-ws connection_init
        self._cache = cache
        self._rooms: DataLoader[str, model.Room] | None = None
        self._room_reservations: DataLoader[str, list[model.Reservation]] | None = None

    def act_as(self, principal: Principal) -> None:
        """Later operations run as ``principal`` (graphql-transport-ws ``connection_init`` payload)."""
        self.principal, self.auth_error = principal, None
        self.api = self._base_api.acting_as(principal)

    @property
    def rooms(self) -> DataLoader[str, model.Room]:
        if self._rooms is None:
            self._rooms = DataLoader(load_fn=self._load_rooms, cache=self._cache)
        return self._rooms

    @property
    def room_reservations(self) -> DataLoader[str, list[model.Reservation]]:
        if self._room_reservations is None:
            self._room_reservations = DataLoader(load_fn=self._load_room_reservations, cache=self._cache)
        return self._room_reservations

    async def _load_rooms(self, room_ids: list[str]) -> list[model.Room | BaseException]:
        found = await self.api.get_rooms(room_ids)
        return [found.get(room_id) or RoomNotFound(params={"roomId": room_id}) for room_id in room_ids]

    async def _load_room_reservations(self, room_ids: list[str]) -> list[list[model.Reservation]]:
        grouped = await self.api.reservations_of_rooms(room_ids)
        return [grouped.get(room_id, []) for room_id in room_ids]


Info: TypeAlias = strawberry.Info[RosettaContext, None]
