"""The ASGI app at ``/graphql``: GraphQL over HTTP (POST, GET for queries), GraphiQL, and
subscriptions over ``graphql-transport-ws``.

HTTP requests take a short path straight to ``schema.execute`` (no framework request object),
so the only per-request work is reading the body, one cached document lookup and the
resolvers. WebSockets go to strawberry's own ASGI view, which speaks the subscription protocol.

Size: over 500 lines: the short HTTP path, the WebSocket handover and the limits (depth, tokens,
aliases, cost, quotas) are one request pipeline, kept in one file to be read in order.
"""

# pylint: disable=too-many-lines

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import parse_qsl

import orjson
from graphql import GraphQLError, GraphQLFormattedError, get_operation_ast, parse
from graphql import OperationType as GraphQLOperationType
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http.ides import get_graphql_ide_html
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ErrorMessage
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message as WSMessage
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from services.core.access import TRUSTED, Guard, Principal, QuotaState, credentials_from_headers
from services.core.api import ServerApi
from services.core.errors import (
    AccessError,
    InternalError,
    InvalidProperty,
    MalformedRequest,
    MissingMandatoryProperty,
    PayloadTooLarge,
    RosettaError,
    Unauthenticated,
)
from services.core.ratelimit import quota_header_pairs, refusal_header_pairs
from services.core.validation import json_document
from services.graphql.context import RosettaContext
from services.graphql.cost import quota_tokens, select_operation
from services.graphql.errors import (
    format_error,
    format_rosetta,
    limit_exceeded,
    method_not_supported,
    negotiate,
    operation_needs_post,
    subscription_needs_websocket,
)
from services.graphql.options import GraphQLOptions
from services.graphql.schema import RosettaSchema, build_schema

__all__ = ["GraphQLApp", "GraphQLOptions", "create_app"]


log = logging.getLogger("rosetta.graphql")

# The time limit cancels graphql-core's execution. graphql-core creates each field's coroutine before the
# task that awaits it has started, and a task cancelled before its first step drops its coroutine unrun:
# the runtime then warns "coroutine ... was never awaited" when it is collected. Nothing is lost (the
# operation was stopped on purpose), so that one warning, for graphql-core's and strawberry's own
# coroutines only, is not shown. (pyproject.toml's pytest filterwarnings repeats this line.)
NEVER_AWAITED_AFTER_A_STOP = r"coroutine '(Executor|GraphQLCoreConverter)\.[^']*' was never awaited"
warnings.filterwarnings("ignore", message=NEVER_AWAITED_AFTER_A_STOP, category=RuntimeWarning)

_HTTP_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
_QUERIES_ONLY = frozenset({OperationType.QUERY})
_JSON = b"application/json"


