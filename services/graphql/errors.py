"""GraphQL's error table: every error leaves with a catalog code in ``extensions`` and a localized message.

Responses follow GraphQL over HTTP: errors are entries of ``errors[]`` with
``extensions.code`` (and ``extensions.field`` when one input field is at fault); a request
that could be read gets HTTP 200 whatever went wrong. How each failure is coded:

=====================================================  =================================================
failure                                                code (field)
=====================================================  =================================================
a core error (RosettaError) raised by a use case       its own code and field
body is not JSON / not an object                       MALFORMED_REQUEST (HTTP 400; 413 when too large)
no ``query`` / ``query`` not a string                  MISSING_MANDATORY_PROPERTY / INVALID_PROPERTY
                                                       (``query``; HTTP 400)
GraphQL syntax error                                   MALFORMED_REQUEST
unknown field, argument or input field                 INVALID_PROPERTY (that name)
introspection while it is disabled                     INVALID_PROPERTY (``__schema`` / ``__type``)
required argument or variable not given                MISSING_MANDATORY_PROPERTY (that name)
a value of the wrong GraphQL type                      INVALID_PROPERTY (the argument or input field)
depth, alias, token or cost limit, or time limit       INVALID_PROPERTY (``query``): the ``query``
                                                       property is readable GraphQL but exceeds a
                                                       limit, so it is a bad value, not a bad body
too many subscriptions on one WebSocket                RATE_LIMITED
the client's quota is spent                            RATE_LIMITED, with ``extensions.retryAfter``
                                                       (seconds to the millisecond) when it is known
the server cannot answer now                           UNAVAILABLE, with ``extensions.retryAfter``
unknown ``operationName`` / several unnamed operations  INVALID_PROPERTY / MISSING_MANDATORY_PROPERTY
                                                       (``operationName``)
any other validation rule (fragments, variables ...)   MALFORMED_REQUEST, GraphQL's text as the reason
anything unexpected                                    INTERNAL, the generic message and nothing else
=====================================================  =================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from services.core import messages
from services.core.errors import (
    InternalError,
    InvalidProperty,
    MalformedRequest,
    MissingMandatoryProperty,
    RateLimited,
    RosettaError,
)

# graphql-core's validation and coercion messages, matched only when an error occurs; each limit
# maps to its reason in the core catalog (services.core.messages.FRAGMENTS).
_LIMITS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"exceeds maximum operation depth of (\d+)"), "too_deep"),
    (re.compile(r"aliases found\. Allowed: (\d+)"), "too_many_aliases"),
    (re.compile(r"contains more than (\d+) (?:tokens|comments)\. Parsing aborted"), "too_many_tokens"),
)
_UNKNOWN = (
    re.compile(r"^Cannot query field '(\w+)'"),
    re.compile(r"^Unknown argument '(\w+)'"),
    re.compile(r"not to include unknown field '(\w+)'"),
    re.compile(r"Field '(\w+)' is not defined by type"),
    re.compile(r"introspection has been disabled, but the requested query contained the field '(\w+)'"),
)
_MISSING = (
    re.compile(r"^Argument '[\w.]+\((\w+):\)' of type '[^']+' is required"),
    re.compile(r"argument '(\w+)' of type '[^']+' is required"),
    re.compile(r"^Variable '\$(\w+)' of required type '[^']+' was not provided"),
    re.compile(r"^Variable '\$(\w+)' has invalid value: Expected a value of non-null type"),
)
_VARIABLE_VALUE = re.compile(r"^Variable '\$(\w+)' (?:has|got) invalid value(?: at ([\w.\[\]]+))?")
_LITERAL_VALUE = re.compile(
    r"cannot represent|^Expected value of type|does not exist in '\w+' enum|^Enum '\w+' cannot"
)
SUBSCRIPTION_LIMIT = "Subscription limit reached"  # strawberry's graphql-transport-ws error text
_NAME_BEFORE = re.compile(r"(\w+)\s*:\s*(?:\[[^\[\]{}]*)?$")  # a list item: the list's name


def unexpected(error: GraphQLError) -> bool:
    """True for failures of the server itself (not catalog errors, not GraphQL's own checks)."""
    original = error.original_error
    return original is not None and not isinstance(original, (RosettaError, GraphQLError))


def to_rosetta(error: GraphQLError) -> RosettaError:
    """The catalog error a GraphQL error stands for (see the table in the module docstring)."""
    original = error.original_error
    if isinstance(original, RosettaError):
        return original
    if unexpected(error):
        return InternalError()
    message = error.message
    if message == SUBSCRIPTION_LIMIT:
        return RateLimited()
    for pattern, limit in _LIMITS:
        found = pattern.search(message)
        if found:
            return limit_exceeded(limit, int(found.group(1)))
    if isinstance(error, GraphQLSyntaxError):
        return MalformedRequest(params={"reason": "syntax"})
    for pattern in _UNKNOWN:
        found = pattern.search(message)
        if found:
            return InvalidProperty(field=found.group(1), params={"reason": "unknown"})
    for pattern in _MISSING:
        found = pattern.search(message)
        if found:
            return MissingMandatoryProperty(field=found.group(1))
    found = _VARIABLE_VALUE.search(message)
    if found:
        path = [part for part in re.split(r"[.\[\]]", found.group(2) or "") if part and not part.isdigit()]
        field = path[-1] if path else found.group(1)
        return InvalidProperty(field=field, params={"reason": "type"})
    if _LITERAL_VALUE.search(message):
        field = _argument_at(error)
        if field is not None:
            return InvalidProperty(field=field, params={"reason": "type"})
    return MalformedRequest(params={"reason": message})


def _argument_at(error: GraphQLError) -> str | None:
    """The argument or input-field name written just before the offending literal."""
    if not error.source or not error.locations:
        return None
    body, line, column = error.source.body, error.locations[0].line, error.locations[0].column
    lines = body.splitlines(keepends=True)
    offset = sum(len(text) for text in lines[: line - 1]) + column - 1
    found = _NAME_BEFORE.search(body[:offset])
    return found.group(1) if found else None


def limit_exceeded(reason: str, maximum: float, **params: object) -> InvalidProperty:
    """``reason`` is ``too_deep``, ``too_many_aliases``, ``too_many_tokens``, ``too_costly`` (with ``cost``)
    or ``too_slow``; rendered per language."""
    return InvalidProperty(field="query", params={"reason": reason, "max": maximum, **params})


def method_not_supported() -> MalformedRequest:
    """An HTTP method other than GET and POST (answered with 405 and ``Allow: GET, POST``)."""
    return MalformedRequest(params={"reason": "method"})


def subscription_needs_websocket() -> MalformedRequest:
    return MalformedRequest(params={"reason": "subscription_transport"})


def operation_needs_post(operation: str) -> MalformedRequest:
    """A mutation sent with GET (answered with 405 and ``Allow: POST``)."""
    return MalformedRequest(params={"reason": "operation_method", "operation": operation})


@lru_cache(maxsize=256)
def negotiate(accept_language: str | None) -> str:
    """The response language (en, ko, fr) for an Accept-Language value or a bare tag, cached per value."""
    if accept_language in messages.LANGUAGES:
        return accept_language
    return messages.negotiate(accept_language)


def extensions_of(error: RosettaError) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": error.code}
    if error.field is not None:
        extensions["field"] = error.field
    if error.retry_after is not None:  # RATE_LIMITED, UNAVAILABLE
        extensions["retryAfter"] = error.retry_after
    return extensions


def format_error(error: GraphQLError, language: str | None) -> dict[str, Any]:
    """One ``errors[]`` entry: the localized message, GraphQL's locations and path, code and field."""
    rosetta = to_rosetta(error)
    formatted: dict[str, Any] = {"message": rosetta.localized(language)}
    if error.locations is not None:
        formatted["locations"] = [location.formatted for location in error.locations]
    if error.path is not None:
        formatted["path"] = error.path
    formatted["extensions"] = extensions_of(rosetta)
    return formatted


def format_rosetta(error: RosettaError, language: str | None) -> dict[str, Any]:
    """An ``errors[]`` entry for a failure found before GraphQL ran (body, method, size)."""
    return {"message": error.localized(language), "extensions": extensions_of(error)}


def localize_errors(errors: Iterable[GraphQLError], language: str | None) -> list[GraphQLError]:
    """The same errors, rewritten with code, field and localized message (for streamed results)."""
    localized: list[GraphQLError] = []
    for error in errors:
        rosetta = to_rosetta(error)
        localized.append(
            GraphQLError(
                rosetta.localized(language),
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions=extensions_of(rosetta),
            )
        )
    return localized
