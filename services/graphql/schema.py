"""The GraphQL schema: thin resolvers over the core, protection rules and the document cache.

``build_schema(options)`` is called once per app. Every resolver turns arguments into one
use-case call and the result into wire types; the core validates and raises typed errors.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import aclosing
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import ASTValidationRule, DocumentNode, GraphQLError, parse, specified_rules
from graphql.execution import SubsequentIncrementalExecutionResult
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from services.core import model
from services.core.access import until_expiry
from services.core.validation import changes_from_patch, from_mapping
from services.graphql.context import Info, RosettaContext
from services.graphql.cost import operation_cost
from services.graphql.errors import limit_exceeded, localize_errors, unexpected
from services.graphql.execution import executor_class
from services.graphql.options import GraphQLOptions
from services.graphql.permissions import requires
from services.graphql.types import (
    CreateReservationInput,
    Event,
    ModifyReservationInput,
    Reservation,
    ReservationFilter,
    ReservationPage,
    Room,
    provided,
)

if TYPE_CHECKING:
    from strawberry.types import StreamExecutionResult

log = logging.getLogger("rosetta.graphql")


@strawberry.type
class Query:
    @strawberry.field(description="Every room (listRooms).")
    async def rooms(self, info: Info) -> list[Room]:
        return [Room.from_domain(room) for room in await info.context.api.list_rooms()]

    @strawberry.field(description="One room (getRoom).")
    async def room(self, info: Info, room_id: strawberry.ID) -> Room:
        return Room.from_domain(await info.context.api.get_room(room_id))

    @strawberry.field(
        description="One reservation (getReservation).", permission_classes=[requires("getReservation")]
    )
    async def reservation(self, info: Info, reservation_id: strawberry.ID) -> Reservation:
        return Reservation.from_domain(await info.context.api.get_reservation(reservation_id))

    @strawberry.field(
        description="Filtered, sorted, paged reservations (listReservations). "
        "sort: date, startTime, createdAt, comma-separated, '-' for descending.",
        permission_classes=[requires("listReservations")],
    )
    async def reservations(
        self,
        info: Info,
        filter: ReservationFilter | None = None,
        sort: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> ReservationPage:
        where = filter or _NO_FILTER
        query = model.ReservationQuery(
            status=where.status,
            room_id=where.room_id,
            date_from=where.date_from,
            date_to=where.date_to,
            guest_name=where.guest_name,
            sort=sort,
            page=page,
            page_size=page_size,
        )
        return ReservationPage.from_domain(await info.context.api.list_reservations(query))

    @strawberry.field(
        description="Events after sequence `after`, oldest first (watchEvents by polling).",
        permission_classes=[requires("watchEvents")],
    )
    async def events(
        self, info: Info, after: int = 0, types: list[str] | None = None, limit: int = 100
    ) -> list[Event]:
        found = await info.context.api.watch_events(after, types=types, limit=limit)
        return [Event.from_domain(event) for event in found]


_NO_FILTER = ReservationFilter()


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Reserve a room (createReservation); a retry with the same key is safe.",
        permission_classes=[requires("createReservation")],
    )
    async def create_reservation(
        self, info: Info, input: CreateReservationInput, idempotency_key: str | None = None
    ) -> Reservation:
        draft = from_mapping(model.ReservationDraft, provided(input))
        created = await info.context.api.create_reservation(draft, idempotency_key=idempotency_key)
        return Reservation.from_domain(created)

    @strawberry.mutation(
        description="Change some fields (modifyReservation), optionally at an expected version.",
        permission_classes=[requires("modifyReservation")],
    )
    async def modify_reservation(
        self,
        info: Info,
        reservation_id: strawberry.ID,
        input: ModifyReservationInput,
        expected_version: int | None = None,
    ) -> Reservation:
        changes = changes_from_patch(provided(input))
        changed = await info.context.api.modify_reservation(
            reservation_id, changes, expected_version=expected_version
        )
        return Reservation.from_domain(changed)

    @strawberry.mutation(
        description="Cancel a reservation (cancelReservation); a retry with the same key is safe.",
        permission_classes=[requires("cancelReservation")],
    )
    async def cancel_reservation(
        self,
        info: Info,
        reservation_id: strawberry.ID,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Reservation:
        canceled = await info.context.api.cancel_reservation(
            reservation_id, reason=reason, idempotency_key=idempotency_key
        )
        return Reservation.from_domain(canceled)

    @strawberry.mutation(
        description="Check a reservation in (checkInReservation).",
        permission_classes=[requires("checkInReservation")],
    )
    async def check_in_reservation(self, info: Info, reservation_id: strawberry.ID) -> Reservation:
        return Reservation.from_domain(await info.context.api.check_in_reservation(reservation_id))


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Every event after sequence `after`, then each new one as it happens (watchEvents).",
        permission_classes=[requires("watchEvents")],
    )
    async def reservation_events(
        self, info: Info, after: int = 0, types: list[str] | None = None
    ) -> AsyncGenerator[Event, None]:
        context = info.context
        stream = context.api.stream_events(after, types=types)
        if context.guard is None:
            async with aclosing(stream) as events:
                async for event in events:
                    yield Event.from_domain(event)
            return
        # One of the client's open streams; it ends with UNAUTHENTICATED when the token does.
        async with context.guard.stream(context.principal, "graphql"):
            async with aclosing(until_expiry(context.principal, stream)) as events:
                async for event in events:
                    yield Event.from_domain(event)


class RosettaSchema(strawberry.Schema):
    """Logs only unexpected failures: catalog errors are answers, not incidents."""

    documents: PreparedDocuments  # the parse/validation cache (set by build_schema)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if unexpected(error):
                log.error("unexpected error in a GraphQL operation", exc_info=error.original_error)


def protection_rules(options: GraphQLOptions) -> tuple[type[ASTValidationRule], ...]:
    """Depth and alias limits (strawberry's rules), and introspection when it is switched off."""
    rules: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=options.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=options.max_aliases).validation_rules,
    ]
    if not options.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


