"""The SOAP error mapping: one table from catalog code to faultcode, and the Fault's XML shape.

Faults built here before spyne runs (hardening) and faults spyne serializes share
``fault_children``, so a client sees one shape whichever layer refused the request
(``tns`` is ``urn:rosetta:reservations:v1``)::

    <soap11env:Fault>
      <faultcode>soap11env:Client.ROOM_NOT_FOUND</faultcode>
      <faultstring xml:lang="fr">Aucune salle ...</faultstring>
      <faultactor></faultactor>
      <detail><tns:error><tns:code>ROOM_NOT_FOUND</tns:code><tns:field>roomId</tns:field></tns:error></detail>
    </soap11env:Fault>

A RATE_LIMITED (or UNAVAILABLE) fault also says how long to wait, in seconds (SOAP has no Retry-After
of its own; the HTTP header rides along where the transport sets it)::

      <detail><tns:error><tns:code>RATE_LIMITED</tns:code><tns:retryAfter>0.125</tns:retryAfter></tns:error></detail>
"""

from __future__ import annotations

from lxml import etree

from services.core.errors import ERRORS_BY_CODE, MalformedRequest, RosettaError

NAMESPACE = "urn:rosetta:reservations:v1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENV_PREFIX = "soap11env"  # the prefix spyne writes; pre-spyne faults use it too
ENVELOPE_NSMAP = {SOAP_ENV_PREFIX: SOAP_ENV, "tns": NAMESPACE}  # what spyne declares on its envelopes
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# The one mapping table (DESIGN §3): catalog code -> SOAP 1.1 faultcode. Server.* says the fault is the
# server's (retrying the same message may succeed), Client.* that the message itself is at fault.
SERVER_CODES = frozenset({"INTERNAL", "UNAVAILABLE"})
FAULTCODES: dict[str, str] = {
    code: (f"Server.{code}" if code in SERVER_CODES else f"Client.{code}") for code in ERRORS_BY_CODE
}
CODES_BY_FAULTCODE: dict[str, str] = {faultcode: code for code, faultcode in FAULTCODES.items()}

FAULT_HTTP_STATUS = 500  # SOAP 1.1 §6.2: every Fault travels with HTTP 500
CONTENT_TYPE = b"text/xml; charset=utf-8"


class EnvelopeVersionMismatch(MalformedRequest):
    """A root element that is not a SOAP 1.1 Envelope (a SOAP 1.2 one, say): SOAP 1.1 §4.4.1 answers it
    with the ``VersionMismatch`` faultcode; the detail still carries the catalog code MALFORMED_REQUEST."""

    def __init__(self) -> None:
        super().__init__(params={"reason": "soap_version"})


def faultcode_of(error: RosettaError) -> str:
    if isinstance(error, EnvelopeVersionMismatch):
        return "VersionMismatch"
    return FAULTCODES.get(error.code, FAULTCODES["INTERNAL"])


def code_of_faultcode(faultcode: str) -> str:
    """``soap11env:Client.ROOM_NOT_FOUND`` -> ``ROOM_NOT_FOUND`` (unknown faultcodes -> INTERNAL)."""
    local = faultcode.rpartition(":")[2]
    return CODES_BY_FAULTCODE.get(local, "INTERNAL")


def detail_element(error: RosettaError) -> etree._Element:
    # No nsmap of its own: inside the envelope it takes the ``tns`` prefix, as spyne's output does.
    error_el = etree.Element(f"{{{NAMESPACE}}}error")
    etree.SubElement(error_el, f"{{{NAMESPACE}}}code").text = error.code
    if error.field is not None:
        etree.SubElement(error_el, f"{{{NAMESPACE}}}field").text = error.field
    if error.retry_after is not None:  # RATE_LIMITED, UNAVAILABLE
        etree.SubElement(error_el, f"{{{NAMESPACE}}}retryAfter").text = format_seconds(error.retry_after)
    return error_el


def format_seconds(seconds: float) -> str:
    """An xs:decimal number of seconds, to the millisecond, without a trailing ``.0``."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def fault_children(
    faultcode: str, faultstring: str, language: str, detail: etree._Element | None
) -> list[etree._Element]:
    """The children of ``soap11env:Fault`` (unqualified, as SOAP 1.1 and spyne write them)."""
    code_el = etree.Element("faultcode")
    code_el.text = f"{SOAP_ENV_PREFIX}:{faultcode}"
    string_el = etree.Element("faultstring")
    string_el.text = faultstring
    string_el.set(XML_LANG, language)
    actor_el = etree.Element("faultactor")
    actor_el.text = ""
    children = [code_el, string_el, actor_el]
    if detail is not None:
        detail_el = etree.Element("detail")
        detail_el.append(detail)
        children.append(detail_el)
    return children


def fault_envelope(error: RosettaError, language: str) -> bytes:
    """A complete SOAP 1.1 Fault response body, for refusals made before spyne parses anything."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=ENVELOPE_NSMAP)
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    fault.extend(
        fault_children(faultcode_of(error), error.localized(language), language, detail_element(error))
    )
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
