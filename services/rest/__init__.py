"""The REST style: a Richardson level 3 HTTP adapter over the core, and its client."""

from services.rest.app import RestOptions, create_app
from services.rest.client import RestClient

__all__ = ["RestClient", "RestOptions", "create_app"]
