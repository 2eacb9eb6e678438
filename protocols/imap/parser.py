"""IMAP command parser: :class:`~protocols.imap.framing.Frame` -> command AST.

Follows the formal syntax of RFC 9051 §9 and of the extensions listed in
:mod:`protocols.imap.commands`.  Command names and keywords are case-insensitive (RFC 9051 §9
note 1); spacing is strict (exactly one SP between items).  Anything malformed raises
:class:`ImapParseError` carrying the tag (``"*"`` when the tag itself is unreadable); nothing else
is ever raised for client input.

Literals arrive from the framer as separate pieces; the parser joins the text segments with a NUL
placeholder where each literal was (NUL is never valid command text, RFC 9051 §4.3).

The grammar is split by responsibility: :mod:`.parse_reader` (the tokenizer and RFC 9051 §9
values), one module per command family for the arguments (:mod:`.parse_session`,
:mod:`.parse_mailbox`, :mod:`.parse_messages`, :mod:`.parse_search`); this module reads the tag
and the command name and dispatches through their tables.
"""

from __future__ import annotations

import re
from typing import cast

from . import commands as C
from . import parse_mailbox, parse_messages, parse_search, parse_session
from .errors import ImapParseError
from .framing import Frame
from .parse_reader import Handler, Reader, UidHandler
from .parse_session import decode_sasl_response, is_idle_done

__all__ = ["decode_sasl_response", "is_idle_done", "parse_command"]

# tag: 1*<any ASTRING-CHAR except "+">
TAG = re.compile(rb"[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+")

COMMANDS: dict[str, Handler] = {
    **parse_session.COMMANDS,
    **parse_mailbox.COMMANDS,
    **parse_messages.COMMANDS,
    **parse_search.COMMANDS,
}
UID_COMMANDS: dict[str, UidHandler] = {**parse_messages.UID_COMMANDS, **parse_search.UID_COMMANDS}


def parse_command(frame: Frame, *, utf8: bool = False) -> C.AnyCommand:
    """Parse one framed command.  ``utf8``: the session enabled UTF8=ACCEPT (RFC 6855), so
    mailbox names are UTF-8 rather than modified UTF-7."""
    r = Reader(frame, utf8)
    if r.at_end():
        raise ImapParseError("*", "Empty command")
    m = TAG.match(r.text, 0)
    if m is None or m.end() < len(r.text) and r.text[m.end()] != 0x20:
        raise ImapParseError("*", "Invalid tag")
    r.tag = m.group().decode("ascii")
    r.pos = m.end()
    if r.raw_nul:
        raise r.fail("NUL octet in command")
    if r.at_end():
        raise r.fail("Missing command")
    r.sp()
    name = r.keyword()
    if name == "UID":
        r.sp()
        sub = r.keyword()
        uid_handler = UID_COMMANDS.get(sub)
        if uid_handler is None:
            raise r.fail(f"Unknown UID command {sub}")
        command = uid_handler(r, True)
    else:
        handler = COMMANDS.get(name)
        if handler is None:
            raise r.fail(f"Unknown command {name[:40]}")
        command = handler(r)
    r.end()
    if r.lit_index != len(r.literals):
        raise r.fail("Unexpected literal")
    return cast(C.AnyCommand, command)
