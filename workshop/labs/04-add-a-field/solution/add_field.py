"""Lab 04, a reference answer as a script: adds `contactEmail` (optional string) to every contract in a
working folder, the way a careful person would by hand. `python add_field.py FOLDER` (default: here).

What it changes, contract by contract:
- reservations.proto: `optional string contact_email = <next unused number>;` in Reservation and
  CreateReservationRequest (a new number; none renumbered).
- schema.graphql: `contactEmail: String` (nullable) on Reservation and CreateReservationInput.
- reservations.wsdl: `<xs:element name="contactEmail" minOccurs="0" …/>` appended to both sequences.
- openapi.json: a nullable string property on Reservation and ReservationCreate, not required in the request.
- asyncapi.yaml: the property on Reservation (a closed schema: consumers that validate must upgrade first).
"""

import json
import re
import sys
from pathlib import Path

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"


def _proto(text: str, message: str) -> str:
    start = text.index(f"message {message} {{")
    end = text.index("\n}", start)
    body = text[start:end]
    numbers = [int(n) for n in re.findall(r"=\s*(\d+)\s*;", body)]
    reserved = [
        int(n) for n in re.findall(r"reserved\s+([\d,\s]+);", body) for n in n.split(",") if n.strip()
    ]
    number = max(numbers + reserved) + 1
    line = f"\n  // Who to contact about the reservation.\n  optional string contact_email = {number};"
    return text[:end] + line + text[end:]


def _block(text: str, header: str, line: str) -> str:
    start = text.index(header)
    end = text.index("\n}", start)
    return text[:end] + "\n" + line + text[end:]


def apply(folder: Path) -> None:
    proto = folder / "reservations.proto"
    text = proto.read_text()
    for message in ("Reservation", "CreateReservationRequest"):
        text = _proto(text, message)
    proto.write_text(text)

    sdl = folder / "schema.graphql"
    text = sdl.read_text()
    text = _block(
        text, "type Reservation {", '\n  """Who to contact about the reservation."""\n  contactEmail: String'
    )
    text = _block(text, "input CreateReservationInput {", "  contactEmail: String")
    sdl.write_text(text)

    wsdl = folder / "reservations.wsdl"
    tree = etree.parse(str(wsdl))
    for name in ("Reservation", "CreateReservation"):
        (sequence,) = tree.findall(f".//{{{XS}}}complexType[@name='{name}']/{{{XS}}}sequence")
        element = etree.SubElement(sequence, f"{{{XS}}}element")
        element.attrib.update(
            {"name": "contactEmail", "type": "xs:string", "minOccurs": "0", "nillable": "true"}
        )
        element.tail, sequence[-2].tail = sequence[-2].tail, sequence[-2].tail  # keep the indentation
    tree.write(str(wsdl), xml_declaration=True, encoding="UTF-8")

    openapi = folder / "openapi.json"
    document = json.loads(openapi.read_text())
    for name in ("Reservation", "ReservationCreate"):
        document["components"]["schemas"][name]["properties"]["contactEmail"] = {
            "anyOf": [{"type": "string", "format": "email"}, {"type": "null"}],
            "description": "Who to contact about the reservation.",
        }
    openapi.write_text(json.dumps(document, indent=2) + "\n")

    asyncapi = folder / "asyncapi.yaml"
    text = asyncapi.read_text()  # edited as text: a YAML round trip would drop the comments
    start = text.index("\n    Reservation:\n")
    at = text.index("\n      properties:\n", start) + len("\n      properties:\n")
    text = text[:at] + "        contactEmail:\n          type: [string, 'null']\n" + text[at:]
    asyncapi.write_text(text)


if __name__ == "__main__":
    apply(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
