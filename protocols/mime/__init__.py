"""MIME / RFC 5322 message parsing (parse once at delivery; store the result beside the blob).

``parse_message(raw)`` never raises and returns a :class:`ParsedMessage` whose MIME tree
carries byte offsets into ``raw`` for IMAP FETCH (BODYSTRUCTURE, BODY[section]<partial>,
BINARY) and JMAP Email/get.  ``to_wire()``/``from_wire()`` give a compact msgpack-able form.
"""

from __future__ import annotations

from .address import (
    parse_address_list,
    parse_date,
    parse_date_day,
    parse_envelope_addresses,
    parse_message_ids,
)
from .bodies import body_lists, normalize_subject
from .codec import decode_header_value, decode_text
from .content import decode_body, inner_buffer, part_text
from .headers import header_values, parse_content_type, parse_disposition
from .html import html_to_text
from .lineends import canonical_line_ends, has_bare_line_ends
from .model import (
    WIRE_VERSION,
    Address,
    Envelope,
    EnvelopeAddress,
    HeaderField,
    MimePart,
    ParsedMessage,
)
from .parser import MAX_DEPTH, MAX_PARTS, parse_message, parse_message_strict

__all__ = [
    "MAX_DEPTH",
    "MAX_PARTS",
    "WIRE_VERSION",
    "Address",
    "Envelope",
    "EnvelopeAddress",
    "HeaderField",
    "MimePart",
    "ParsedMessage",
    "body_lists",
    "canonical_line_ends",
    "decode_body",
    "decode_header_value",
    "decode_text",
    "has_bare_line_ends",
    "header_values",
    "html_to_text",
    "inner_buffer",
    "normalize_subject",
    "parse_address_list",
    "parse_content_type",
    "parse_date",
    "parse_date_day",
    "parse_disposition",
    "parse_envelope_addresses",
    "parse_message",
    "parse_message_ids",
    "parse_message_strict",
    "part_text",
]