class _RequestRejected(Exception):
    """A request GraphQL cannot even start on; carries the HTTP status and the catalog error."""

    def __init__(
        self, status: int, error: RosettaError, headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        super().__init__(error.code)
        self.status = status
        self.error = error
        self.headers = headers


class _TransportWSHandler(BaseGraphQLTransportWSHandler[RosettaContext, None]):
    """strawberry's graphql-transport-ws handler; its own error frames (the subscription cap) get codes too.

    Errors of operations are already localized by the schema extension (``on_stream_result``).
    """

    async def handle_connection_init(self, message: Any) -> None:
        """Browsers cannot set handshake headers: the credential may come in ``connection_init``'s
        payload instead (``{"authorization": "Bearer …"}`` or ``{"apiKey": …}``), as graphql-ws
        clients send it."""
        context = self.context
        payload = message.get("payload") if isinstance(message, dict) else None
        if context.guard is not None and isinstance(payload, dict):
            authorization, api_key = payload.get("authorization"), payload.get("apiKey")
            if isinstance(authorization, str) or isinstance(api_key, str):
                credentials = credentials_from_headers(
                    authorization if isinstance(authorization, str) else None,
                    api_key if isinstance(api_key, str) else None,
                    context.principal.address,
                )
                try:
                    context.act_as(await context.guard.authenticate(credentials))
                except Unauthenticated:
                    await self.websocket.close(4403, "Forbidden")  # graphql-transport-ws: a refused init
                    return
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: Any) -> None:
        """Every operation sent over the socket (a subscription, and a query or mutation too) is charged
        its cost before it runs, as over HTTP: the socket is no way around the client's quota."""
        context = self.context
        payload = message.get("payload") if isinstance(message, dict) else None
        if context.guard is not None and self.connection_acknowledged and isinstance(payload, dict):
            query, variables, name = (payload.get(k) for k in ("query", "variables", "operationName"))
            if isinstance(query, str) and message.get("id") not in self.operations:
                operation_name = name if isinstance(name, str) else None
                given = variables if isinstance(variables, dict) else None
                mutation = _is_mutation(query, operation_name)
                operation = "createReservation" if mutation else "listReservations"
                spent = _plan(cast(RosettaSchema, self.schema), query, given, operation_name)[1]
                try:
                    await context.guard.charge(context.principal, "graphql", operation, quota_tokens(spent))
                except AccessError as error:
                    refusal = cast(GraphQLFormattedError, format_rosetta(error, context.language))
                    refused = ErrorMessage(id=message["id"], type="error", payload=[refusal])
                    await self.send_message(refused)
                    return
        await super().handle_subscribe(message)

    async def send_message(self, message: WSMessage) -> None:
        if message["type"] == "error":
            language = self.context.language
            payload = [
                entry if "extensions" in entry else format_error(GraphQLError(entry["message"]), language)
                for entry in message["payload"]
            ]
            message = cast(WSMessage, {**message, "payload": payload})
        await super().send_message(message)


class SubscriptionView(GraphQL[RosettaContext, None]):
    """strawberry's ASGI view, used for WebSockets only (``graphql-transport-ws``).

    Cross-origin handshakes are refused (HTTP 403) unless the page's origin is listed in
    ``allowed_origins``: browsers attach cookies to WebSocket handshakes and apply no CORS.
    """

    graphql_transport_ws_handler_class = _TransportWSHandler

    def __init__(
        self, schema: RosettaSchema, api: ServerApi, options: GraphQLOptions, guard: Guard | None = None
    ) -> None:
        self.guard = guard
        super().__init__(
            schema,
            graphql_ide=None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=options.max_subscriptions_per_connection,
            allowed_origins=options.allowed_origins,
        )
        self.api = api

    async def get_context(self, request: Request | WebSocket, response: Any) -> RosettaContext:
        # Browsers cannot set headers on a WebSocket, so ?lang= comes first.
        language = negotiate(request.query_params.get("lang") or request.headers.get("accept-language"))
        if self.guard is None:
            return RosettaContext(self.api, language, cache=False)
        address = request.client.host if request.client else None
        credentials = credentials_from_headers(
            request.headers.get("authorization"), request.headers.get("x-api-key"), address
        )
        refused: AccessError | None = None
        try:
            principal = await self.guard.authenticate(credentials)
        except AccessError as error:  # told to each operation, as a field error of its subscription
            anonymous = credentials_from_headers(None, None, address)
            principal, refused = await self.guard.authenticate(anonymous), error
        return RosettaContext(
            self.api, language, cache=False, guard=self.guard, principal=principal, auth_error=refused
        )


# GraphiQL's scripts and styles, vendored byte for byte (the page's SRI hashes hold) in gateway/static/vendor
# under unpkg's paths and served by the gateway at /static/vendor/: the IDE works offline.
GRAPHIQL_CDN = "https://unpkg.com/"
GRAPHIQL_ASSETS = "/static/vendor/"


# What GraphiQL opens on: a Rosetta query (strawberry's page greets with a generic comment). Lab and
# playground links open a prepared one instead: /graphql?query=…&variables=…
EXAMPLE_QUERY = """# Rosetta's GraphQL: every room with its reservations, in one round trip.
# Run it with Ctrl-Enter; the Docs panel (top left) shows the whole schema.
# (Anonymous on purpose: GraphiQL keeps a named operation's name after the text is replaced.)
{
  rooms {
    roomId
    name
    capacity
    reservations {
      guestName
      date
      startTime
      endTime
      status
      actions
    }
  }
}
"""


