"""The checked-in SDL (contracts/schema.graphql) is exactly what the server serves."""

from __future__ import annotations

import httpx
from graphql import (
    build_client_schema,
    build_schema,
    get_introspection_query,
    lexicographic_sort_schema,
    print_schema,
)

from services.graphql.schema import sdl
from services.graphql.sdl import CONTRACT, main
from tests.graphql.conftest import post


def test_contract_matches_the_schema_in_code() -> None:
    assert CONTRACT.read_text(encoding="utf-8") == sdl(), "regenerate it: python -m services.graphql.sdl"
    assert main(["--check"]) == 0


async def test_contract_matches_the_schema_served(http: httpx.AsyncClient) -> None:
    introspection = await post(http, get_introspection_query(descriptions=True))

    served = print_schema(lexicographic_sort_schema(build_client_schema(introspection["data"])))
    contract = print_schema(lexicographic_sort_schema(build_schema(CONTRACT.read_text(encoding="utf-8"))))
    assert served == contract
