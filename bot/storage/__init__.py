"""State behind a narrow interface: SQLite and memory."""
