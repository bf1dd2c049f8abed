"""XML hardening applied before spyne sees a request: size limit, no DTD/entities/PIs, SOAP envelope only.

The request is parsed once here, with a parser that never loads DTDs, never resolves entities and
never touches the network; the resulting tree is handed to spyne, which does not parse again.
"""

from __future__ import annotations

import threading

from lxml import etree
from starlette.types import Receive

from services.core.errors import MalformedRequest, PayloadTooLarge
from services.soap.errors import SOAP_ENV, EnvelopeVersionMismatch

_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_BODY = f"{{{SOAP_ENV}}}Body"
_FORBIDDEN_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")


def _forbidden() -> MalformedRequest:
    return MalformedRequest(params={"reason": "forbidden_construct"})


def _syntax() -> MalformedRequest:
    return MalformedRequest(params={"reason": "syntax"})


async def read_body(receive: Receive, headers: list[tuple[bytes, bytes]], limit: int) -> bytes:
    """The whole request body, refusing (PAYLOAD_TOO_LARGE) as soon as it exceeds ``limit`` bytes."""
    for name, value in headers:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise _syntax() from None
            if declared > limit:
                raise PayloadTooLarge(params={"limit": limit})
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(params={"limit": limit})
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class EnvelopeParser:
    """Parses a SOAP request body safely; one lxml parser per thread (lxml parsers are not thread-safe)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _parser(self) -> etree.XMLParser:
        parser: etree.XMLParser | None = getattr(self._local, "parser", None)
        if parser is None:
            parser = etree.XMLParser(
                resolve_entities=False,
                load_dtd=False,
                no_network=True,
                dtd_validation=False,
                huge_tree=False,
                remove_comments=True,
                remove_pis=False,  # kept so that they can be refused, not silently dropped
                collect_ids=False,
            )
            self._local.parser = parser
        return parser

    def parse(self, body: bytes) -> etree._Element:
        """The ``soap:Envelope`` element, or MalformedRequest naming why not."""
        if not body:
            raise _syntax()
        # Fast refusal of DTDs for ASCII-compatible encodings, before libxml2 reads any declaration.
        for marker in _FORBIDDEN_MARKERS:
            if marker in body:
                raise _forbidden()
        try:
            root = etree.fromstring(body, self._parser())
        except etree.XMLSyntaxError:
            raise _syntax() from None
        tree = root.getroottree()
        docinfo = tree.docinfo
        if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
            raise _forbidden()  # other encodings (UTF-16 ...) reach here
        # Processing instructions: only look at the tree when the bytes may hold one
        # (the XML declaration at offset 0 is not a PI).
        if body.find(b"<?", 1) != -1 or not body.startswith((b"<", b" ", b"\n", b"\r", b"\t")):
            if _has_processing_instruction(root):
                raise _forbidden()
        if root.tag != _ENVELOPE:
            tag = etree.QName(root)
            if tag.localname == "Envelope" and tag.namespace is not None:
                raise EnvelopeVersionMismatch()  # SOAP 1.2 or another envelope namespace
            raise _syntax()
        soap_body = root.find(_BODY)
        if soap_body is None or len(soap_body) == 0:
            raise _syntax()
        return root


def _has_processing_instruction(root: etree._Element) -> bool:
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction):
            return True
    return any(True for _ in root.iter(etree.ProcessingInstruction))
