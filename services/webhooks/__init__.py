"""Outbound webhooks (Standard Webhooks): subscriptions, the dispatcher, an inspector.

Their management API is REST over ``WebhookService``: ``gateway/webhook_api.py``.

Import the pieces from their modules; this package re-exports nothing so that the stores can import
the model without cycles. The gateway wires them (``gateway/dispatch.py``: the options, the dispatcher
process); the stores are opened by ``services.store.open_webhook_store``.
"""
