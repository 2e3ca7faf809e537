"""The instance: SQLite storage, run logs and per-asset status."""
