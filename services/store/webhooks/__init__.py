"""The webhook store port (services.webhooks.ports) in memory, SQLite and PostgreSQL."""
