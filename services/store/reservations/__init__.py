"""The reservation store port (services.core.ports.Store) in memory, SQLite and PostgreSQL."""
