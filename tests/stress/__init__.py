"""Stress tests: many concurrent clients against the real server."""
