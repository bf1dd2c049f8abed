"""``CompiledRoute``: FastAPI path operations whose dependency graph is resolved by a plan made once.

FastAPI (0.16x) walks an operation's dependency graph anew on every request: for each dependant
it re-derives caching keys, scopes and parameter shapes, builds two exit stacks and a scratch
``Response``. For REST ``get`` that walk cost more than the whole adapter did before it used path
operations (measured: about 160 µs of CPU per call against 52 µs, in process). This route class,
FastAPI's documented extension point, turns the same graph into a flat plan when the route is
made: sub-dependencies that are plain ``async def`` functions, path, header and query parameters
typed ``str``/``str | None`` (with no constraint) read directly, the other query parameters
validated by their own pydantic field as FastAPI does (same values, same errors; FastAPI 0.16x
re-derives each field's shape on every call: a list request's eight query parameters cost 45 of
its 400 µs of CPU), and other path and header parameters by FastAPI's own
``request_params_to_args``. Anything else (bodies, cookies, generator or sync dependencies, a
``SecurityScopes`` parameter, background tasks) keeps FastAPI's own handler. (Security schemes
declared with scopes are plain dependencies here: the scopes only document the operation.)
"""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Awaitable, Callable, Sequence, Set
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Values = dict[str, Any]


def _is_text(field: Any) -> bool:
    """A parameter typed ``str`` or ``str | None``: its raw value is its value."""
    annotation = field.field_info.annotation
    if annotation is str:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return set(get_args(annotation)) == {str, type(None)}
    return False


def _is_sequence(annotation: Any) -> bool:
    """``list[str]``, ``list[str] | None`` and the like: FastAPI reads every repeated value."""
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_sequence(arg) for arg in get_args(annotation) if arg is not type(None))
    origin = get_origin(annotation) or annotation
    return (
        inspect.isclass(origin)
        and issubclass(origin, (Sequence, Set))
        and not issubclass(origin, (str, bytes))
    )


_IMMUTABLE = (type(None), str, int, float, bool, bytes, frozenset)


def _holds_model(annotation: Any) -> bool:
    """A pydantic model as the parameter (FastAPI spreads its fields over the query)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_holds_model(arg) for arg in get_args(annotation))
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


@dataclass(frozen=True, slots=True)
class _Query:
    """One query parameter with its shape derived once: what FastAPI's ``request_params_to_args``
    re-derives on every call. The value is validated by the field itself, as FastAPI does, so the
    values and the errors are FastAPI's (``tests/rest/test_routing.py`` compares the two)."""

    name: str
    alias: str
    field: Any
    text: bool  # ``str`` / ``str | None`` with no constraint: the raw value is the value
    sequence: bool
    required: bool
    default: Any  # when absent, unless ``fresh``
    fresh: bool  # a default made anew for each request (a factory, or a mutable value copied)

    @classmethod
    def of(cls, field: Any) -> _Query | None:
        """None where FastAPI's own reading is needed: a model, an alias choice, a validated default."""
        info = field.field_info
        if (
            info.validation_alias not in (None, field.alias)
            or info.validate_default
            or _holds_model(info.annotation)
        ):
            return None
        fresh = info.default_factory is not None or not isinstance(info.default, _IMMUTABLE)
        return cls(
            name=field.name,
            alias=field.alias,
            field=field,
            text=_is_text(field) and not info.metadata,
            sequence=_is_sequence(info.annotation),
            required=info.is_required(),
            default=None if fresh else info.default,
            fresh=fresh,
        )

    def read(self, source: Any, values: Values, errors: list[Any]) -> None:
        value = source.getlist(self.alias) if self.sequence else source.get(self.alias)
        if value is None or (self.sequence and not value):
            if self.required:
                errors.append(
                    {"type": "missing", "loc": ("query", self.alias), "msg": "Field required", "input": None}
                )
            else:
                values[self.name] = copy.deepcopy(self.field.default) if self.fresh else self.default
        elif self.text:
            values[self.name] = value
        else:
            validated, failed = self.field.validate(value, values, loc=("query", self.alias))
            if failed:
                errors.extend(failed)
            else:
                values[self.name] = validated


