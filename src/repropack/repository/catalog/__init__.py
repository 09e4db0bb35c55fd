"""The catalog: what the repository holds, in SQL (SQLite by default, PostgreSQL through the same code)."""
