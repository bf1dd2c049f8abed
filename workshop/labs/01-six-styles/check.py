"""Lab 01's checker: sends the learner's hand-made requests to a real server, one per style."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import httpx
import websockets
from google.protobuf import json_format
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from workshop.checking import Hint, LabContext, check

ROOM = "room-c"
STYLES = ("rest", "graphql", "grpc", "soap", "websocket")


async def _expected(lab: LabContext) -> str:
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        return str((await http.get(f"{lab.base_url}/api/v1/rooms/{ROOM}")).json()["name"])


def _sizes(lab: LabContext) -> dict[str, int]:
    sizes: dict[str, int] = lab.state.setdefault("answer_bytes", {})
    return sizes


@check("REST: your method and path read the room", "rest_request() returns (method, path), e.g. a GET.")
async def rest(lab: LabContext) -> str:
    method, path = lab.load("calls").rest_request(ROOM)
    if not str(path).startswith("/"):
        raise Hint(f"the path {path!r} should start with / (the checker puts the server in front)")
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        response = await http.request(method, lab.base_url + path)
    if response.status_code != 200 or response.json().get("roomId") != ROOM:
        raise Hint(
            f"{method} {path} answered {response.status_code}: look at the `rooms` link of "
            f"GET /api/v1 and follow it to one room"
        )
    _sizes(lab)["rest"] = len(response.content)
    return f"{method} {path} → 200, {len(response.content)} bytes of JSON"


@check(
    "GraphQL: your query reads the room's name", "graphql_body() returns the JSON object POSTed to /graphql."
)
async def graphql(lab: LabContext) -> str:
    body = lab.load("calls").graphql_body(ROOM)
    async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
        response = await http.post(f"{lab.base_url}/graphql", json=body)
    answer = response.json()
    if answer.get("errors"):
        first = answer["errors"][0].get("message", "")
        raise Hint(
            f"GraphQL answered {response.status_code} (yes, 200) with an error: {first!r}. "
            "Try the query in GraphiQL first"
        )
    if await _expected(lab) not in json.dumps(answer.get("data"), ensure_ascii=False):
        raise Hint("the answer holds no room name: select the `name` field of `room(roomId: …)`")
    _sizes(lab)["graphql"] = len(response.content)
    return f"POST /graphql → {len(response.content)} bytes"


@check("SOAP: your envelope calls GetRoom", "soap_envelope() returns the whole XML envelope as a string.")
async def soap(lab: LabContext) -> str:
    envelope = lab.load("calls").soap_envelope(ROOM)
    headers = {**lab.headers(), "Content-Type": "text/xml; charset=utf-8"}
    async with httpx.AsyncClient(headers=headers, timeout=10) as http:
        response = await http.post(f"{lab.base_url}/soap", content=envelope.encode())
    if response.status_code != 200:
        fault = response.text.split("<faultstring", 1)[-1].split(">", 1)[-1].split("<", 1)[0]
        raise Hint(
            f"the server answered {response.status_code} with a fault: {fault!r}. SOAP uses 500 for "
            "every fault, even your mistakes; compare your envelope with the operation in /soap?wsdl"
        )
    if await _expected(lab) not in response.text:
        raise Hint("the answer holds no room name: is the operation GetRoom, and roomId in its namespace?")
    _sizes(lab)["soap"] = len(response.content)
    return f"POST /soap → 200, {len(response.content)} bytes of XML"


@check(
    "WebSocket: your frame gets a result",
    "websocket_frame() returns the frame as a dict {id, type, payload}.",
)
async def websocket(lab: LabContext) -> str:
    frame = lab.load("calls").websocket_frame(ROOM)
    async with websockets.connect(
        lab.ws_url, subprotocols=[websockets.Subprotocol("rosetta.v1")], additional_headers=lab.headers()
    ) as ws:
        await ws.send(json.dumps(frame))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
    if answer.get("type") != "result":
        raise Hint(f"the server answered with {answer.get('type')!r}: {answer.get('payload')}")
    if answer.get("id") != frame.get("id"):
        raise Hint("the answer's id should be your frame's id: give your frame an id")
    text = json.dumps(answer["payload"], ensure_ascii=False)
    if await _expected(lab) not in text:
        raise Hint("the result holds no room name: which message type reads one room?")
    _sizes(lab)["websocket"] = len(json.dumps(answer, separators=(",", ":")).encode())
    return f"one frame each way, {_sizes(lab)['websocket']} bytes back"


def _grpc_call(target: str, method: str, request: dict[str, Any], metadata: list[tuple[str, str]]) -> Any:
    with grpc.insecure_channel(target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        service_name, _, method_name = method.lstrip("/").rpartition("/")
        if service_name not in database.get_services():
            raise Hint(f"reflection lists no service {service_name!r}: list the services first")
        pool = DescriptorPool(database)
        descriptor = pool.FindServiceByName(service_name).FindMethodByName(method_name)
        if descriptor is None:
            raise Hint(f"{service_name} has no method {method_name!r}: describe the service by reflection")
        request_class = GetMessageClass(descriptor.input_type)
        response_class = GetMessageClass(descriptor.output_type)
        try:
            message = json_format.ParseDict(request, request_class())
        except json_format.ParseError as error:
            raise Hint(f"your request does not fit {descriptor.input_type.full_name}: {error}") from None
        call: grpc.UnaryUnaryMultiCallable[Any, Any] = channel.unary_unary(
            f"/{service_name}/{method_name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        try:
            response = call(message, timeout=5, metadata=tuple(metadata))
        except grpc.RpcError as error:
            raise Hint(f"the call failed with {error.code().name}: {error.details()}") from None
        return response


@check("gRPC: your method and message, found by reflection", "GRPC_METHOD is 'package.Service/Method'.")
async def grpc_call(lab: LabContext) -> str:
    if lab.grpc_target is None:
        raise Hint("this server does not serve gRPC: start it with every style")
    calls = lab.load("calls")
    metadata = [("x-api-key", lab.api_key)] if lab.api_key else []  # an API key travels as x-api-key
    response = await asyncio.to_thread(
        _grpc_call, lab.grpc_target, calls.GRPC_METHOD, calls.grpc_request(ROOM), metadata
    )
    if await _expected(lab) not in json.dumps(json_format.MessageToDict(response), ensure_ascii=False):
        raise Hint("the call worked but returned no room name: which method reads one room?")
    _sizes(lab)["grpc"] = len(response.SerializeToString())
    return f"{calls.GRPC_METHOD} → {_sizes(lab)['grpc']} bytes of protobuf"


@check("You named the smallest and the largest answer", "SMALLEST_ANSWER and LARGEST_ANSWER name a style.")
async def sizes(lab: LabContext) -> str:
    measured = _sizes(lab)
    if len(measured) < (5 if lab.grpc_target else 4):
        raise Hint("first make every call above work: the sizes compared are those of your own answers")
    calls = lab.load("calls")
    for name in ("SMALLEST_ANSWER", "LARGEST_ANSWER"):
        if getattr(calls, name, None) not in STYLES:
            raise Hint(f"set {name} to one of {', '.join(STYLES)} (the payload of the answer, no headers)")
    smallest = min(measured, key=lambda style: measured[style])
    largest = max(measured, key=lambda style: measured[style])
    if calls.SMALLEST_ANSWER != smallest or calls.LARGEST_ANSWER != largest:
        raise Hint(
            "not what your own calls returned: compare the bytes in the playground's summary row "
            "(or count them: curl -w '%{size_download}'), and think about what each format repeats"
        )
    listed = ", ".join(f"{style} {size} B" for style, size in sorted(measured.items(), key=lambda i: i[1]))
    return listed


CHECKS = [rest, graphql, soap, websocket, grpc_call, sizes]
INDEPENDENT = True  # each style's call is checked on its own: a learner can do them in any order
