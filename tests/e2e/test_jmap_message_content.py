"""JMAP reads of message content that share IMAP's MIME code: bodyValues decoding (RFC 8621
§4.1.4 with RFC 2045 §6.7), EmailAddress names from comments (RFC 8621 §4.1.2.3), and the line
ends Email/import stores (RFC 5322 §2.3)."""

from __future__ import annotations

import base64
from typing import Any

from tests.e2e.test_jmap_conformance_core import Client, jc
from tests.protocol.test_imap_content import ENCODED, LF_MESSAGE, LF_STORED, QP_DECODED

__all__ = ["jc"]


def import_raw(jc: Client, raw: bytes) -> dict[str, Any]:
    """Uploads ``raw`` and imports it into the inbox; the created EmailImport result."""
    blob = jc.upload(raw, "message/rfc822")["blobId"]
    out = jc.ok(
        "Email/import",
        {"emails": {"i": {"blobId": blob, "mailboxIds": {jc.mailbox("inbox"): True}}}},
    )
    assert "i" in out["created"], out
    created: dict[str, Any] = out["created"]["i"]
    return created


def test_body_values_decode_quoted_printable_by_rfc2045(jc: Client) -> None:
    """RFC 8621 §4.1.4 bodyValues hold the decoded text; quoted-printable decoding follows
    RFC 2045 §6.7 rules 3 and 5, with the decoder IMAP BINARY uses."""
    eid = import_raw(jc, ENCODED)["id"]
    e = jc.ok(
        "Email/get",
        {"ids": [eid], "properties": ["textBody", "bodyValues"], "fetchTextBodyValues": True},
    )["list"][0]
    part = e["textBody"][0]["partId"]
    value = e["bodyValues"][part]["value"].replace("\r\n", "\n")
    assert value == QP_DECODED.decode().replace("\r\n", "\n")


def test_email_address_name_from_a_comment(jc: Client) -> None:
    """RFC 8621 §4.1.2.3: with no display name, a comment names the address (the same parser
    as IMAP's ENVELOPE); a quoted-pair in the comment is unescaped (RFC 5322 §3.2.2)."""
    raw = b"From: alice@remote.test (Alice \\(A\\) Liddell)\r\nSubject: c\r\n\r\nhi\r\n"
    eid = import_raw(jc, raw)["id"]
    e = jc.ok("Email/get", {"ids": [eid], "properties": ["from"]})["list"][0]
    assert e["from"] == [{"name": "Alice (A) Liddell", "email": "alice@remote.test"}]


def test_email_import_stores_crlf_line_ends(jc: Client) -> None:
    """RFC 5322 §2.3: an uploaded message with bare LF / lone CR line ends is imported (RFC 8621
    §4.8) with CRLF line ends, whole, binary bodies kept; the Email's ``blobId`` and ``size``
    are those of what is stored (the upload's own blob is left as uploaded).  Blob/upload's
    data (RFC 9404) imports the same way."""
    created = import_raw(jc, LF_MESSAGE)
    assert created["size"] == len(LF_STORED)
    path = f"/jmap/download/{jc.account_id}/{created['blobId']}/m.eml?accept=message/rfc822"
    r = jc.request("GET", path)
    assert r.status == 200 and r.body == LF_STORED
    out = jc.api(
        [
            "Blob/upload",
            {
                "accountId": jc.account_id,
                "create": {
                    "b": {"data": [{"data:asBase64": base64.b64encode(LF_MESSAGE).decode()}]}
                },
            },
            "u",
        ],
        [
            "Email/import",
            {
                "accountId": jc.account_id,
                "emails": {"i": {"blobId": "#b", "mailboxIds": {jc.mailbox("inbox"): True}}},
            },
            "i",
        ],
    )["methodResponses"]
    assert out[1][0] == "Email/import", out
    assert out[1][1]["created"]["i"]["size"] == len(LF_STORED), out
    assert out[1][1]["created"]["i"]["blobId"] == created["blobId"]
