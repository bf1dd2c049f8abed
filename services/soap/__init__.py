"""The SOAP 1.1 adapter (spyne, document/literal wrapped), its WSDL contract and its zeep client."""