VariablesKey = tuple[tuple[str, type, Any], ...]


class PreparedDocuments:
    """Parse and validate each distinct query text once (LRU), with the token limit and the rules.

    One cache keyed by the query text replaces strawberry's ParserCache + ValidationCache pair:
    the rule classes are built once here, so validation results stay cacheable (a
    QueryDepthLimiter built per request would make a new rule class, and a cache miss, every time).
    """

    def __init__(self, options: GraphQLOptions, maxsize: int = 512) -> None:
        self.max_cost = options.max_cost
        self.standard_rules: tuple[type[ASTValidationRule], ...] = tuple(specified_rules)
        self.protection_rules = protection_rules(options)
        # The lexical-token limit, and the same bound on comments, which the lexer keeps as tokens.
        self.parse_options: dict[str, Any] = {
            "max_lexical_tokens": options.max_tokens,
            "max_comments": options.max_tokens,
        }
        self.graphql_schema: Any = None  # set once the schema exists
        self.get = lru_cache(maxsize=maxsize)(self._prepare)
        self._cost = lru_cache(maxsize=maxsize)(self._cost_of)

    def cost(self, query: str, variables: Mapping[str, Any] | None, operation_name: str | None) -> int:
        """``operation_cost`` of a parsed, valid query, once per query text, operation and variables
        (when they are all scalars; others are computed each time). A request asks for it up to three
        times (the time limit's plan, the quota's charge, the cost limit), 10-25 µs each."""
        key = _scalar_items(variables)
        if key is None:
            return operation_cost(self.get(query)[0], variables, operation_name)
        return self._cost(query, operation_name, key)

    def _cost_of(
        self, query: str, operation_name: str | None, variables: tuple[tuple[str, type, Any], ...]
    ) -> int:
        return operation_cost(
            self.get(query)[0], {name: value for name, _, value in variables}, operation_name
        )

    def _prepare(self, query: str) -> tuple[DocumentNode, tuple[GraphQLError, ...]]:
        document = parse(query, **self.parse_options)
        # The protection rules assume a valid document (the depth rule fails on unknown fragments),
        # so they run only once GraphQL's own rules pass.
        errors = validate_document(self.graphql_schema, document, self.standard_rules)
        if not errors:
            errors = validate_document(self.graphql_schema, document, self.protection_rules)
        return document, tuple(errors)


def _scalar_items(variables: Mapping[str, Any] | None) -> VariablesKey | None:
    """The variables as a hashable key (with each value's type: 1, 1.0 and True are equal keys), or None
    when one of them is a list or an input object."""
    if not variables:
        return ()
    if not all(value is None or isinstance(value, str | int | float) for value in variables.values()):
        return None
    return tuple(sorted((name, type(value), value) for name, value in variables.items()))


def _prepared_extension(documents: PreparedDocuments) -> type[SchemaExtension]:
    """The one extension of the schema: cached documents in, localized errors out on streams."""

    class PreparedDocumentsExtension(SchemaExtension):
        def __init__(self) -> None:  # instantiated per operation by strawberry: keep it trivial
            self._errors: tuple[GraphQLError, ...] | None = None

        def on_parse(self) -> Iterator[None]:
            context = self.execution_context
            # strawberry's ParseOptions names only max_tokens; graphql-core's parse takes these as well.
            context.parse_options.update(documents.parse_options)  # type: ignore[typeddict-item]
            try:
                context.graphql_document, self._errors = documents.get(context.query)
            except GraphQLError:
                pass  # not cached: strawberry parses again with the same limits and reports the error
            yield

        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            if self._errors:
                context.pre_execution_errors = list(self._errors)
            elif self._errors is not None and context.graphql_document is not None:
                # A valid document: refuse it before it runs when it could cost too much.
                spent = documents.cost(context.query or "", context.variables, context.operation_name)
                if spent > documents.max_cost:
                    refusal = limit_exceeded("too_costly", documents.max_cost, cost=spent)
                    context.pre_execution_errors = [GraphQLError(refusal.localized(), original_error=refusal)]
                else:
                    context.pre_execution_errors = []
            else:
                self.execution_context.validation_rules = (
                    documents.standard_rules + documents.protection_rules
                )
            yield

        def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
            # Over HTTP the app localizes errors itself; subscriptions results pass through here.
            # (@defer/@stream increments, not enabled here, carry their errors per increment.)
            if not isinstance(result, SubsequentIncrementalExecutionResult) and result.errors:
                context = self.execution_context.context
                language = context.language if isinstance(context, RosettaContext) else None
                result.errors = localize_errors(result.errors, language)
            yield

    return PreparedDocumentsExtension


def build_schema(options: GraphQLOptions) -> RosettaSchema:
    documents = PreparedDocuments(options)
    schema = RosettaSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[_prepared_extension(documents)],
        execution_context_class=executor_class(),
    )
    documents.graphql_schema = schema._schema
    schema.documents = documents
    return schema


def sdl(schema: strawberry.Schema | None = None) -> str:
    """The printed SDL of the schema (what ``contracts/schema.graphql`` holds)."""
    return (schema or build_schema(GraphQLOptions())).as_str() + "\n"
