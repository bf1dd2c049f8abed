"""The executor's short path for plain leaf fields answers exactly what graphql-core's own path answers:
the same data and the same errors (message, path, locations), for right values and for wrong ones."""

from __future__ import annotations

import enum
from typing import Any

import graphql
import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from services.core.service import ReservationService
from services.graphql import execution
from services.graphql.app import GraphQLOptions
from services.graphql.context import RosettaContext
from services.graphql.schema import build_schema
from services.store.reservations.memory import MemoryStore
from tests.support.drafts import draft


@strawberry.enum
class Shade(enum.Enum):
    LIGHT = "LIGHT"
    DARK = "DARK"


@strawberry.type
class Item:
    name: str
    count: int
    note: str | None
    shade: Shade
    tags: list[str]

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times


_GOOD = Item(name="desk", count=2, note=None, shade=Shade.DARK, tags=["a", "b"])
# What a resolver bug could hand the executor: null for a non-null field, a value the scalar or the
# enum cannot represent, an exception as the value.
_BAD: list[Any] = [
    Item(name=None, count=1, note="n", shade=Shade.LIGHT, tags=[]),  # type: ignore[arg-type]
    Item(name="chair", count="many", note=None, shade=Shade.LIGHT, tags=[]),  # type: ignore[arg-type]
    Item(name="lamp", count=3, note=ValueError("no note"), shade=Shade.LIGHT, tags=[]),  # type: ignore[arg-type]
    Item(name="shelf", count=4, note=None, shade="PURPLE", tags=[]),  # type: ignore[arg-type]
    Item(name="stool", count=2.5, note=None, shade=Shade.LIGHT, tags=[]),  # type: ignore[arg-type]
]


@strawberry.type
class Query:
    @strawberry.field
    def good(self) -> Item:
        return _GOOD

    @strawberry.field
    def items(self) -> list[Item | None]:
        return [_GOOD, *_BAD]


QUERIES = (
    "{ good { name count note shade tags shout } }",
    "{ good { n: name again: name c: count __typename ... on Item { shade } shout(times: 2) } }",
    "query Q($skip: Boolean!) { good { name @skip(if: $skip) count @include(if: $skip) } }",
    "{ items { name count note shade } }",
    "{ items { name } }",
    "{ items { count } }",
    "{ items { note shade } }",
)


@pytest.fixture(scope="module")
def executors() -> dict[str, strawberry.Schema]:
    return {
        "short": strawberry.Schema(query=Query, execution_context_class=execution.LeafFastExecutor),
        "graphql-core": strawberry.Schema(
            query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext
        ),
    }


def _answer(result: Any) -> tuple[Any, list[dict[str, Any]]]:
    return result.data, [error.formatted for error in result.errors or ()]


@pytest.mark.parametrize("query", QUERIES)
async def test_plain_leaves_answer_as_graphql_core_answers(
    executors: dict[str, strawberry.Schema], query: str
) -> None:
    short, stock = [
        _answer(await schema.execute(query, variable_values={"skip": True})) for schema in executors.values()
    ]

    assert short == stock
    if "items" in query:
        assert stock[1], "the wrong values are reported as errors"


async def test_the_short_path_serves_plain_leaves_and_leaves_the_rest_to_graphql_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # strawberry asks for graphql-core 3.3, the version the short path was written against: if a new
    # release moves off it, this fails and says so, rather than the short path silently going away.
    assert graphql.version_info[:2] == (3, 3) and execution.executor_class() is execution.LeafFastExecutor
    long_path: list[str] = []
    stock = StrawberryGraphQLCoreExecutionContext.execute_field

    def counted(self: Any, parent_type: Any, source: Any, details: Any, *rest: Any) -> Any:
        long_path.append(f"{parent_type.name}.{details[0].node.name.value}")
        return stock(self, parent_type, source, details, *rest)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_field", counted)
    schema = strawberry.Schema(query=Query, execution_context_class=execution.LeafFastExecutor)

    result = await schema.execute("{ good { name count note shade tags shout __typename } }")

    assert result.errors is None
    # The root field (it has a resolver), a list, a field with a resolver, and the meta field.
    assert long_path == ["Query.good", "Item.tags", "Item.shout", "Item.__typename"]


async def test_the_schema_answers_a_reservation_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    service = ReservationService(MemoryStore())
    created = await service.create_reservation(draft(guest_name="Ada", date="2031-05-02", purpose=None))
    queries = (
        f'{{ reservation(reservationId: "{created.reservation_id}") {{ reservationId roomId guestName date '
        "startTime endTime attendees purpose status cancelReason version createdAt updatedAt "
        "room { name capacity } } "
        "reservations(pageSize: 5) { items { reservationId status purpose } totalItems } }",
        '{ reservation(reservationId: "rsv_doesnotexist00000") { reservationId } }',
    )
    answers = []
    for supported in (True, False):
        monkeypatch.setattr(execution, "SUPPORTED", supported)
        schema = build_schema(GraphQLOptions())
        for query in queries:
            answers.append(_answer(await schema.execute(query, context_value=RosettaContext(service, "en"))))

    assert answers[:2] == answers[2:]
    (found, no_errors), (missing, errors) = answers[:2]
    assert no_errors == [] and found["reservations"]["totalItems"] == 1
    assert found["reservation"]["guestName"] == "Ada" and found["reservation"]["purpose"] is None
    assert found["reservation"]["status"] == "RESERVED" and found["reservation"]["room"]["capacity"] > 0
    assert missing is None and [error["path"] for error in errors] == [["reservation"]]
