"""What the gateway serves besides the styles: the landing page, the checked-in contracts, the
vendored browser assets, the workshop's docs and its fault control."""

from __future__ import annotations

import html
import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.faults import Fault, FaultInjector, control_body
from gateway.settings import STYLES, Settings
from services.core import messages
from services.core.errors import MalformedRequest

# Served at /contracts/<name>, read from the project directory.
CONTRACTS: dict[str, tuple[str, str]] = {
    "reservations.proto": ("protos/rosetta/reservations/v1/reservations.proto", "text/plain; charset=utf-8"),
    "reservations.wsdl": ("wsdl/reservations.wsdl", "text/xml; charset=utf-8"),
    "schema.graphql": ("contracts/schema.graphql", "text/plain; charset=utf-8"),
    "asyncapi.yaml": ("contracts/asyncapi.yaml", "text/yaml; charset=utf-8"),
}


# Browser assets the docs pages load (Swagger UI, GraphiQL), served at /static/vendor/<path>: see
# gateway/static/vendor/README.md. Paths carry the package version, so they are cached as immutable.
VENDOR_TYPES: dict[str, str] = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE, NOTICE
}


def vendor_files() -> dict[str, tuple[Traversable, str]]:
    """Every servable vendored file by its path under /static/vendor/ (the only paths ever opened)."""
    found: dict[str, tuple[Traversable, str]] = {}
    pending: list[tuple[str, Traversable]] = [("", resources.files("gateway").joinpath("static/vendor"))]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((prefix + entry.name + "/", entry))
            elif (content_type := VENDOR_TYPES.get(Path(entry.name).suffix)) is not None:
                found[prefix + entry.name] = (entry, content_type)
    return found


def project_dir(settings: Settings) -> Path:
    if settings.project_dir:
        return Path(settings.project_dir)
    return Path(__file__).resolve().parent.parent


async def respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_problem(send: Send, status: int, scope: Scope, reason: str) -> None:
    """A catalog problem (RFC 9457) for what the gateway itself refuses, in the request's language."""
    headers = dict(scope.get("headers", ()))
    language = messages.negotiate(headers.get(b"accept-language", b"").decode("latin-1") or None)
    error = MalformedRequest(params={"reason": reason})
    body = {
        "type": "urn:rosetta:problem:" + error.code.lower().replace("_", "-"),
        "code": error.code,
        "title": error.title(language),
        "detail": error.localized(language),
        "status": status,
        "instance": scope.get("path", ""),
    }
    await respond(send, status, json.dumps(body, ensure_ascii=False).encode(), "application/problem+json")


