"""Outbound webhooks (Standard Webhooks): subscriptions, their management API, the dispatcher, an inspector.

Import the pieces from their modules (``services.webhooks.app`` for the gateway's entry points);
this package re-exports nothing so that the stores can import the model without cycles.
"""
