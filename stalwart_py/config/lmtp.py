"""``[lmtp]`` and ``[delivery]``: the LMTP listener the MTA hands mail to, and how delivered
messages are filed (protocols/lmtp, stalwart_py/lmtp_service.py, stalwart_py/delivery.py)."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import PORT, POSITIVE, SEPARATOR, at_least
from .kinds import ADDRESS, BOOL, DURATION, INT, SIZE, STR
from .schema import setting


@dataclass(frozen=True, slots=True)
class LmtpConfig:
    """Local delivery (LMTP, RFC 2033): your MTA (Postfix, Exim, ...) hands incoming mail to this
    listener. LMTP has no authentication, so keep it on loopback or a private network that only
    the MTA can reach."""

    enabled: bool = setting(BOOL, True, "Run the LMTP listener.")
    bind: str = setting(
        ADDRESS,
        "127.0.0.1",
        "Address the LMTP listener binds to.",
    )
    port: int = setting(INT, 2424, "TCP port of the LMTP listener.", PORT)
    max_line_length: int = setting(
        INT,
        4096,
        "Longest command or message line accepted, in octets including CRLF. "
        "RFC 5321 §4.5.3.1.6 requires accepting lines of 1000 octets.",
        at_least(1000, "RFC 5321 §4.5.3.1.6"),
    )
    max_message_size: int = setting(
        SIZE, "50M", "Largest message accepted in one DATA transfer.", POSITIVE
    )
    max_recipients: int = setting(
        INT,
        100,
        "Most recipients (RCPT TO) accepted in one transaction. RFC 5321 §4.5.3.1.8 requires "
        "room for at least 100.",
        at_least(100, "RFC 5321 §4.5.3.1.8"),
    )
    idle_timeout: float = setting(
        DURATION,
        "5m",
        "Close a connection on which the client has sent nothing for this long.",
        POSITIVE,
    )
    starttls: bool = setting(
        BOOL,
        True,
        "Offer STARTTLS (RFC 3207) to the MTA, using the certificate from `[tls]`.",
    )


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How incoming messages are filed into mailboxes."""

    duplicate_window: float = setting(
        DURATION,
        "1d",
        "Discard a message delivered to a mailbox when a message with the same Message-ID was "
        "delivered to that mailbox within this time (an MTA retrying after a lost reply). "
        "`0` disables duplicate suppression.",
    )
    add_delivered_to: bool = setting(
        BOOL,
        True,
        "Add a `Delivered-To:` header naming the recipient to each delivered copy.",
    )
    plus_separator: str = setting(
        STR,
        "+",
        "Character between a user name and a sub-address (`user+tag@example.com`, RFC 5233): "
        "mail for `user+tag` goes to `user`, and Sieve scripts can test the tag. Empty "
        "disables sub-addressing.",
        SEPARATOR,
    )
    max_parse_size: int = setting(
        SIZE,
        "50M",
        "Largest message whose MIME structure is analysed in full at delivery. Larger "
        "messages are still stored, and if their line ends are bare LF or lone CR only "
        "their top-level header section gets CRLF (RFC 5322 §2.3): without the structure, "
        "no octet of the body can be told to be a line end rather than data.",
        POSITIVE,
    )
