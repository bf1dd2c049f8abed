"""What a GraphQL operation costs, computed from its document before it runs.

Every selected field costs 1; a field returning a list multiplies what is selected inside it by
the most items that list can hold (its page argument, or the default page when none is given).
So the cost bounds the size of the answer, whatever the data: the server refuses operations above
``GraphQLOptions.max_cost``, and the gateway's quota charges GraphQL by the same number
(``quota_tokens``: one token per ``COST_PER_TOKEN`` cost units, at least one, as GitHub's GraphQL
API charges a call its node count divided by 100).

    { room(roomId: "room-a") { reservations(first: 10) { guestName room { name } } } }
    = room 1 + 10 x (reservations' items: guestName 1 + room 1 x (name 1)) + reservations 1 = 32
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

ROOM_RESERVATIONS_DEFAULT = 20
ROOM_RESERVATIONS_MAX = 100
PAGE_SIZE_DEFAULT = 20  # Query.reservations(pageSize), bounded by the core at 100
PAGE_SIZE_MAX = 100
EVENTS_DEFAULT = 100  # Query.events(limit), bounded by the core at 1000
EVENTS_MAX = 1000
ROOMS_BOUND = 50
COST_PER_TOKEN = 100
"""Cost units per quota token: a REST-sized answer (a reservation, a page of ten) costs one token,
like one REST request; a query that reaches into a hundred rooms' reservations costs dozens."""
"""Query.rooms is the room catalog (a handful, seeded): it is charged as if it held this many."""

# (type, field) -> (argument giving the list's size or None, default, maximum). The maximum is what an
# argument outside the range costs: such an operation is refused when it runs, but is never cheap.
LIST_BOUNDS: dict[tuple[str, str], tuple[str | None, int, int]] = {
    ("Query", "rooms"): (None, ROOMS_BOUND, ROOMS_BOUND),
    ("Query", "events"): ("limit", EVENTS_DEFAULT, EVENTS_MAX),
    ("ReservationPage", "items"): ("pageSize", PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX),
    ("Room", "reservations"): ("first", ROOM_RESERVATIONS_DEFAULT, ROOM_RESERVATIONS_MAX),
}
# Which type each object field returns (the walk needs it to find the bounds of nested lists).
FIELD_TYPES: dict[tuple[str, str], str] = {
    ("Query", "rooms"): "Room",
    ("Query", "room"): "Room",
    ("Query", "reservation"): "Reservation",
    ("Query", "reservations"): "ReservationPage",
    ("Query", "events"): "Event",
    ("ReservationPage", "items"): "Reservation",
    ("Room", "reservations"): "Reservation",
    ("Reservation", "room"): "Room",
    ("Event", "data"): "Reservation",
    ("Mutation", "createReservation"): "Reservation",
    ("Mutation", "modifyReservation"): "Reservation",
    ("Mutation", "cancelReservation"): "Reservation",
    ("Mutation", "checkInReservation"): "Reservation",
    ("Subscription", "reservationEvents"): "Event",
}
# Where an argument sits on the parent field rather than the list field itself.
ARGUMENT_ON_PARENT: dict[tuple[str, str], str] = {("ReservationPage", "items"): "reservations"}
ROOT_TYPES = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The operation that will run: the named one, or the only one (None when that is ambiguous)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return operation
    return None


def operation_cost(
    document: DocumentNode, variables: Mapping[str, Any] | None, operation_name: str | None
) -> int:
    """The cost of the operation ``operation_name`` (or the only one) of a parsed, valid document."""
    operation = select_operation(document, operation_name)
    if operation is None:
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    given = dict(variables or {})
    for definition in operation.variable_definitions or ():
        default = definition.default_value
        if definition.variable.name.value not in given and isinstance(default, IntValueNode):
            given[definition.variable.name.value] = int(default.value)
    walk = _Walk(fragments, given)
    return walk.selection(ROOT_TYPES[operation.operation.value], operation.selection_set, None, ())


class _Walk:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode], variables: Mapping[str, Any]) -> None:
        self.fragments = fragments
        self.variables = variables

    def selection(
        self,
        type_name: str,
        selection_set: SelectionSetNode | None,
        parent: FieldNode | None,
        seen: tuple[str, ...],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(type_name, node, parent, seen)
            elif isinstance(node, InlineFragmentNode):
                inner = node.type_condition.name.value if node.type_condition else type_name
                total += self.selection(inner, node.selection_set, parent, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:  # cycles are invalid GraphQL anyway
                    inner = fragment.type_condition.name.value
                    total += self.selection(inner, fragment.selection_set, parent, (*seen, name))
        return total

    def field(self, type_name: str, node: FieldNode, parent: FieldNode | None, seen: tuple[str, ...]) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 1  # introspection: the schema is small and fixed
        key = (type_name, name)
        child_type = FIELD_TYPES.get(key, "")
        inner = self.selection(child_type, node.selection_set, node, seen)
        bound = 1
        if key in LIST_BOUNDS:
            argument, default, maximum = LIST_BOUNDS[key]
            holder = parent if key in ARGUMENT_ON_PARENT else node
            bound = self.size(holder, argument, default, maximum)
        return 1 + bound * inner

    def size(self, node: FieldNode | None, argument: str | None, default: int, maximum: int) -> int:
        if node is None or argument is None:
            return default
        for given in node.arguments or ():
            if given.name.value != argument:
                continue
            value = given.value
            if isinstance(value, VariableNode):
                resolved = self.variables.get(value.name.value, default)
                if resolved is None:
                    return default
                return resolved if isinstance(resolved, int) and 0 <= resolved <= maximum else maximum
            if isinstance(value, IntValueNode):
                number = int(value.value)
                return number if 0 <= number <= maximum else maximum
            return maximum
        return default


def quota_tokens(cost: int) -> int:
    """The quota tokens an operation of ``cost`` takes from its client's bucket (at least one)."""
    return max(1, -(-cost // COST_PER_TOKEN))
