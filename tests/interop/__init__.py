"""Interop tests: real third-party clients against the real server."""
