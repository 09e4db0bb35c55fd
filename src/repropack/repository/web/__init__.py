"""The repository's read-only web view (``repropack serve``): Starlette app, safe notebook reader, server."""
