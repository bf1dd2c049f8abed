"""The gateway's checks for SOAP: HTTP headers (``Authorization``, ``X-Api-Key``) or a WS-Security
``UsernameToken`` (client id and secret, ``PasswordText``, as zeep's ``wsse=UsernameToken(...)`` sends
it) in the SOAP header of the already hardened envelope, before spyne sees the request."""

from __future__ import annotations

from lxml import etree

from services.core.access import Credentials, credentials_from_headers
from services.soap.errors import SOAP_ENV

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
)
_HEADER = f"{{{SOAP_ENV}}}Header"
_BODY = f"{{{SOAP_ENV}}}Body"
_TOKEN = f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken"

# Body element (document/literal: the operation's name) -> the operation of the core's scope table.
OPERATION_OF_ELEMENT: dict[str, str] = {
    "ListRooms": "listRooms",
    "GetRoom": "getRoom",
    "CreateReservation": "createReservation",
    "GetReservation": "getReservation",
    "ListReservations": "listReservations",
    "ModifyReservation": "modifyReservation",
    "CancelReservation": "cancelReservation",
    "CheckInReservation": "checkInReservation",
    "GetEvents": "watchEvents",
}


def operation_of(envelope: etree._Element) -> str | None:
    body = envelope.find(_BODY)
    if body is None or len(body) == 0:
        return None
    return OPERATION_OF_ELEMENT.get(etree.QName(body[0]).localname)


def credentials_of(
    envelope: etree._Element, authorization: str | None, api_key: str | None, address: str | None
) -> Credentials:
    """HTTP credentials win; otherwise the UsernameToken's id and secret. A PasswordDigest cannot be
    checked (only the secret's hash is kept), so it is kept as an empty secret: refused as invalid."""
    if authorization is not None or api_key is not None:
        return credentials_from_headers(authorization, api_key, address)
    header = envelope.find(_HEADER)
    token = header.find(_TOKEN) if header is not None else None
    if token is None:
        return Credentials(address=address)
    username = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
    password = token.find(f"{{{WSSE}}}Password")
    kind = password.get("Type", PASSWORD_TEXT) if password is not None else PASSWORD_TEXT
    secret = (password.text or "") if password is not None and kind == PASSWORD_TEXT else ""
    return Credentials(client_id=username or "\0", client_secret=secret, address=address)