@dataclass(frozen=True, slots=True)
class _Step:
    name: str | None
    call: Callable[..., Awaitable[Any]]
    plan: Plan


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[_Step, ...]
    request_names: tuple[str, ...]  # parameters given the request (Request or HTTPConnection)
    text_paths: tuple[tuple[str, str], ...]  # (argument, path parameter)
    other_paths: tuple[Any, ...]
    text_headers: tuple[tuple[str, str, Any], ...]  # (argument, header, default)
    other_headers: tuple[Any, ...]
    queries: tuple[_Query, ...]  # every query parameter, when each can be read so
    other_queries: tuple[Any, ...]  # otherwise: every query parameter, read by FastAPI

    @classmethod
    def compile(cls, dependant: Dependant) -> Plan | None:
        """The plan of ``dependant``, or None when it uses what only FastAPI's handler does."""
        if (
            dependant.body_params
            or dependant.cookie_params
            or dependant.background_tasks_param_name
            or dependant.response_param_name
            or dependant.websocket_param_name
            or dependant.security_scopes_param_name
        ):
            return None
        queries = tuple(query for query in map(_Query.of, dependant.query_params) if query is not None)
        read_by_fastapi = () if len(queries) == len(dependant.query_params) else tuple(dependant.query_params)
        steps = []
        for sub in dependant.dependencies:
            if sub.call is None or not inspect.iscoroutinefunction(_function(sub.call)):
                return None
            plan = cls.compile(sub)
            if plan is None:
                return None
            steps.append(_Step(sub.name, sub.call, plan))
        return cls(
            steps=tuple(steps),
            request_names=tuple(
                name
                for name in (dependant.request_param_name, dependant.http_connection_param_name)
                if name is not None
            ),
            text_paths=tuple((f.name, f.alias) for f in dependant.path_params if _is_text(f)),
            other_paths=tuple(f for f in dependant.path_params if not _is_text(f)),
            text_headers=tuple(
                (f.name, f.alias, f.field_info.default) for f in dependant.header_params if _is_text(f)
            ),
            other_headers=tuple(f for f in dependant.header_params if not _is_text(f)),
            queries=() if read_by_fastapi else queries,
            other_queries=read_by_fastapi,
        )

    async def solve(self, request: Request, cache: dict[Any, Any], errors: list[Any]) -> Values:
        values: Values = {}
        for step in self.steps:
            key = step.call
            if key in cache:
                solved = cache[key]
            else:
                arguments = await step.plan.solve(request, cache, errors)
                if errors:
                    continue
                solved = cache[key] = await step.call(**arguments)
            if step.name is not None:
                values[step.name] = solved
        for name in self.request_names:
            values[name] = request
        if self.text_paths:
            path_params = request.path_params
            for name, alias in self.text_paths:
                values[name] = path_params[alias]
        if self.text_headers:
            headers = request.headers
            for name, alias, default in self.text_headers:
                values[name] = headers.get(alias, default)
        if self.other_paths:
            self._validate(self.other_paths, request.path_params, values, errors)
        if self.other_headers:
            self._validate(self.other_headers, request.headers, values, errors)
        if self.queries:
            source = request.query_params
            for query in self.queries:
                query.read(source, values, errors)
        elif self.other_queries:
            self._validate(self.other_queries, request.query_params, values, errors)
        return values

    @staticmethod
    def _validate(fields: tuple[Any, ...], source: Any, values: Values, errors: list[Any]) -> None:
        found, failed = request_params_to_args(list(fields), source)
        values.update(found)
        errors.extend(failed)


def _function(call: Any) -> Any:
    """The function behind a callable (a ``JsonBody`` instance is called through its class)."""
    return call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__


class CompiledRoute(APIRoute):
    """An APIRoute served by its compiled plan when it has one (see the module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.plan = Plan.compile(self.dependant)
        if self.plan is not None and inspect.iscoroutinefunction(_function(endpoint)):
            self.app = self._serve

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.plan is not None
        request = Request(scope, receive, send)
        errors: list[Any] = []
        values = await self.plan.solve(request, {}, errors)
        if errors:
            raise RequestValidationError(errors)
        response = await self.endpoint(**values)
        if not isinstance(response, Response):
            raise TypeError(f"{self.name} must return a Response when served by its plan")
        await response(scope, receive, send)