def graphiql_html() -> str:
    """strawberry's GraphiQL page: assets from this origin, a Rosetta example, ``?query=`` links honoured."""
    page = get_graphql_ide_html("graphiql").replace(GRAPHIQL_CDN, GRAPHIQL_ASSETS)
    start = page.index("const EXAMPLE_QUERY = `") + len("const EXAMPLE_QUERY = `")
    end = page.index("`;", start)
    page = page[:start] + EXAMPLE_QUERY.replace("`", "\\`") + page[end:]
    # strawberry's page reads ?q= (and writes it back as you type); ?query= is the common spelling.
    return page.replace("parameters.q || EXAMPLE_QUERY", "parameters.q || parameters.query || EXAMPLE_QUERY")


class GraphQLApp:
    """The adapter's ASGI app; build it with ``create_app``."""

    def __init__(self, api: ServerApi, options: GraphQLOptions, guard: Guard | None = None) -> None:
        self.api = api
        self.options = options
        self.guard = guard
        self.schema = build_schema(options)
        self.subscriptions = SubscriptionView(self.schema, api, options, guard)
        self.graphiql = graphiql_html().encode() if options.graphiql else None
        self.worker = WorkerLoop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.subscriptions(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        accept_language = accept = content_type = b""
        authorization = api_key = None
        content_length = -1
        for name, value in scope["headers"]:
            if name == b"accept-language":
                accept_language = value
            elif name == b"accept":
                accept = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = int(value) if value.isdigit() else -1
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-api-key":
                api_key = value.decode("latin-1")
        language = negotiate(accept_language.decode("latin-1") or None)
        principal = TRUSTED
        quota: QuotaState | None = None
        try:
            method = scope["method"]
            if method == "GET" and b"text/html" in accept and self.graphiql:
                # A browser navigation gets the IDE, even with ?query= (a link to a prepared query);
                # API clients ask for JSON and get the query executed. The IDE page is public, like
                # the docs; the operations it sends are not.
                await _respond(send, 200, self.graphiql, b"text/html; charset=utf-8", language)
                return
            if self.guard is not None:
                client = scope.get("client")
                credentials = credentials_from_headers(authorization, api_key, client[0] if client else None)
                try:
                    principal = await self.guard.authenticate(credentials)
                except Unauthenticated as error:
                    challenge = ((b"www-authenticate", b'Bearer realm="rosetta"'),)
                    raise _RequestRejected(401, error, challenge) from None
            if method == "POST":
                if not _is_json(content_type):
                    # Browsers send text/plain, forms and multipart cross-site without asking (no CORS
                    # preflight): only JSON bodies are read, so no other site's page can run a mutation.
                    raise _RequestRejected(
                        415,
                        MalformedRequest(field="Content-Type", params={"reason": "media_type"}),
                        ((b"accept-post", b"application/json"),),
                    )
                query, variables, operation_name = await self._read_post(receive, content_length)
                allowed = _HTTP_OPERATIONS
            elif method == "GET":
                query, variables, operation_name = _read_params(scope["query_string"])
                allowed = _QUERIES_ONLY
            else:
                raise _RequestRejected(
                    405,
                    method_not_supported(),
                    ((b"allow", b"GET, POST"),),
                )
            if self.guard is not None:
                quota = await self._charge(principal, query, variables, operation_name)
            payload = await self._execute(query, variables, operation_name, allowed, language, principal)
        except _RequestRejected as rejected:
            body = _dumps({"errors": [format_rosetta(rejected.error, language)]})
            await _respond(send, rejected.status, body, _JSON, language, rejected.headers)
            return
        await _respond(send, 200, _dumps(payload), _JSON, language, quota_header_pairs(quota))

    async def _execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        allowed: frozenset[OperationType],
        language: str,
        principal: Principal = TRUSTED,
    ) -> dict[str, Any]:
        # Queries run under a wall-clock limit; a mutation is never cut off between its write and its answer.
        is_query, spent = _plan(self.schema, query, variables, operation_name)
        limit = self.options.max_seconds if is_query else None
        try:
            async with asyncio.timeout(limit):
                if spent >= self.options.offload_cost:
                    # Big answers are built on the GraphQL worker loop (its own thread), so building them
                    # never holds this loop: every other request of every style goes on meanwhile.
                    result = await self.worker.run(
                        lambda bridge: self.schema.execute(
                            query,
                            variable_values=variables,
                            context_value=RosettaContext(
                                bridge(self.api),
                                language,
                                guard=bridge(self.guard) if self.guard is not None else None,
                                principal=principal,
                            ),
                            operation_name=operation_name,
                            allowed_operation_types=allowed,
                        )
                    )
                else:
                    result = await self.schema.execute(
                        query,
                        variable_values=variables,
                        context_value=RosettaContext(
                            self.api, language, guard=self.guard, principal=principal
                        ),
                        operation_name=operation_name,
                        allowed_operation_types=allowed,
                    )
        except TimeoutError:
            log.warning("a GraphQL query was stopped after %s s", limit)
            slow = limit_exceeded("too_slow", self.options.max_seconds)
            return {"errors": [format_rosetta(slow, language)]}
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.SUBSCRIPTION:
                raise _RequestRejected(400, subscription_needs_websocket()) from None
            raise _RequestRejected(
                405, operation_needs_post(error.operation_type.value), ((b"allow", b"POST"),)
            ) from None
        except CannotGetOperationTypeError:
            unknown: RosettaError = (
                InvalidProperty(field="operationName", params={"reason": "unknown"})
                if operation_name
                else MissingMandatoryProperty(field="operationName")
            )
            return {"errors": [format_rosetta(unknown, language)]}
        except MissingQueryError:
            raise _RequestRejected(400, MissingMandatoryProperty(field="query")) from None
        if not result.errors:
            return {"data": result.data}
        errors = [format_error(error, language) for error in result.errors]
        if isinstance(result, PreExecutionError) or result.data is None and _before_execution(result.errors):
            return {"errors": errors}
        return {"data": result.data, "errors": errors}

    async def _charge(
        self,
        principal: Principal,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> QuotaState | None:
        """One charge per operation, before it runs, of as many tokens as its cost says
        (``cost.quota_tokens``). The quota treats reads and writes apart when its Redis is down, so a
        mutation is charged as a write and anything else as a read."""
        assert self.guard is not None
        operation = "createReservation" if _is_mutation(query, operation_name) else "listReservations"
        tokens = quota_tokens(_plan(self.schema, query, variables, operation_name)[1])
        try:
            return await self.guard.charge(principal, "graphql", operation, tokens)
        except AccessError as error:
            raise _RequestRejected(429, error, refusal_header_pairs(error)) from None

    async def _read_post(
        self, receive: Receive, content_length: int
    ) -> tuple[str, dict[str, Any] | None, str | None]:
        limit = self.options.max_body_bytes
        if content_length > limit:
            raise _RequestRejected(413, PayloadTooLarge(params={"limit": limit}))
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _RequestRejected(400, MalformedRequest(params={"reason": "syntax"}))
            body += message.get("body", b"")
            if len(body) > limit:
                raise _RequestRejected(413, PayloadTooLarge(params={"limit": limit}))
            more = message.get("more_body", False)
        data = _json(body)
        if not isinstance(data, dict):
            raise _RequestRejected(400, MalformedRequest(params={"reason": "syntax"}))
        return _request_fields(data)


@functools.lru_cache(maxsize=512)
def _is_mutation(query: str, operation_name: str | None) -> bool:
    """Whether the operation to run is a mutation (cached: clients repeat their documents)."""
    try:
        operation = get_operation_ast(parse(query, no_location=True), operation_name)
    except GraphQLError:  # a syntax error is execute's to report
        return False
    return operation is not None and operation.operation is GraphQLOperationType.MUTATION


def _read_params(query_string: bytes) -> tuple[str, dict[str, Any] | None, str | None]:
    params = dict(parse_qsl(query_string.decode("latin-1")))
    data: dict[str, Any] = dict(params)
    if "variables" in params:
        try:
            data["variables"] = _json(params["variables"])
        except _RequestRejected as rejected:
            if rejected.error.code != "MALFORMED_REQUEST":
                raise
            raise _RequestRejected(
                400, InvalidProperty(field="variables", params={"reason": "type"})
            ) from None
    return _request_fields(data)


def _is_json(content_type: bytes) -> bool:
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or media_type.endswith(b"+json")


def _json(body: bytes | str) -> Any:
    """orjson first (fast); what it refuses is decided by the core's JSON rule, as in every JSON style
    (a string escaping an unpaired surrogate is INVALID_PROPERTY naming its member, not a syntax error)."""
    try:
        return orjson.loads(body)
    except ValueError:
        try:
            return json_document(body)
        except RosettaError as error:
            raise _RequestRejected(400, error) from None


def _request_fields(data: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    query = data.get("query")
    if query is None or query == "":
        raise _RequestRejected(400, MissingMandatoryProperty(field="query"))
    if not isinstance(query, str):
        raise _RequestRejected(400, InvalidProperty(field="query", params={"reason": "type"}))
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise _RequestRejected(400, InvalidProperty(field="variables", params={"reason": "type"}))
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _RequestRejected(400, InvalidProperty(field="operationName", params={"reason": "type"}))
    return query, variables, operation_name


def _plan(
    schema: RosettaSchema, query: str, variables: dict[str, Any] | None, operation_name: str | None
) -> tuple[bool, int]:
    """Whether the operation is a query, and its cost (0 when it will be refused before it runs)."""
    try:
        document, errors = schema.documents.get(query)
    except GraphQLError:
        return False, 0  # not even parsed: refused before anything runs
    operation = select_operation(document, operation_name)
    is_query = operation is not None and operation.operation.value == "query"
    return is_query, (0 if errors else schema.documents.cost(query, variables, operation_name))


class WorkerLoop:
    """An event loop in a thread of its own for GraphQL operations whose answers are big.

    Resolvers there call the core through ``CoreBridge``, which runs each call on the server's loop
    (the store's connections and locks belong to it); only the GraphQL execution itself (resolver
    scheduling, building the result tree) runs in the worker thread.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def thread(self) -> threading.Thread | None:
        """The worker's thread once an operation has needed it (until ``aclose``)."""
        return self._thread

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_serve, args=(loop,), name="graphql-worker", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def run(self, operation: Callable[[Callable[[Any], Any]], Awaitable[Any]]) -> Any:
        """Run ``operation(bridge)`` on the worker loop; ``bridge(obj)`` makes obj's coroutine methods
        (the core's, the gateway guard's) run on this loop, where their connections and locks live."""
        bridge = functools.partial(CoreBridge, loop=asyncio.get_running_loop())
        future = asyncio.run_coroutine_threadsafe(_call(operation, bridge), self._started())
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()  # the time limit (or a disconnect) stops the operation in the worker too
            raise

    async def aclose(self) -> None:
        """Stop the worker (the gateway calls this on shutdown): what still runs there is cancelled and
        awaited, then its loop is closed and its thread ends."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, 10)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _call(operation: Callable[[Callable[[Any], Any]], Awaitable[Any]], bridge: Any) -> Any:
    return await operation(bridge)


class CoreBridge:
    """The core as seen from the worker loop: every coroutine method runs on the server's loop."""

    def __init__(self, api: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._api = api
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._api, name)
        if not asyncio.iscoroutinefunction(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            future = asyncio.run_coroutine_threadsafe(target(*args, **kwargs), self._loop)
            try:
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                future.cancel()
                raise

        return call


def _before_execution(errors: list[Any]) -> bool:
    # Variable coercion fails before any resolver runs; the spec then leaves "data" out.
    return all(error.path is None for error in errors)


def _dumps(payload: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:  # a value JSON cannot carry: a server bug, never shown
        log.exception("GraphQL response could not be encoded")
        return orjson.dumps({"errors": [format_rosetta(InternalError(), None)]})


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    language: str,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"content-language", language.encode()),
        (b"vary", b"Accept, Accept-Language"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(
    api: ServerApi, options: GraphQLOptions | None = None, guard: Guard | None = None
) -> GraphQLApp:
    """The GraphQL ASGI app over the one core service (the gateway mounts it at ``/graphql``); with a
    ``guard``, every request is authenticated and charged and every protected field authorized."""
    return GraphQLApp(api, options or GraphQLOptions(), guard)
