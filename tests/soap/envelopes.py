"""Shared helpers of the SOAP tests: envelopes by hand and XML assertions on replies."""

from __future__ import annotations

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:rosetta:reservations:v1"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NS = {"soap": SOAP_ENV, "r": TNS}


def envelope(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:r="{TNS}">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def parse(content: bytes) -> etree._Element:
    return etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))


def fault_of(content: bytes) -> dict[str, str | None]:
    """faultcode, faultstring, its xml:lang, and the detail's code and field."""
    fault = parse(content).find("soap:Body/soap:Fault", NS)
    assert fault is not None, content
    string = fault.find("faultstring")
    assert string is not None
    return {
        "faultcode": fault.findtext("faultcode"),
        "faultstring": string.text,
        "lang": string.get(XML_LANG),
        "code": fault.findtext("detail/r:error/r:code", namespaces=NS),
        "field": fault.findtext("detail/r:error/r:field", namespaces=NS),
    }
