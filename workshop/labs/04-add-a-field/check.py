"""Lab 04's checker: the learner's contracts, compared with the ones the real server serves — the new field
is there in every contract, optional, and nothing the server's clients rely on changed."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml
from google.protobuf import descriptor_pb2
from graphql import GraphQLInputObjectType, GraphQLObjectType, build_schema, find_breaking_changes
from lxml import etree

from workshop.checking import Hint, LabContext, check

FIELD = "contactEmail"
PROTO_FIELD = "contact_email"
PROJECT = Path(__file__).resolve().parents[3]
FILES = {  # working-folder name -> (path in the project, URL path on the server)
    "reservations.proto": (
        "protos/rosetta/reservations/v1/reservations.proto",
        "/contracts/reservations.proto",
    ),
    "schema.graphql": ("contracts/schema.graphql", "/contracts/schema.graphql"),
    "reservations.wsdl": ("wsdl/reservations.wsdl", "/contracts/reservations.wsdl"),
    "asyncapi.yaml": ("contracts/asyncapi.yaml", "/contracts/asyncapi.yaml"),
    "openapi.json": ("", "/openapi.json"),
}
XS = "{http://www.w3.org/2001/XMLSchema}"


async def prepare(folder: Path) -> None:
    """`rosetta workshop start 4`: copy today's contracts into the working folder."""
    from gateway.app import build_app
    from gateway.settings import Settings

    for name, (path, _) in FILES.items():
        if path:
            (folder / name).write_bytes((PROJECT / path).read_bytes())
    app = build_app(Settings(db="memory://", styles=frozenset({"rest"}), access_log=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rosetta") as http:
        document = (await http.get("/openapi.json")).json()
    (folder / "openapi.json").write_text(json.dumps(document, indent=2) + "\n")


async def _served(lab: LabContext, name: str) -> str:
    if "served" not in lab.state:
        lab.state["served"] = {}
        async with httpx.AsyncClient(headers=lab.headers(), timeout=10) as http:
            for file, (_, url) in FILES.items():
                response = await http.get(lab.base_url + url, follow_redirects=True)
                response.raise_for_status()
                lab.state["served"][file] = response.text
    return str(lab.state["served"][name])


def _mine(lab: LabContext, name: str) -> str:
    path = lab.work / name
    if not path.is_file():
        raise Hint(f"{name} is missing from {lab.work}: `rosetta workshop start 4 --force` copies it afresh")
    return path.read_text(encoding="utf-8")


def _descriptors(text: str) -> dict[str, descriptor_pb2.DescriptorProto]:
    include = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "reservations.proto").write_text(text, encoding="utf-8")
        out = Path(tmp, "set.pb")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{tmp}",
                f"-I{include}",
                f"--descriptor_set_out={out}",
                "reservations.proto",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise Hint(f"protoc refuses your reservations.proto: {done.stderr.strip()[:300]}")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return {message.name: message for message in files.file[0].message_type}


@check("proto: a new field number, nothing renumbered", "edit reservations.proto in your working folder.")
async def proto(lab: LabContext) -> str:
    before = _descriptors(await _served(lab, "reservations.proto"))
    after = _descriptors(_mine(lab, "reservations.proto"))
    for name, message in before.items():
        mine = {field.name: field for field in after[name].field} if name in after else {}
        for field in message.field:
            if field.name not in mine:
                raise Hint(f"{name}.{field.name} is gone: old clients still send and read it")
            if (mine[field.name].number, mine[field.name].type) != (field.number, field.type):
                raise Hint(
                    f"{name}.{field.name} changed its number or type: protobuf identifies fields by "
                    "number on the wire, so old clients would read garbage. Never reuse or renumber"
                )
    numbers = []
    for name in ("Reservation", "CreateReservationRequest"):
        fields = {field.name: field for field in after[name].field}
        added = fields.get(PROTO_FIELD)
        if added is None:
            raise Hint(f"no {PROTO_FIELD} in message {name} (protobuf names are snake_case)")
        used = {field.number for field in before[name].field}
        reserved = any(r.start <= added.number < r.end for r in before[name].reserved_range)
        if added.number in used or reserved:
            raise Hint(
                f"{name}.{PROTO_FIELD} takes number {added.number}, used or reserved before: pick a new one"
            )
        if added.type != descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
            raise Hint(f"{name}.{PROTO_FIELD} should be a string")
        numbers.append(f"{name}.{PROTO_FIELD} = {added.number}")
    return ", ".join(numbers)


@check("GraphQL: no breaking change by graphql-core's own rules", "edit schema.graphql.")
async def graphql(lab: LabContext) -> str:
    try:
        after = build_schema(_mine(lab, "schema.graphql"))
    except Exception as error:
        raise Hint(f"schema.graphql does not build: {error}") from None
    breaking = find_breaking_changes(build_schema(await _served(lab, "schema.graphql")), after)
    if breaking:
        first = breaking[0]
        raise Hint(
            f"breaking: {first.description} ({first.type.name}). A new input field must be nullable; "
            "an output field may be added, never removed or retyped"
        )
    for type_name in ("Reservation", "CreateReservationInput"):
        named = after.get_type(type_name)
        field = (
            named.fields.get(FIELD) if isinstance(named, GraphQLObjectType | GraphQLInputObjectType) else None
        )
        if field is None:
            raise Hint(f"no {FIELD} on {type_name}")
        if str(field.type) != "String":
            raise Hint(f"{type_name}.{FIELD} is {field.type}; make it a nullable String")
    return "Reservation and CreateReservationInput have contactEmail: String; find_breaking_changes: none"


def _sequence(tree: Any, type_name: str) -> list[Any]:
    found = tree.findall(f".//{XS}complexType[@name='{type_name}']/{XS}sequence/{XS}element")
    return list(found)


@check("WSDL: an optional element at the end of the sequence", "edit reservations.wsdl.")
async def wsdl(lab: LabContext) -> str:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    before = etree.fromstring((await _served(lab, "reservations.wsdl")).encode(), parser)
    try:
        after = etree.fromstring(_mine(lab, "reservations.wsdl").encode(), parser)
    except etree.XMLSyntaxError as error:
        raise Hint(f"reservations.wsdl is not well-formed XML: {error}") from None
    for type_name in ("Reservation", "CreateReservation"):
        old = [element.get("name") for element in _sequence(before, type_name)]
        new = _sequence(after, type_name)
        names = [element.get("name") for element in new]
        if FIELD not in names:
            raise Hint(f'no <xs:element name="{FIELD}"> in complexType {type_name}')
        if names[: len(old)] != old:
            raise Hint(
                f"the elements of {type_name} moved: xs:sequence fixes their order, and strict clients "
                "(zeep, JAX-WS) refuse a document out of order. Append the new element at the end"
            )
        added = new[names.index(FIELD)]
        if added.get("minOccurs") != "0":
            raise Hint(f'{type_name}/{FIELD} must be optional (minOccurs="0"): old clients never send it')
    return "appended to Reservation and CreateReservation, minOccurs=0"


@check("OpenAPI: the property documented, not required in the request", "edit openapi.json.")
async def openapi(lab: LabContext) -> str:
    before = json.loads(await _served(lab, "openapi.json"))["components"]["schemas"]
    try:
        after = json.loads(_mine(lab, "openapi.json"))["components"]["schemas"]
    except (ValueError, KeyError) as error:
        raise Hint(f"openapi.json is not an OpenAPI document any more: {error}") from None
    for name in ("Reservation", "ReservationCreate"):
        props = after.get(name, {}).get("properties", {})
        missing = set(before[name].get("properties", {})) - set(props)
        if missing:
            raise Hint(f"{name} lost {', '.join(sorted(missing))}")
        if FIELD not in props:
            raise Hint(f"no {FIELD} in components.schemas.{name}.properties")
    if FIELD in after["ReservationCreate"].get("required", []):
        raise Hint(
            f"{FIELD} is required in ReservationCreate: every existing client's POST would now be a 400"
        )
    return "Reservation and ReservationCreate document contactEmail"


@check("AsyncAPI: the event payload says it too", "edit asyncapi.yaml.")
async def asyncapi(lab: LabContext) -> str:
    try:
        document = yaml.safe_load(_mine(lab, "asyncapi.yaml"))
    except yaml.YAMLError as error:
        raise Hint(f"asyncapi.yaml does not parse: {error}") from None
    reservation = document.get("components", {}).get("schemas", {}).get("Reservation", {})
    if FIELD not in reservation.get("properties", {}):
        raise Hint(
            f"no {FIELD} in components.schemas.Reservation.properties: WebSocket results and every "
            "event carry the reservation"
        )
    if reservation.get("additionalProperties") is False:
        lab.state["closed"] = True
    return "Reservation (results, events, webhooks) has contactEmail"


QUIZ = {
    "proto_renumber": True,  # numbers are the wire identity
    "proto_rename": False,  # names are not on the wire (but break generated code and JSON mapping)
    "graphql_add_nullable_output": False,
    "graphql_add_non_null_input": True,
    "rest_add_optional_response_property": False,  # unless a client validates strictly
    "soap_insert_in_middle": True,
    "asyncapi_add_property_to_closed_schema": True,  # additionalProperties: false refuses it
}


@check(
    "Breaking or not: your answers in answers.py", "BREAKING maps each change to True (breaking) or False."
)
async def quiz(lab: LabContext) -> str:
    answers = getattr(lab.load("answers"), "BREAKING", {})
    wrong = [name for name, truth in QUIZ.items() if answers.get(name) is not truth]
    if wrong:
        raise Hint(
            f"{len(wrong)} of {len(QUIZ)} not right yet, e.g. {wrong[0]!r}: think about what an *old* "
            "client, compiled or written against yesterday's contract, does with the new message"
        )
    return f"{len(QUIZ)} of {len(QUIZ)}"


CHECKS = [proto, graphql, wsdl, openapi, asyncapi, quiz]
PREPARE = prepare