def faults_control(injector: FaultInjector) -> ASGIApp:
    """``/workshop/faults``: GET shows the rules and what they did, PUT replaces them, DELETE clears them."""

    async def control(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        method = scope["method"]
        if method == "PUT":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if len(body) > 64 * 1024:
                    await send_problem(send, 400, scope, "syntax")
                    return
                if not message.get("more_body"):
                    break
            try:
                raw = json.loads(body or b"null")
                if not isinstance(raw, dict) or not isinstance(raw.get("faults"), list):
                    raise ValueError('the body is {"faults": [...]}')
                rules = [Fault.from_dict(item) for item in raw["faults"]]
            except ValueError as error:  # json.JSONDecodeError is a ValueError
                problem = {  # a teacher's tool: the detail names the rule in English
                    "type": "urn:rosetta:problem:invalid-property",
                    "code": "INVALID_PROPERTY",
                    "title": messages.title("INVALID_PROPERTY", None),
                    "detail": str(error),
                    "status": 400,
                    "instance": scope["path"],
                }
                await respond(send, 400, json.dumps(problem).encode(), "application/problem+json")
                return
            injector.replace(rules)
        elif method == "DELETE":
            injector.replace(())
        elif method not in ("GET", "HEAD"):
            await send_problem(send, 405, scope, "method")
            return
        await respond(send, 200, control_body(injector), "application/json")

    return control


_STYLE_ROWS: dict[str, tuple[str, str, str]] = {  # style -> (name, address template, contract link)
    "rest": ("REST", '<a href="{base}/api/v1">{base}/api/v1</a>', '<a href="/openapi.json">OpenAPI</a>'),
    "graphql": (
        "GraphQL",
        '<a href="{base}/graphql">{base}/graphql</a> (GraphiQL in a browser)',
        '<a href="/contracts/schema.graphql">SDL</a>',
    ),
    "grpc": (
        "gRPC",
        "<code>{grpc}</code> (reflection and health on)",
        '<a href="/contracts/reservations.proto">.proto</a>',
    ),
    "soap": ("SOAP 1.1", "<code>POST {base}/soap</code>", '<a href="/soap?wsdl">WSDL</a>'),
    "websocket": (
        "WebSocket",
        "<code>{ws}/ws</code>, subprotocol <code>rosetta.v1</code>",
        '<a href="/contracts/asyncapi.yaml">AsyncAPI</a>',
    ),
    "webhooks": (
        "Webhooks",
        '<a href="{base}/api/v1/webhook-subscriptions">{base}/api/v1/webhook-subscriptions</a>',
        '<a href="/contracts/asyncapi.yaml">AsyncAPI</a> (channel <code>webhooks</code>)',
    ),
}


def _store_kind(db: str) -> str:
    """The store in words, never its URL (which may hold a password)."""
    scheme = db.split(":", 1)[0].lower()
    if scheme.startswith("postgres"):
        return "PostgreSQL"
    if scheme == "memory":
        return "in memory (gone when the process stops)"
    return "SQLite" + (f" ({db.split('///', 1)[-1]})" if "///" in db else "")


def landing_page(template: str, settings: Settings, grpc_port: int | None, *, bench_report: bool) -> bytes:
    """The landing page, filled in with what this process serves and where (read on every request)."""
    base = settings.base_url
    behind_edge = bool(settings.playground_grpc_target)  # compose: the edge routes every style by path
    host = urlsplit(base).hostname or "127.0.0.1"
    if behind_edge:
        grpc = f"{host}:{settings.playground_grpc_target.rsplit(':', 1)[-1]} (through the edge)"
    else:
        grpc = f"{host}:{grpc_port}" if grpc_port else f"{host}:{settings.grpc_port} (starting)"
    values = {
        "base": html.escape(base),
        "ws": html.escape(base.replace("http", "ws", 1)),
        "grpc": html.escape(grpc),
    }
    rows = []
    for style in STYLES:
        name, address, contract = _STYLE_ROWS[style]
        if style in settings.styles:
            here = '<span class="on">served by this process</span>'
            css = ""
        elif behind_edge:
            here = "another container, same edge"
            css = ""
        else:
            here = '<span class="off-mark">not in this process</span>'
            css = ' class="off"'
        rows.append(
            f"<tr{css}><td>{name}</td><td>{here}</td><td>{address.format(**values)}</td><td>{contract}</td></tr>"
        )
    facts = [
        f"This process serves {', '.join(sorted(settings.styles))}; "
        f"store: {html.escape(_store_kind(settings.db))}."
    ]
    if "webhooks" in settings.styles:
        facts.append(
            "Webhooks are delivered " + ("here." if settings.dispatcher else "by `rosetta dispatch`.")
        )
    if settings.workshop:
        facts.append(
            'Workshop mode: the fault injector is at <a href="/workshop/faults">/workshop/faults</a>.'
        )
    page = template.replace("{{ROWS}}", "\n".join(rows)).replace("{{DEPLOYMENT}}", " ".join(facts))
    if bench_report:  # `rosetta bench` wrote a report on this machine: /bench serves it
        bench = (
            '<a class="way" href="/bench"><strong>Benchmark report</strong><span>the latest '
            "<code>rosetta bench</code> run on this machine: throughput, CPU/op, bytes/op</span></a>"
        )
    else:
        bench = (
            '<div class="way"><strong>Benchmark report</strong><span>none on this machine yet: '
            "<code>rosetta bench</code> writes one, served at /bench; the README shows a run</span></div>"
        )
    return page.replace("{{BENCH}}", bench).replace("{{CREDENTIAL}}", "").encode()


def workshop_docs(root: Path, faults: ASGIApp | None) -> ASGIApp:
    """``/workshop/``: the guide and the labs' READMEs as text; ``/workshop/faults`` in workshop mode."""
    folder = root / "workshop"
    documents = (
        {
            path.relative_to(folder).as_posix(): path
            for path in folder.glob("**/*.md")
            if "starter" not in path.parts
        }
        if folder.is_dir()
        else {}
    )

    async def docs(scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"].removeprefix("/workshop").strip("/")
        if name == "faults" and faults is not None:
            await faults(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        path = documents.get(name or "README.md")
        if path is None:
            await send_problem(send, 404, scope, "no_route")
            return
        await respond(send, 200, path.read_bytes(), "text/plain; charset=utf-8")

    return docs
