"""graphql-core's executor with a shorter path for plain leaf fields.

A reservation answers 13 scalar fields, a page of 20 answers 260, and graphql-core runs each one
through the whole field protocol: a ``GraphQLResolveInfo`` of 14 values built, argument values
looked up, the resolver called, the value checked for awaitables, completed through non-null, list
and leaf branches. For a field with no resolver, arguments or extensions of its own (strawberry's
``_get_basic_result``: it reads the attribute and ignores ``info``) whose type is a scalar or an
enum, ``LeafFastExecutor`` reads the value and coerces it at once. Anything else, and any value
that is not plainly right (null, an exception, an awaitable, a failed coercion), goes through
graphql-core's own ``execute_field``, which reads the attribute again and reports the error exactly
as it always does. A reservation's ``get`` took 0.87 of bare strawberry's time in process with it, 0.97
without (same run, interleaved); the bench's GraphQL ``list`` went from 0.94 to 1.43 times its floor.

The executor's internals change between graphql-core versions, so the short path is used only on
the version it was written against (3.3); elsewhere ``executor_class`` is strawberry's own.
"""

from __future__ import annotations

import weakref
from typing import Any

import graphql
from graphql import GraphQLLeafType, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# (resolver, leaf type, nullable) of a field the short path serves; None: the field takes the long path
_LeafPlan = tuple[Any, GraphQLLeafType, bool] | None

SUPPORTED = graphql.version_info[:2] == (3, 3)


def _leaf_plan(parent_type: GraphQLObjectType, field_name: str) -> _LeafPlan:
    field = parent_type.fields.get(field_name)
    if field is None or field.args:
        return None
    resolve = field.resolve
    # strawberry marks the resolver of a field without resolver, permission or extension `_is_default`.
    if resolve is None or not getattr(resolve, "_is_default", False):
        return None
    field_type = field.type
    nullable = not isinstance(field_type, GraphQLNonNull)
    if not nullable:
        field_type = field_type.of_type
    if not is_leaf_type(field_type):
        return None
    return resolve, field_type, nullable


class LeafFastExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, with plain leaf fields read and coerced without the field protocol."""

    # parent type -> field name -> plan (weakly: a schema built and dropped, as tests do, is not kept)
    _plans: weakref.WeakKeyDictionary[GraphQLObjectType, dict[str, _LeafPlan]] = weakref.WeakKeyDictionary()

    def execute_field(  # graphql-core 3.3's signature
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        name = node.name.value
        try:
            plan = self._plans[parent_type][name]
        except KeyError:
            plan = self._plans.setdefault(parent_type, {})[name] = _leaf_plan(parent_type, name)
        # strawberry passes a middleware manager per operation, empty unless an extension resolves fields
        middleware = self.middleware_manager
        if plan is not None and (middleware is None or not middleware.middlewares):
            resolve, leaf_type, nullable = plan
            try:
                value = resolve(source, None)
                if value is None:
                    if nullable:
                        return None
                elif not isinstance(value, Exception) and not self.is_awaitable(value):
                    coerced = leaf_type.coerce_output_value(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
            except Exception:  # noqa: BLE001, S110 - the long path below raises it again, located
                pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)


def executor_class() -> type[StrawberryGraphQLCoreExecutionContext]:
    """The executor a schema runs its operations with."""
    return LeafFastExecutor if SUPPORTED else StrawberryGraphQLCoreExecutionContext
