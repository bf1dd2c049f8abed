"""The checked-in WSDL contract: regenerate it, or compare a served WSDL with it.

python -m services.soap.wsdl           # rewrite wsdl/reservations.wsdl from the spyne definitions
python -m services.soap.wsdl --check   # exit 1 when the definitions drifted from the file
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lxml import etree

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "wsdl" / "reservations.wsdl"
DEFAULT_ADDRESS = "http://127.0.0.1:8000/soap"
_SOAP_ADDRESS = "{http://schemas.xmlsoap.org/wsdl/soap/}address"


def generate(address: str = DEFAULT_ADDRESS) -> bytes:
    """The WSDL spyne builds from ``services.soap.service``, pretty-printed for reading and review."""
    from services.soap.application import build_application, render_wsdl
    from services.soap.service import CoreBridge

    # The WSDL depends on the definitions only; no core is needed (nor called) to build it.
    document = render_wsdl(build_application(CoreBridge(None)), address)  # type: ignore[arg-type]  # no core
    root = etree.fromstring(document, etree.XMLParser(remove_blank_text=True))
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def normalize(document: bytes) -> bytes:
    """Canonical form without the service address: equal bytes mean the same contract."""
    parser = etree.XMLParser(
        remove_blank_text=True, remove_comments=True, resolve_entities=False, no_network=True
    )
    root = etree.fromstring(document, parser)
    for address in root.iter(_SOAP_ADDRESS):
        address.attrib.pop("location", None)
    return etree.tostring(root, method="c14n2", strip_text=True)


def service_address(document: bytes) -> str | None:
    root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    for address in root.iter(_SOAP_ADDRESS):
        return address.get("location")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    fresh = generate()
    if args.check:
        current = CONTRACT_PATH.read_bytes() if CONTRACT_PATH.exists() else b""
        if not current or normalize(current) != normalize(fresh):
            print(f"{CONTRACT_PATH} is stale: run python -m services.soap.wsdl", file=sys.stderr)
            return 1
        print(f"{CONTRACT_PATH} is up to date")
        return 0
    CONTRACT_PATH.parent.mkdir(parents=True, exist_ok=True)
    CONTRACT_PATH.write_bytes(fresh)
    print(f"wrote {CONTRACT_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
