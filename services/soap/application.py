"""spyne's SOAP 1.1 protocol and application, adapted: catalog Faults in the caller's language,
spyne's own faults translated, the WSGI application the ASGI adapter wraps, and the WSDL.

The service itself (wire types and the nine operations) is ``service.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lxml import etree

from services.core.errors import (
    InternalError,
    InvalidProperty,
    MalformedRequest,
    RosettaError,
)
from services.core.messages import negotiate
from services.soap import spyne_compat  # noqa: F401  (makes spyne importable: before any spyne import)
from services.soap.errors import NAMESPACE, SOAP_ENV, detail_element, fault_children, faultcode_of

# isort: split
from spyne import Application
from spyne.interface.wsdl import Wsdl11
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from services.soap.service import APPLICATION_NAME, ENVELOPE_SCOPE_KEY, CoreBridge, ReservationSoapService

log = logging.getLogger("rosetta.soap")


def language_of(ctx: Any) -> str:
    return negotiate(ctx.transport.req_env.get("HTTP_ACCEPT_LANGUAGE"))


class RosettaFault(Fault):
    """A spyne Fault carrying a catalog error, serialized by ``RosettaSoap11.fault_to_parent``."""

    __type_name__ = "RosettaFault"

    def __init__(self, error: RosettaError, language: str) -> None:
        super().__init__(
            faultcode=faultcode_of(error),
            faultstring=error.localized(language),
            detail=detail_element(error),
            lang=language,
        )
        self.error = error


def _translate_spyne_fault(error: Exception, language: str) -> RosettaFault:
    """spyne's own faults (unknown operation, unreadable value ...) in catalog terms."""
    if isinstance(error, RosettaFault):
        return error
    faultcode = getattr(error, "faultcode", "Server")
    if faultcode.startswith("Client.ResourceNotFound") or faultcode.startswith("Client.MethodNotFound"):
        return RosettaFault(MalformedRequest(params={"reason": "unknown_type"}), language)
    if faultcode == "Client" or faultcode.startswith("Client."):
        return RosettaFault(MalformedRequest(params={"reason": "syntax"}), language)
    log.error("spyne reported a server fault: %r", error)
    return RosettaFault(InternalError(), language)


# -- spyne subclasses ---------------------------------------------------------------------------


class RosettaSoap11(Soap11):
    """Soap11 that takes the already hardened tree, refuses unknown elements, and tags faultstring."""

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        scope = ctx.transport.req_env.get("asgi.scope") or {}
        root = scope.get(ENVELOPE_SCOPE_KEY)
        if root is None:  # never let spyne parse raw bytes itself
            raise RosettaFault(MalformedRequest(params={"reason": "syntax"}), language_of(ctx))
        ctx.in_document = (root, {})

    def complex_from_element(self, ctx: Any, cls: Any, elt: Any) -> Any:
        flat = cls.get_flat_type_info(cls)
        for child in elt:
            key = child.tag.rpartition("}")[2]
            if key not in flat:
                error = InvalidProperty(field=key, params={"reason": "unknown"})
                raise RosettaFault(error, language_of(ctx))
        try:
            return super().complex_from_element(ctx, cls, elt)
        except RosettaFault:
            raise
        except Exception:
            # Find which element could not be read, to name it like the other styles do.
            for child in elt:
                key = child.tag.rpartition("}")[2]
                try:
                    self.from_element(ctx, flat[key], child)
                except Exception:
                    error = InvalidProperty(field=key, params={"reason": "type"})
                    raise RosettaFault(error, language_of(ctx)) from None
            raise

    def fault_to_parent(
        self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if not isinstance(inst, RosettaFault):
            inst = _translate_spyne_fault(inst, language_of(ctx))
        fault = etree.SubElement(parent, f"{{{SOAP_ENV}}}Fault")
        fault.extend(fault_children(inst.faultcode, inst.faultstring, inst.lang, inst.detail))
        return fault


class RosettaApplication(Application):
    """Maps every error of a use case to a RosettaFault without spyne's per-fault traceback logging."""

    def __init__(self, bridge: CoreBridge, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bridge = bridge

    def call_wrapper(self, ctx: Any) -> Any:
        try:
            return super().call_wrapper(ctx)
        except RosettaFault as fault:
            ctx.out_error = fault
        except RosettaError as error:
            ctx.out_error = RosettaFault(error, language_of(ctx))
        except Exception:
            log.exception("unexpected error in SOAP operation %s", ctx.method_request_string)
            ctx.out_error = RosettaFault(InternalError(), language_of(ctx))
        return None


class RosettaWsgiApplication(WsgiApplication):
    """Every fault leaves in catalog terms, whichever layer of spyne raised it."""

    def handle_error(self, p_ctx: Any, others: Any, error: Any, start_response: Callable[..., Any]) -> Any:
        fault = _translate_spyne_fault(error, language_of(p_ctx))
        p_ctx.out_error = fault
        p_ctx.transport.resp_code = "500 Internal Server Error"
        return super().handle_error(p_ctx, others, fault, start_response)


class _DropClientFaults(logging.Filter):
    """spyne logs every refused request with a traceback; a client's mistake is not a server problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not isinstance(record.msg, Fault)


_CLIENT_FAULT_FILTER = _DropClientFaults()


def _quiet_spyne_client_faults() -> None:
    for name in ("spyne.server._base", "spyne.server.wsgi", "spyne.application.client"):
        logger = logging.getLogger(name)
        if _CLIENT_FAULT_FILTER not in logger.filters:
            logger.addFilter(_CLIENT_FAULT_FILTER)


def build_application(bridge: CoreBridge) -> RosettaApplication:
    _quiet_spyne_client_faults()
    from spyne import const as spyne_const

    # spyne runs a full gc.collect() after a request at most once a second (to return uploaded
    # files' descriptors; this service takes none): py-spy showed it at ~6 % of the SOAP server's CPU
    # under a list load (bench.profile). Python's own generational collector still runs.
    spyne_const.MIN_GC_INTERVAL = float("inf")
    return RosettaApplication(
        bridge,
        services=[ReservationSoapService],
        tns=NAMESPACE,
        name=APPLICATION_NAME,
        in_protocol=RosettaSoap11(validator=None),
        out_protocol=RosettaSoap11(),
    )


def render_wsdl(application: Application, address: str) -> bytes:
    """The WSDL document with ``address`` as the service location (built once, never per request)."""
    application.transport = WsgiApplication.transport  # SOAP over HTTP, whichever server spyne saw last
    wsdl = Wsdl11(application.interface)
    wsdl.build_interface_document(address)
    document: bytes = wsdl.get_interface_document()
    return document
