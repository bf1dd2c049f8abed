"""The composition root: settings, the one ASGI app, policies, the CLI."""
