"""Field permissions (strawberry's ``permission_classes``): each protected field names the operation of
the core's scope table it belongs to, and the gateway's guard decides before its resolver runs.

A refused field is ``null`` with an error whose ``extensions.code`` is UNAUTHENTICATED or FORBIDDEN
(``field``: the missing scope), as GraphQL reports any field error; the other fields still answer.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from services.graphql.context import Info


class _Requires(BasePermission):
    operation = ""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context = info.context
        if context.guard is None:  # authentication off
            return True
        if context.auth_error is not None:  # a credential was sent and refused
            raise context.auth_error
        context.guard.authorize(context.principal, self.operation)
        return True


def requires(operation: str) -> type[BasePermission]:
    """The permission class of the fields that run ``operation`` (e.g. ``listReservations``)."""
    return type(f"Requires_{operation}", (_Requires,), {"operation": operation, "message": operation})
