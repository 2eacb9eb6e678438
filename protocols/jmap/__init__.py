"""JMAP (RFC 8620 core in :mod:`protocols.jmap.core`; the data types build on it)."""
