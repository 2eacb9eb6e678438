"""JMAP Mail write side against the real store: Mailbox/set, Email/set|import|copy|parse
(RFC 8621 §2.5, §4.6–§4.9), Blob/* (RFC 9404, RFC 8620 §6.3), Identity (§6),
VacationResponse (§8) and EmailSubmission (§7) through a real Dispatcher."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.jmap.context import JmapContext, JmapServices, SubmissionRecipient
from protocols.jmap.core import (
    BLOB,
    CORE,
    MAIL,
    SUBMISSION,
    VACATION_RESPONSE,
    Dispatcher,
    Invocation,
    MethodCall,
    Request,
)
from protocols.jmap.mail import register_write
from protocols.jmap.mail.email_build import build_message, encode_text, fold
from protocols.jmap.mail.email_import import copy_emails
from protocols.mail import OWNER, AccessToken
from protocols.mime import decode_header_value, parse_message, part_text
from stalwart_py import clock
from stalwart_py.accounts import Directory
from stalwart_py.delivery import Delivery, DeliveryOptions, Envelope
from stalwart_py.indexer import Indexer
from stalwart_py.passwords import HashParams, Passwords
from stalwart_py.storage import LocalWriteLog, write
from store import Store
from store.batch import Batch, ImportEmail, PutBlob
from store.codec import pack
from store.fts import Query, open_index
from store.ids import blob_id, object_id, parse_object_id
from tests.support import CORPUS, check_stored_form, needs_corpus

USING = (CORE, MAIL, SUBMISSION, VACATION_RESPONSE, BLOB)

SIMPLE = (
    b"From: Carol <carol@remote.test>\r\nTo: alice@example.org\r\nSubject: Hello there\r\n"
    b"Message-ID: <first@remote.test>\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n\r\n"
    b"Body text.\r\n"
)


@dataclass
class Env:
    store: Store
    dispatcher: Dispatcher
    ctx: JmapContext
    alice: int
    bob: int
    delivery: Delivery

    @property
    def account(self) -> str:
        return object_id("account", self.alice)

    async def call(self, name: str, args: dict[str, Any]) -> list[Invocation]:
        """One method call; returns every response it produced."""
        return await self.request([(name, args)])

    async def request(self, calls: list[tuple[str, dict[str, Any]]]) -> list[Invocation]:
        request = Request(
            USING, tuple(Invocation(n, a, f"c{i}") for i, (n, a) in enumerate(calls)), None
        )
        response = await self.dispatcher.execute(request, session_state="s", context=self.ctx)
        # Responses must be JSON (I-JSON) as the HTTP layer would send them.
        json.dumps([r.arguments for r in response.method_responses])
        return list(response.method_responses)

    async def one(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        responses = await self.call(name, {"accountId": self.account, **args})
        assert responses[0].name == name, responses[0]
        return responses[0].arguments

    def mailbox(self, role: str) -> str:
        mb = self.store.mailbox_by_role(self.alice, role)
        assert mb is not None
        return object_id("mailbox", mb.id)

    def raw_of(self, email_id: str) -> bytes:
        number = parse_object_id("email", email_id)
        assert number is not None
        email = self.store.email(self.alice, number)
        assert email is not None
        data = self.store.blob(email.blob)
        assert data is not None
        return data


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    store = Store(tmp_path / "db", sync=False)
    directory = Directory(store, Passwords(HashParams(1, 8192, 1)))
    directory.create_domain("example.org")
    alice = directory.create_account("alice@example.org", "pw", description="Alice A")
    directory.add_alias("al@example.org", "alice@example.org")
    bob = directory.create_account("bob@example.org", "pw")
    indexer = Indexer(store, open_index("tantivy", tmp_path / "fts"), commit_interval=0.05)
    delivery = Delivery(store, LocalWriteLog(store).propose, DeliveryOptions(hostname="mx.test"))

    async def search_text(acct: int, query: Query) -> set[int]:
        return await trio.to_thread.run_sync(indexer.search, acct, query)

    async def snippet(acct: int, eid: int, query: Query) -> tuple[str | None, str | None]:
        return None, None

    async def submit(
        acct: int, mail_from: str, rcpts: tuple[str, ...], raw: bytes
    ) -> list[SubmissionRecipient]:
        """Through the real delivery path (EmailSubmission only hands it local recipients)."""
        results = await delivery.deliver(Envelope(mail_from, rcpts, protocol="ESMTPA"), raw)
        return [
            SubmissionRecipient(r, "delivered" if e is None else "failed", e)
            for r, e in zip(rcpts, results, strict=True)
        ]

    services = JmapServices(
        store=store,
        write=partial(write, store),
        search_text=search_text,
        snippet=snippet,
        submit=submit,
        now=clock.now,
        hostname="mx.test",
    )
    principal = store.principal(alice)
    assert principal is not None
    dispatcher = Dispatcher()
    register_write(dispatcher)
    try:
        yield Env(store, dispatcher, JmapContext(services, principal), alice, bob, delivery)
    finally:
        indexer.stop()
        store.close()


async def put_email(env: Env, raw: bytes, acct: int | None = None, role: str = "inbox") -> str:
    acct = env.alice if acct is None else acct
    mailbox = env.store.mailbox_by_role(acct, role)
    assert mailbox is not None
    parsed = parse_message(raw)
    sha = hashlib.sha256(raw).digest()
    applied = await write(
        env.store,
        Batch(
            (
                PutBlob(sha, len(raw), 0),
                ImportEmail(
                    acct,
                    sha,
                    len(raw),
                    (mailbox.id,),
                    (),
                    1_700_000_000,
                    pack(parsed.to_wire()),
                    message_id=parsed.message_id[0] if parsed.message_id else "",
                    subject=parsed.normalized_subject,
                ),
            ),
            now=clock.now(),
            blobs=(raw,),
        ),
    )
    assert applied[1].ok, applied[1].error
    return object_id("email", applied[1].value.email_id)


# -- Mailbox/set (RFC 8621 §2.5) -----------------------------------------------------------------
async def test_mailbox_set_create_with_creation_reference_parent_rfc8621_2_5(env: Env) -> None:
    state = (await env.one("Mailbox/set", {}))["newState"]
    out = await env.one(
        "Mailbox/set",
        {
            "ifInState": state,
            # The child is listed first: it must wait for its parent's creation id.
            "create": {
                "kid": {"name": "Child", "parentId": "#top"},
                "top": {"name": "Projects", "role": None, "isSubscribed": True},
            },
        },
    )
    assert out["oldState"] == state and out["newState"] != state
    assert set(out["created"]) == {"kid", "top"} and out["notCreated"] is None
    top = parse_object_id("mailbox", out["created"]["top"]["id"])
    kid = parse_object_id("mailbox", out["created"]["kid"]["id"])
    assert top is not None and kid is not None
    kid_box = env.store.mailbox(env.alice, kid)
    assert kid_box is not None and kid_box.parent_id == top and kid_box.name == "Child"
    assert out["created"]["kid"]["totalEmails"] == 0
    assert out["created"]["kid"]["isSubscribed"] is False  # default reported (RFC 8620 §5.3)
    assert out["created"]["kid"]["myRights"]["mayDelete"] is True


async def test_mailbox_set_invalid_names_and_roles_rfc8621_2_5(env: Env) -> None:
    out = await env.one(
        "Mailbox/set",
        {
            "create": {
                "dup": {"name": "inbox"},  # a sibling "Inbox" exists (case-insensitive)
                "empty": {"name": ""},
                "slash": {"name": "a/b"},
                "role": {"name": "Other", "role": "trash"},  # role taken
                "badrole": {"name": "X", "role": "nonsense"},
                "server": {"name": "Y", "totalEmails": 3},
                "orphan": {"name": "Z", "parentId": "m999"},
            }
        },
    )
    assert out["created"] is None
    # RFC 8620 §5.3 alreadyExists (with existingId) for the sibling name clash.
    dup = out["notCreated"].pop("dup")
    assert dup["type"] == "alreadyExists" and dup["existingId"] == env.mailbox("inbox")
    props = {k: v["properties"] for k, v in out["notCreated"].items()}
    assert {k: v["type"] for k, v in out["notCreated"].items()} == dict.fromkeys(
        props, "invalidProperties"
    )
    assert props == {
        "empty": ["name"],
        "slash": ["name"],
        "role": ["role"],
        "badrole": ["role"],
        "server": ["totalEmails"],
        "orphan": ["parentId"],
    }


async def test_mailbox_set_update_rename_move_and_cycle_rfc8621_2_5(env: Env) -> None:
    created = (
        await env.one(
            "Mailbox/set", {"create": {"a": {"name": "A"}, "b": {"name": "B", "parentId": "#a"}}}
        )
    )["created"]
    a, b = created["a"]["id"], created["b"]["id"]
    out = await env.one(
        "Mailbox/set",
        {
            "update": {
                a: {"name": "Renamed", "sortOrder": 7},
                b: {"parentId": None},
                "m999": {"name": "nope"},
            }
        },
    )
    assert set(out["updated"]) == {a, b}
    assert out["notUpdated"]["m999"]["type"] == "notFound"
    box_a = env.store.mailbox(env.alice, parse_object_id("mailbox", a) or 0)
    box_b = env.store.mailbox(env.alice, parse_object_id("mailbox", b) or 0)
    assert box_a is not None and box_a.name == "Renamed" and box_a.sort_order == 7
    assert box_b is not None and box_b.parent_id == 0
    # Moving A under its own child is refused.
    await env.one("Mailbox/set", {"update": {b: {"parentId": a}}})
    cyc = await env.one("Mailbox/set", {"update": {a: {"parentId": b}}})
    assert cyc["notUpdated"][a]["type"] == "invalidProperties"
    assert cyc["notUpdated"][a]["properties"] == ["parentId"]
    immutable = await env.one("Mailbox/set", {"update": {a: {"totalEmails": 5}}})
    assert immutable["notUpdated"][a]["type"] == "invalidProperties"


async def test_mailbox_set_destroy_rules_rfc8621_2_5(env: Env) -> None:
    created = (
        await env.one(
            "Mailbox/set",
            {"create": {"p": {"name": "Parent"}, "c": {"name": "Kid", "parentId": "#p"}}},
        )
    )["created"]
    parent, child = created["p"]["id"], created["c"]["id"]
    inbox = env.mailbox("inbox")
    await put_email(env, SIMPLE)
    out = await env.one("Mailbox/set", {"destroy": [parent, inbox, "m999"]})
    assert out["notDestroyed"][parent]["type"] == "mailboxHasChild"
    assert out["notDestroyed"][inbox]["type"] == "mailboxHasEmail"
    assert out["notDestroyed"]["m999"]["type"] == "notFound"
    # A subtree in one call (children first), and onDestroyRemoveEmails empties the inbox.
    out = await env.one(
        "Mailbox/set", {"destroy": [parent, child, inbox], "onDestroyRemoveEmails": True}
    )
    assert sorted(out["destroyed"]) == sorted([parent, child, inbox])
    assert list(env.store.emails(env.alice)) == []


async def test_mailbox_set_if_in_state_mismatch_rfc8620_5_3(env: Env) -> None:
    [response] = await env.call(
        "Mailbox/set",
        {"accountId": env.account, "ifInState": "12345", "create": {"x": {"name": "X"}}},
    )
    assert response.name == "error" and response.arguments["type"] == "stateMismatch"
    assert env.store.mailbox_by_role(env.alice, "inbox") is not None
    assert all(m.name != "X" for m in env.store.mailboxes(env.alice))


# -- Email/set (RFC 8621 §4.6) -------------------------------------------------------------------
async def test_email_set_create_multipart_message_rfc8621_4_6(env: Env) -> None:
    upload = await env.one(
        "Blob/upload",
        {
            "create": {
                "pic": {"data": [{"data:asBase64": base64.b64encode(b"\x89PNG\0\1").decode()}]}
            }
        },
    )
    pic = upload["created"]["pic"]["id"]
    drafts = env.mailbox("drafts")
    out = await env.one(
        "Email/set",
        {
            "create": {
                "d1": {
                    "mailboxIds": {drafts: True},
                    "keywords": {"$draft": True, "$Seen": True},
                    "from": [{"name": "Älice Ä", "email": "alice@example.org"}],
                    "to": [{"name": "Bob, Jr.", "email": "bob@example.org"}],
                    "subject": "Grüße aus Köln – " + "long " * 20,
                    "header:X-Custom:asText": "custom value",
                    "textBody": [{"partId": "t", "type": "text/plain"}],
                    "htmlBody": [{"partId": "h", "type": "text/html"}],
                    "attachments": [
                        {
                            "blobId": pic,
                            "type": "image/png",
                            "name": "bild ü.png",
                            "disposition": "inline",
                            "cid": "pic1",
                        },
                        {
                            "blobId": pic,
                            "type": "application/octet-stream",
                            "name": "data.bin",
                            "disposition": "attachment",
                        },
                    ],
                    "bodyValues": {
                        "t": {"value": "Hallo Bob\nzweite Zeile ü"},
                        "h": {"value": '<p>Hallo <img src="cid:pic1"></p>'},
                    },
                }
            }
        },
    )
    assert out["notCreated"] is None, out["notCreated"]
    created = out["created"]["d1"]
    raw = env.raw_of(created["id"])
    assert created["size"] == len(raw) and created["blobId"] == blob_id(
        hashlib.sha256(raw).digest()
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert raw.isascii()  # everything non-ASCII is encoded (RFC 2047 / QP / base64)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = parse_message(raw)
    assert parsed.subject == "Grüße aus Köln – " + ("long " * 20).rstrip()
    assert parsed.from_[0].name == "Älice Ä" and parsed.to[0].name == "Bob, Jr."
    assert parsed.message_id and parsed.message_id[0].endswith("@mx.test")
    assert parsed.sent_at is not None
    assert parsed.root.mime_type == "multipart/mixed"
    types = [p.mime_type for p in parsed.parts()]
    assert types[:3] == ["multipart/mixed", "multipart/alternative", "text/plain"]
    assert "multipart/related" in types and types.count("image/png") == 1
    text = parsed.part(parsed.text_body[0])
    assert text is not None and part_text(raw, text) == "Hallo Bob\r\nzweite Zeile ü"
    [png] = [p for p in parsed.parts() if p.mime_type == "image/png"]
    assert png.cid == "pic1" and png.name == "bild ü.png"
    email = env.store.email(env.alice, parse_object_id("email", created["id"]) or 0)
    assert email is not None and email.keywords == ("$draft", "$seen")
    assert created["threadId"] == object_id("thread", email.thread_id)


async def test_email_set_body_structure_and_header_forms_rfc8621_4_6(env: Env) -> None:
    out = await env.one(
        "Email/set",
        {
            "create": {
                "s": {
                    "mailboxIds": {env.mailbox("drafts"): True},
                    "header:From:asGroupedAddresses": [
                        {"name": "Team", "addresses": [{"name": None, "email": "al@example.org"}]}
                    ],
                    "messageId": ["custom-1@example.org"],
                    "references": ["a@x", "b@x"],
                    "sentAt": "2024-02-03T04:05:06+01:00",
                    "header:List-Unsubscribe:asURLs": ["mailto:u@example.org"],
                    "bodyStructure": {
                        "type": "multipart/alternative",
                        "subParts": [
                            {"partId": "1", "type": "text/plain"},
                            {"partId": "2", "type": "text/html"},
                        ],
                    },
                    "bodyValues": {"1": {"value": "plain"}, "2": {"value": "<b>html</b>"}},
                }
            }
        },
    )
    assert out["notCreated"] is None, out["notCreated"]
    raw = env.raw_of(out["created"]["s"]["id"])
    parsed = parse_message(raw)
    assert parsed.message_id == ("custom-1@example.org",)
    assert parsed.references == ("a@x", "b@x")
    assert parsed.sent_at == 1706929506
    assert parsed.from_[0].email == "al@example.org"
    assert b"From: Team: al@example.org;" in raw
    assert b"List-Unsubscribe: <mailto:u@example.org>" in raw
    assert parsed.root.mime_type == "multipart/alternative"
    assert b"Date: Sat, 03 Feb 2024 04:05:06 +0100" in raw


@pytest.mark.parametrize(
    ("obj", "prop"),
    [
        ({"headers": [{"name": "X", "value": "y"}]}, "headers"),
        ({"subject": "a", "header:Subject:asText": "b"}, "header:Subject:asText"),
        ({"header:From:asText": "x"}, "header:From:asText"),  # form not allowed on From
        ({"header:Content-Type": " text/plain"}, "header:Content-Type"),
        ({"header:X-Evil": " a\r\nBcc: victim@x"}, "header:X-Evil"),
        ({"id": "e1"}, "id"),
        (
            {
                "textBody": [{"partId": "t", "type": "text/html"}],
                "bodyValues": {"t": {"value": ""}},
            },
            "textBody/0/type",
        ),
        (
            {
                "textBody": [{"partId": "t"}],
                "bodyStructure": {"partId": "t"},
                "bodyValues": {"t": {"value": ""}},
            },
            "textBody",
        ),
        ({"textBody": [{"partId": "missing"}]}, "textBody/0/partId"),
        (
            {"textBody": [{"partId": "t", "charset": "utf-8"}], "bodyValues": {"t": {"value": ""}}},
            "textBody/0/charset",
        ),
        (
            {
                "textBody": [{"partId": "t"}],
                "bodyValues": {"t": {"value": "", "isTruncated": True}},
            },
            "bodyValues/t/isTruncated",
        ),
        ({"to": [{"email": "not an address"}]}, "to"),
        ({"sentAt": "yesterday"}, "sentAt"),
    ],
)
async def test_email_set_create_invalid_properties_rfc8621_4_6(
    env: Env, obj: dict[str, Any], prop: str
) -> None:
    out = await env.one(
        "Email/set", {"create": {"x": {"mailboxIds": {env.mailbox("drafts"): True}, **obj}}}
    )
    error = out["notCreated"]["x"]
    assert error["type"] == "invalidProperties" and error["properties"] == [prop]
    assert list(env.store.emails(env.alice)) == []


async def test_email_set_create_errors_rfc8621_4_6(env: Env) -> None:
    drafts = env.mailbox("drafts")
    missing = blob_id(hashlib.sha256(b"never uploaded").digest())
    bob_box = env.store.mailbox_by_role(env.bob, "inbox")
    assert bob_box is not None
    out = await env.one(
        "Email/set",
        {
            "create": {
                "blob": {"mailboxIds": {drafts: True}, "attachments": [{"blobId": missing}]},
                "kw": {
                    "mailboxIds": {drafts: True},
                    "keywords": {f"k{i}": True for i in range(200)},
                },
                "badkw": {"mailboxIds": {drafts: True}, "keywords": {"a b": True}},
                "nombox": {"mailboxIds": {}},
                "foreign": {"mailboxIds": {object_id("mailbox", bob_box.id + 100): True}},
            }
        },
    )
    errors = out["notCreated"]
    assert errors["blob"]["type"] == "blobNotFound" and errors["blob"]["notFound"] == [missing]
    assert errors["kw"]["type"] == "tooManyKeywords"
    assert errors["badkw"]["type"] == "invalidProperties"
    assert errors["nombox"]["properties"] == ["mailboxIds"]
    assert errors["foreign"]["properties"] == [f"mailboxIds/m{bob_box.id + 100}"]


async def test_email_set_over_quota_rfc8621_4_6(env: Env) -> None:
    Directory(env.store, Passwords(HashParams(1, 8192, 1))).set_quota("alice@example.org", 50)
    out = await env.one(
        "Email/set",
        {"create": {"q": {"mailboxIds": {env.mailbox("drafts"): True}, "subject": "x" * 100}}},
    )
    assert out["notCreated"]["q"]["type"] == "overQuota"


async def test_email_set_update_keywords_and_mailboxes_rfc8621_4_6(env: Env) -> None:
    eid = await put_email(env, SIMPLE)
    inbox, archive, trash = env.mailbox("inbox"), env.mailbox("archive"), env.mailbox("trash")
    before = (await env.one("Email/set", {}))["newState"]
    out = await env.one(
        "Email/set",
        {
            "ifInState": before,
            "update": {
                eid: {
                    "keywords/$seen": True,
                    "keywords/$Flagged": True,
                    f"mailboxIds/{archive}": True,
                    f"mailboxIds/{inbox}": None,
                }
            },
        },
    )
    assert out["updated"] == {eid: None} and out["newState"] != before
    email = env.store.email(env.alice, parse_object_id("email", eid) or 0)
    assert email is not None and email.keywords == ("$flagged", "$seen")
    assert [object_id("mailbox", m) for m, _ in email.mailboxes] == [archive]
    # Whole-property replacement, and errors.
    out = await env.one(
        "Email/set",
        {
            "update": {
                eid: {"keywords": {"$answered": True}, "mailboxIds": {trash: True}},
                "e999": {"keywords/$seen": True},
            }
        },
    )
    assert out["updated"] == {eid: None}
    assert out["notUpdated"]["e999"]["type"] == "notFound"
    email = env.store.email(env.alice, parse_object_id("email", eid) or 0)
    assert email is not None and email.keywords == ("$answered",)
    bad = await env.one(
        "Email/set",
        {
            "update": {
                eid: {"subject": "changed"},
            }
        },
    )
    assert bad["notUpdated"][eid]["type"] == "invalidProperties"
    empty = await env.one("Email/set", {"update": {eid: {f"mailboxIds/{trash}": None}}})
    assert empty["notUpdated"][eid]["properties"] == ["mailboxIds"]
    prefix = await env.one("Email/set", {"update": {eid: {"keywords": {}, "keywords/$seen": True}}})
    assert prefix["notUpdated"][eid]["type"] == "invalidPatch"


async def test_email_set_create_update_destroy_by_creation_id_rfc8620_5_3(env: Env) -> None:
    drafts = env.mailbox("drafts")
    responses = await env.request(
        [
            (
                "Email/set",
                {
                    "accountId": env.account,
                    "create": {"n": {"mailboxIds": {drafts: True}, "subject": "draft"}},
                    "update": {"#n": {"keywords/$draft": True}},
                },
            ),
            ("Email/set", {"accountId": env.account, "destroy": ["#n", "e999"]}),
        ]
    )
    first, second = responses[0].arguments, responses[1].arguments
    eid = first["created"]["n"]["id"]
    assert first["updated"] == {"#n": None}
    assert second["destroyed"] == ["#n"]
    assert second["notDestroyed"]["e999"]["type"] == "notFound"
    assert env.store.email(env.alice, parse_object_id("email", eid) or 0) is None


async def test_email_set_created_email_reads_back_through_email_get_rfc8621_4_6(env: Env) -> None:
    """What Email/set stores, Email/get (the read side) shows with the same values."""
    from protocols.jmap.mail import register_read

    register_read(env.dispatcher)
    out = await env.one(
        "Email/set",
        {
            "create": {
                "r": {
                    "mailboxIds": {env.mailbox("drafts"): True},
                    "from": [{"name": "Zoë", "email": "alice@example.org"}],
                    "subject": "Ça va?",
                    "textBody": [{"partId": "t"}],
                    "bodyValues": {"t": {"value": "Très bien.\nMerci"}},
                }
            }
        },
    )
    eid = out["created"]["r"]["id"]
    got = await env.one(
        "Email/get",
        {
            "ids": [eid],
            "properties": ["from", "subject", "bodyValues", "textBody", "blobId"],
            "fetchTextBodyValues": True,
        },
    )
    [email] = got["list"]
    assert email["from"] == [{"name": "Zoë", "email": "alice@example.org"}]
    assert email["subject"] == "Ça va?" and email["blobId"] == out["created"]["r"]["blobId"]
    part = email["textBody"][0]["partId"]
    # The stored text has CRLF line ends (RFC 5322 §2.1); compare the lines.
    assert email["bodyValues"][part]["value"].splitlines() == ["Très bien.", "Merci"]


def test_email_build_round_trips_header_text() -> None:
    """RFC 2047 encoded words produced for long non-ASCII text decode back exactly."""
    text = "Ünïcödé " * 30 + "and ASCII =?tail?="
    encoded = encode_text(text)
    assert encoded.isascii() and decode_header_value(encoded) == text
    raw = build_message(
        {
            "subject": text,
            "textBody": [{"partId": "a"}],
            "bodyValues": {"a": {"value": "x" * 2000}},
        },
        read_blob=lambda _: None,
        hostname="h",
        now=0,
    )
    parsed = parse_message(raw)
    assert parsed.subject == text
    body = parsed.part(parsed.text_body[0])
    assert body is not None and body.encoding == "quoted-printable"
    assert part_text(raw, body) == "x" * 2000


@settings(max_examples=200, deadline=None)
# Lone surrogates cannot reach a handler: the request parser enforces I-JSON (RFC 7493 §2.1).
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
        max_size=300,
    )
)
def test_email_build_header_encoding_properties(text: str) -> None:
    """RFC 5322 §2.2.3 folding only inserts CRLF before white space (unfolding restores the
    value, no line is white space only) and RFC 2047 text decodes back to the input."""
    folded = fold("Subject", text)
    assert folded.replace("\r\n", "") == "Subject: " + text
    assert all(line.strip() for line in folded.split("\r\n")[1:])
    encoded = encode_text(text)
    assert encoded.isascii()
    assert decode_header_value(fold("Subject", encoded)[len("Subject: ") :]) == text


# -- Email/import (RFC 8621 §4.8) ----------------------------------------------------------------
async def test_email_import_uploaded_blob_rfc8621_4_8(env: Env) -> None:
    inbox = env.mailbox("inbox")
    responses = await env.request(
        [
            (
                "Blob/upload",
                {
                    "accountId": env.account,
                    "create": {"m": {"data": [{"data:asText": SIMPLE.decode()}]}},
                },
            ),
            (
                "Email/import",
                {
                    "accountId": env.account,
                    "emails": {
                        "i1": {
                            "blobId": "#m",
                            "mailboxIds": {inbox: True},
                            "keywords": {"$seen": True},
                            "receivedAt": "2023-05-06T07:08:09Z",
                        },
                        "i2": {"blobId": blob_id(b"\0" * 32), "mailboxIds": {inbox: True}},
                        "i3": {"blobId": "#m", "mailboxIds": {"m999": True}},
                    },
                },
            ),
        ]
    )
    out = responses[1].arguments
    created = out["created"]["i1"]
    assert created["blobId"] == blob_id(hashlib.sha256(SIMPLE).digest())
    assert created["size"] == len(SIMPLE)
    email = env.store.email(env.alice, parse_object_id("email", created["id"]) or 0)
    assert email is not None and email.received_at == 1683356889 and email.keywords == ("$seen",)
    # RFC 8621 §4.8: an unknown blobId is invalidProperties naming blobId.
    assert out["notCreated"]["i2"]["type"] == "invalidProperties"
    assert out["notCreated"]["i2"]["properties"] == ["blobId"]
    assert out["notCreated"]["i3"]["properties"] == ["mailboxIds/m999"]
    assert out["oldState"] != out["newState"]


@needs_corpus
async def test_email_import_corpus_messages_rfc8621_4_8(env: Env) -> None:
    files = sorted((CORPUS / "rfc").glob("*.eml"))[:5]
    uploads = {
        f"u{i}": {"data": [{"data:asBase64": base64.b64encode(f.read_bytes()).decode()}]}
        for i, f in enumerate(files)
    }
    inbox = env.mailbox("inbox")
    responses = await env.request(
        [
            ("Blob/upload", {"accountId": env.account, "create": uploads}),
            (
                "Email/import",
                {
                    "accountId": env.account,
                    "emails": {
                        k: {"blobId": "#" + k, "mailboxIds": {inbox: True}} for k in uploads
                    },
                },
            ),
        ]
    )
    out = responses[1].arguments
    assert out["notCreated"] is None and len(out["created"]) == len(files)
    for i, f in enumerate(files):
        # Stored with CRLF line ends (RFC 5322 §2.3), content as it is.
        check_stored_form(f.read_bytes(), env.raw_of(out["created"][f"u{i}"]["id"]), f.name)


# -- Email/copy (RFC 8621 §4.7, RFC 8620 §5.4) ---------------------------------------------------
async def test_email_copy_account_rules_rfc8620_5_4(env: Env) -> None:
    eid = await put_email(env, SIMPLE)
    base = {"create": {"c": {"id": eid, "mailboxIds": {env.mailbox("archive"): True}}}}
    cases = [
        ({"fromAccountId": "a999", "accountId": env.account}, "fromAccountNotFound"),
        (
            {"fromAccountId": env.account, "accountId": object_id("account", env.bob)},
            "accountNotFound",
        ),
        ({"fromAccountId": env.account, "accountId": env.account}, "invalidArguments"),
    ]
    for accounts, expected in cases:
        [response] = await env.call("Email/copy", {**accounts, **base})
        assert response.name == "error" and response.arguments["type"] == expected


async def test_email_copy_between_accounts_destroys_original_rfc8621_4_7(env: Env) -> None:
    """The copy itself between two accounts (shared accounts will reach it through the
    method); the implicit Email/set of onSuccessDestroyOriginal is checked via the method's
    building block, Email/set on the source account."""
    eid = await put_email(env, SIMPLE, acct=env.bob)
    other = await put_email(env, SIMPLE.replace(b"first@", b"second@"), acct=env.bob)
    bob = env.store.principal(env.bob)
    assert bob is not None
    # Bob's token reaches Alice's account too (what a sharing grant will give): the mail
    # service checks the rights in both accounts.
    owner = AccessToken.for_owner(bob)
    token = replace(owner, accounts=(*owner.accounts, (env.alice, OWNER)))
    ctx = JmapContext(env.ctx.services, bob, token)
    call = MethodCall("Email/copy", {}, "c0", None, {}, frozenset(USING), ctx)
    created, failed, originals = await copy_emails(
        call,
        ctx,
        env.bob,
        env.alice,
        {
            "ok": {"id": eid, "mailboxIds": {env.mailbox("archive"): True}},
            "kw": {
                "id": other,
                "mailboxIds": {env.mailbox("inbox"): True},
                "keywords": {"$flagged": True},
            },
            "gone": {"id": "e999", "mailboxIds": {env.mailbox("inbox"): True}},
            "bad": {"id": eid, "mailboxIds": {env.mailbox("inbox"): True}, "size": 3},
        },
    )
    assert failed["gone"].type == "notFound" and failed["bad"].type == "invalidProperties"
    copy = env.store.email(env.alice, parse_object_id("email", created["ok"]["id"]) or 0)
    source = env.store.email(env.bob, parse_object_id("email", eid) or 0)
    assert copy is not None and source is not None
    assert copy.blob == source.blob and copy.received_at == source.received_at
    assert env.raw_of(created["ok"]["id"]) == SIMPLE
    kw = env.store.email(env.alice, parse_object_id("email", created["kw"]["id"]) or 0)
    assert kw is not None and kw.keywords == ("$flagged",)
    assert originals == {"ok": eid, "kw": other}
    assert call.created_ids["ok"] == created["ok"]["id"]


# -- Email/parse (RFC 8621 §4.9) -----------------------------------------------------------------
async def test_email_parse_uploaded_and_embedded_blobs_rfc8621_4_9(env: Env) -> None:
    inner = SIMPLE
    outer = (
        b"From: x@remote.test\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain\r\n\r\n"
        b"see attached\r\n--zz\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--zz--\r\n"
    )
    upload = await env.one(
        "Blob/upload",
        {
            "create": {
                "o": {"data": [{"data:asText": outer.decode()}], "type": "message/rfc822"},
                "junk": {"data": [{"data:asText": ""}]},
            }
        },
    )
    outer_id, junk_id = upload["created"]["o"]["id"], upload["created"]["junk"]["id"]
    out = await env.one(
        "Email/parse",
        {
            "blobIds": [outer_id, junk_id, blob_id(b"\1" * 32)],
            "fetchTextBodyValues": True,
        },
    )
    parsed = out["parsed"][outer_id]
    assert parsed["subject"] == "Fwd" and parsed["from"] == [
        {"name": None, "email": "x@remote.test"}
    ]
    assert "id" not in parsed  # not in the default properties (§4.9)
    [attachment] = parsed["attachments"]
    assert attachment["type"] == "message/rfc822"
    text_part = parsed["textBody"][0]["partId"]
    assert parsed["bodyValues"][text_part]["value"] == "see attached"
    assert out["notParsable"] == [junk_id] and out["notFound"] == [blob_id(b"\1" * 32)]
    # The attached message's part blob id parses as the inner message.
    inner_out = await env.one(
        "Email/parse", {"blobIds": [attachment["blobId"]], "properties": ["subject", "messageId"]}
    )
    assert inner_out["parsed"][attachment["blobId"]] == {
        "subject": "Hello there",
        "messageId": ["first@remote.test"],
    }


@needs_corpus
async def test_email_parse_corpus_matches_parser_rfc8621_4_9(env: Env) -> None:
    files = sorted(p for p in CORPUS.rglob("*.eml"))[:40]
    ids = []
    for f in files:
        data = f.read_bytes()
        up = await env.one(
            "Blob/upload",
            {"create": {"b": {"data": [{"data:asBase64": base64.b64encode(data).decode()}]}}},
        )
        ids.append((up["created"]["b"]["id"], parse_message(data)))
    out = await env.one(
        "Email/parse", {"blobIds": [i for i, _ in ids], "properties": ["subject", "size"]}
    )
    for ident, parsed in ids:
        if ident in (out["notParsable"] or []):
            assert not parsed.headers
            continue
        rendered = out["parsed"][ident]
        assert rendered["size"] == parsed.size
        if parsed.subject is not None:
            assert rendered["subject"] is not None


# -- Blob methods (RFC 9404, RFC 8620 §6.3) ------------------------------------------------------
async def test_blob_upload_get_ranges_and_digests_rfc9404_4(env: Env) -> None:
    data = "héllo world".encode()
    up = await env.one(
        "Blob/upload",
        {
            "create": {
                "a": {
                    "data": [
                        {"data:asText": "héllo"},
                        {"data:asBase64": base64.b64encode(b" world").decode()},
                    ],
                    "type": "text/plain",
                },
                "b": {"data": [{"blobId": "#a", "offset": 1, "length": 5}]},
                "bad": {"data": [{"blobId": "#a", "offset": 50}]},
                "nodata": {"data": []},
                "bin": {"data": [{"data:asBase64": base64.b64encode(b"\xff\xfe").decode()}]},
            }
        },
    )
    a = up["created"]["a"]
    assert a == {
        "id": blob_id(hashlib.sha256(data).digest()),
        "type": "text/plain",
        "size": len(data),
    }
    assert up["created"]["b"]["size"] == 5
    assert up["notCreated"]["bad"]["type"] == "invalidProperties"
    assert up["notCreated"]["nodata"]["type"] == "invalidProperties"
    got = await env.one(
        "Blob/get",
        {
            "ids": [a["id"], up["created"]["bin"]["id"], blob_id(b"\2" * 32)],
            "properties": ["data:asText", "digest:sha-256", "size"],
        },
    )
    first, binary = got["list"]
    assert first["data:asText"] == "héllo world" and first["isEncodingProblem"] is False
    assert first["digest:sha-256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert binary["data:asText"] is None and binary["isEncodingProblem"] is True
    assert got["notFound"] == [blob_id(b"\2" * 32)]
    ranged = await env.one(
        "Blob/get", {"ids": [a["id"]], "properties": ["data", "size"], "offset": 7, "length": 10}
    )
    [item] = ranged["list"]
    assert item["data:asText"] == "world" and item["isTruncated"] is True and item["size"] == 12
    [error] = await env.call(
        "Blob/get", {"accountId": env.account, "ids": [a["id"]], "properties": ["nonsense"]}
    )
    assert error.arguments["type"] == "invalidArguments"


async def test_blob_access_is_per_account_rfc8620_6(env: Env) -> None:
    """A blob another account received is not readable here (RFC 8620 §6.2 access rules)."""
    await put_email(env, SIMPLE.replace(b"first@", b"bobs@"), acct=env.bob)
    secret = blob_id(hashlib.sha256(SIMPLE.replace(b"first@", b"bobs@")).digest())
    got = await env.one("Blob/get", {"ids": [secret]})
    assert got["list"] == [] and got["notFound"] == [secret]
    copy = await env.call(
        "Blob/copy",
        {"fromAccountId": env.account, "accountId": env.account, "blobIds": [secret]},
    )
    assert copy[0].arguments["notCopied"][secret]["type"] == "notFound"


async def test_blob_lookup_and_copy_rfc9404_4_3_rfc8620_6_3(env: Env) -> None:
    eid = await put_email(env, SIMPLE)
    sha = hashlib.sha256(SIMPLE).digest()
    number = parse_object_id("email", eid) or 0
    email = env.store.email(env.alice, number)
    assert email is not None
    out = await env.one(
        "Blob/lookup",
        {"typeNames": ["Email", "Thread", "Mailbox"], "ids": [blob_id(sha), blob_id(b"\3" * 32)]},
    )
    assert out["list"] == [
        {
            "id": blob_id(sha),
            "matchedIds": {
                "Email": [eid],
                "Thread": [object_id("thread", email.thread_id)],
                "Mailbox": [env.mailbox("inbox")],
            },
        }
    ]
    assert out["notFound"] == [blob_id(b"\3" * 32)]
    [error] = await env.call(
        "Blob/lookup", {"accountId": env.account, "typeNames": ["Calendar"], "ids": []}
    )
    assert error.arguments["type"] == "unknownDataType"
    copy = await env.call(
        "Blob/copy",
        {"fromAccountId": env.account, "accountId": env.account, "blobIds": [blob_id(sha)]},
    )
    assert copy[0].arguments["copied"] == {blob_id(sha): blob_id(sha)}
    [bad] = await env.call(
        "Blob/copy", {"fromAccountId": "a999", "accountId": env.account, "blobIds": []}
    )
    assert bad.arguments["type"] == "fromAccountNotFound"


# -- Identity (RFC 8621 §6) ----------------------------------------------------------------------
async def test_identity_default_set_and_changes_rfc8621_6(env: Env) -> None:
    got = await env.one("Identity/get", {"ids": None})
    [default] = got["list"]
    assert default["email"] == "alice@example.org" and default["name"] == "Alice A"
    assert default["mayDelete"] is False
    state = got["state"]
    out = await env.one(
        "Identity/set",
        {
            "ifInState": state,
            "create": {
                "alias": {
                    "name": "Al",
                    "email": "AL@example.org",
                    "replyTo": [{"name": None, "email": "al@example.org"}],
                },
                "forged": {"email": "boss@example.org"},
                "noemail": {"name": "x"},
            },
            "update": {default["id"]: {"textSignature": "-- \nAlice"}},
            "destroy": [default["id"]],
        },
    )
    assert out["notCreated"]["forged"]["type"] == "forbiddenFrom"
    assert out["notCreated"]["noemail"]["type"] == "invalidProperties"
    alias = out["created"]["alias"]["id"]
    assert out["created"]["alias"]["mayDelete"] is True
    assert out["updated"] == {default["id"]: None}
    assert out["notDestroyed"][default["id"]]["type"] == "forbidden"
    immutable = await env.one("Identity/set", {"update": {alias: {"email": "alice@example.org"}}})
    assert immutable["notUpdated"][alias]["properties"] == ["email"]
    changes = await env.one("Identity/changes", {"sinceState": state})
    assert changes["created"] == [alias] and changes["updated"] == [default["id"]]
    both = await env.one("Identity/get", {"ids": [alias, default["id"], "o999"]})
    assert [i["id"] for i in both["list"]] == [alias, default["id"]]
    assert both["list"][1]["textSignature"] == "-- \nAlice"
    assert both["notFound"] == ["o999"]
    gone = await env.one("Identity/set", {"destroy": [alias]})
    assert gone["destroyed"] == [alias]
    after = await env.one("Identity/changes", {"sinceState": changes["newState"]})
    assert after["destroyed"] == [alias]


# -- VacationResponse (RFC 8621 §8) --------------------------------------------------------------
async def test_vacation_response_singleton_rfc8621_8(env: Env) -> None:
    got = await env.one("VacationResponse/get", {"ids": None})
    assert got["list"] == [
        {
            "id": "singleton",
            "isEnabled": False,
            "fromDate": None,
            "toDate": None,
            "subject": None,
            "textBody": None,
            "htmlBody": None,
        }
    ]
    out = await env.one(
        "VacationResponse/set",
        {
            "ifInState": got["state"],
            "create": {"x": {}},
            "update": {
                "singleton": {
                    "isEnabled": True,
                    "subject": "Away",
                    "toDate": "2030-01-01T00:00:00Z",
                },
                "other": {"isEnabled": True},
            },
            "destroy": ["singleton"],
        },
    )
    assert out["updated"] == {"singleton": None}
    assert out["notCreated"]["x"]["type"] == "singleton"
    assert out["notDestroyed"]["singleton"]["type"] == "singleton"
    assert out["notUpdated"]["other"]["type"] == "notFound"
    got = await env.one(
        "VacationResponse/get",
        {"ids": ["singleton", "nope"], "properties": ["isEnabled", "subject"]},
    )
    assert got["list"] == [{"id": "singleton", "isEnabled": True, "subject": "Away"}]
    assert got["notFound"] == ["nope"]
    bad = await env.one("VacationResponse/set", {"update": {"singleton": {"fromDate": "tomorrow"}}})
    assert bad["notUpdated"]["singleton"]["properties"] == ["fromDate"]
    reset = await env.one("VacationResponse/set", {"update": {"singleton": {"subject": None}}})
    assert reset["updated"] == {"singleton": None}
    got = await env.one("VacationResponse/get", {})
    assert got["list"][0]["subject"] is None and got["list"][0]["isEnabled"] is True


# -- EmailSubmission (RFC 8621 §7) ---------------------------------------------------------------
async def _draft(env: Env, **extra: Any) -> list[Invocation]:
    return await env.request(
        [
            ("Identity/get", {"accountId": env.account}),
            (
                "Email/set",
                {
                    "accountId": env.account,
                    "create": {
                        "draft": {
                            "mailboxIds": {env.mailbox("drafts"): True},
                            "keywords": {"$draft": True},
                            "from": [{"name": "Alice", "email": "alice@example.org"}],
                            "to": [{"name": "Bob", "email": "bob@example.org"}],
                            "cc": [{"name": None, "email": "nobody@example.org"}],
                            "bcc": [{"name": None, "email": "al@example.org"}],
                            "subject": "Lunch?",
                            "textBody": [{"partId": "t"}],
                            "bodyValues": {"t": {"value": "At noon."}},
                            **extra,
                        }
                    },
                },
            ),
        ]
    )


async def test_email_submission_send_and_on_success_update_rfc8621_7_5(env: Env) -> None:
    responses = await _draft(env)
    identity = responses[0].arguments["list"][0]["id"]
    before = (await env.one("EmailSubmission/get", {"ids": None}))["state"]
    sent = await env.request(
        [
            (
                "EmailSubmission/set",
                {
                    "accountId": env.account,
                    "create": {"s": {"identityId": identity, "emailId": "#draft"}},
                    "onSuccessUpdateEmail": {
                        "#s": {
                            f"mailboxIds/{env.mailbox('drafts')}": None,
                            f"mailboxIds/{env.mailbox('sent')}": True,
                            "keywords/$draft": None,
                        }
                    },
                },
            )
        ]
    )
    # Creation ids live for one request (RFC 8620 §3.3): "#draft" is unknown here.
    assert sent[0].name == "EmailSubmission/set"
    assert sent[0].arguments["notCreated"]["s"]["properties"] == ["emailId"]
    draft_id = responses[1].arguments["created"]["draft"]["id"]
    sent = await env.request(
        [
            (
                "EmailSubmission/set",
                {
                    "accountId": env.account,
                    "ifInState": before,
                    "create": {"s": {"identityId": identity, "emailId": draft_id}},
                    "onSuccessUpdateEmail": {
                        "#s": {
                            f"mailboxIds/{env.mailbox('drafts')}": None,
                            f"mailboxIds/{env.mailbox('sent')}": True,
                            "keywords/$draft": None,
                        }
                    },
                },
            )
        ]
    )
    assert [r.name for r in sent] == ["EmailSubmission/set", "Email/set"]
    created = sent[0].arguments["created"]["s"]
    assert created["undoStatus"] == "final"
    status = created["deliveryStatus"]
    assert status["bob@example.org"]["delivered"] == "yes"
    assert status["al@example.org"]["delivered"] == "yes"
    # A local address with no account: its deliveryStatus says so (RFC 8621 §7 "no").
    assert status["nobody@example.org"]["delivered"] == "no"
    assert status["nobody@example.org"]["smtpReply"].startswith("550 5.1.1")
    assert sent[1].arguments["updated"] == {draft_id: None}
    draft = env.store.email(env.alice, parse_object_id("email", draft_id) or 0)
    assert draft is not None and draft.keywords == ()
    assert [object_id("mailbox", m) for m, _ in draft.mailboxes] == [env.mailbox("sent")]
    # Bob got it without the Bcc header; the stored draft keeps it.
    [bob_mail] = list(env.store.emails(env.bob))
    bob_raw = env.store.blob(bob_mail.blob)
    assert bob_raw is not None and b"\r\nBcc:" not in bob_raw and b"Subject: Lunch?" in bob_raw
    assert b"\r\nBcc:" in env.raw_of(draft_id)
    # Alice (Bcc via her alias) got a copy in her inbox too.
    inbox = env.store.mailbox_by_role(env.alice, "inbox")
    assert inbox is not None and inbox.total == 1
    got = await env.one("EmailSubmission/get", {"ids": [created["id"]]})
    [sub] = got["list"]
    assert sub["emailId"] == draft_id and sub["identityId"] == identity
    assert sub["envelope"]["mailFrom"]["email"] == "alice@example.org"
    assert [r["email"] for r in sub["envelope"]["rcptTo"]] == [
        "bob@example.org",
        "nobody@example.org",
        "al@example.org",
    ]


async def test_email_submission_same_request_creation_refs_rfc8621_7_5(env: Env) -> None:
    """Email/set then EmailSubmission/set with "#draft" in one request, destroying the
    email on success (onSuccessDestroyEmail)."""
    identity = (await env.one("Identity/get", {}))["list"][0]["id"]
    responses = await env.request(
        [
            (
                "Email/set",
                {
                    "accountId": env.account,
                    "create": {
                        "draft": {
                            "mailboxIds": {env.mailbox("drafts"): True},
                            "from": [{"email": "alice@example.org"}],
                            "to": [{"email": "bob@example.org"}],
                            "subject": "hi",
                        }
                    },
                },
            ),
            (
                "EmailSubmission/set",
                {
                    "accountId": env.account,
                    "create": {"s": {"identityId": identity, "emailId": "#draft"}},
                    "onSuccessDestroyEmail": ["#s"],
                },
            ),
        ]
    )
    assert [r.name for r in responses] == ["Email/set", "EmailSubmission/set", "Email/set"]
    draft_id = responses[0].arguments["created"]["draft"]["id"]
    assert responses[2].arguments["destroyed"] == [draft_id]
    assert len(list(env.store.emails(env.bob))) == 1


async def test_email_submission_errors_rfc8621_7_5(env: Env) -> None:
    responses = await _draft(env)
    identity = responses[0].arguments["list"][0]["id"]
    draft = responses[1].arguments["created"]["draft"]["id"]
    forged = await env.one(
        "Email/set",
        {
            "create": {
                "f": {
                    "mailboxIds": {env.mailbox("drafts"): True},
                    "from": [{"email": "ceo@example.org"}],
                    "to": [{"email": "bob@example.org"}],
                },
                "norcpt": {
                    "mailboxIds": {env.mailbox("drafts"): True},
                    "from": [{"email": "alice@example.org"}],
                },
            }
        },
    )
    out = await env.one(
        "EmailSubmission/set",
        {
            "create": {
                "noid": {"identityId": "o999", "emailId": draft},
                "from": {"identityId": identity, "emailId": forged["created"]["f"]["id"]},
                "rcpt": {"identityId": identity, "emailId": forged["created"]["norcpt"]["id"]},
                "mailfrom": {
                    "identityId": identity,
                    "emailId": draft,
                    "envelope": {
                        "mailFrom": {"email": "ceo@example.org"},
                        "rcptTo": [{"email": "bob@example.org"}],
                    },
                },
                "badrcpt": {
                    "identityId": identity,
                    "emailId": draft,
                    "envelope": {
                        "mailFrom": {"email": "alice@example.org", "parameters": None},
                        "rcptTo": [{"email": "not-an-address"}],
                    },
                },
                "server": {"identityId": identity, "emailId": draft, "sendAt": "x"},
            }
        },
    )
    errors = {k: v["type"] for k, v in out["notCreated"].items()}
    assert errors == {
        "noid": "invalidProperties",
        "from": "forbiddenFrom",
        "rcpt": "noRecipients",
        "mailfrom": "forbiddenMailFrom",
        "badrcpt": "invalidRecipients",
        "server": "invalidProperties",
    }
    assert out["notCreated"]["badrcpt"]["invalidRecipients"] == ["not-an-address"]
    assert list(env.store.emails(env.bob)) == []  # nothing was sent


async def test_email_submission_query_changes_and_unsend_rfc8621_7_3_7_4(env: Env) -> None:
    responses = await _draft(env)
    identity = responses[0].arguments["list"][0]["id"]
    draft = responses[1].arguments["created"]["draft"]["id"]
    q0 = await env.one("EmailSubmission/query", {})
    assert q0["ids"] == [] and q0["canCalculateChanges"] is True
    subs = []
    for _ in range(3):
        out = await env.one(
            "EmailSubmission/set",
            {"create": {"s": {"identityId": identity, "emailId": draft}}},
        )
        subs.append(out["created"]["s"]["id"])
    q1 = await env.one(
        "EmailSubmission/query",
        {
            "filter": {"emailIds": [draft], "undoStatus": "final"},
            "sort": [{"property": "sentAt", "isAscending": False}],
            "calculateTotal": True,
            "position": 1,
        },
    )
    assert q1["total"] == 3 and len(q1["ids"]) == 2 and set(q1["ids"]) <= set(subs)
    none = await env.one("EmailSubmission/query", {"filter": {"identityIds": ["o999"]}})
    assert none["ids"] == []
    [bad] = await env.call(
        "EmailSubmission/query", {"accountId": env.account, "filter": {"color": "red"}}
    )
    assert bad.arguments["type"] == "unsupportedFilter"
    unsend = await env.one("EmailSubmission/set", {"update": {subs[0]: {"undoStatus": "canceled"}}})
    assert unsend["notUpdated"][subs[0]]["type"] == "cannotUnsend"
    # From the empty state: all three were added, the one destroyed since never appears.
    destroyed = await env.one("EmailSubmission/set", {"destroy": [subs[1]]})
    assert destroyed["destroyed"] == [subs[1]]
    qc = await env.one("EmailSubmission/queryChanges", {"sinceQueryState": q0["queryState"]})
    assert qc["removed"] == [] and {a["id"] for a in qc["added"]} == {subs[0], subs[2]}
    # From the state with all three: the destroyed one is removed, nothing is added.
    qc = await env.one("EmailSubmission/queryChanges", {"sinceQueryState": q1["queryState"]})
    assert qc["removed"] == [subs[1]] and qc["added"] == []
    assert qc["newQueryState"] == destroyed["newState"]
    changes = await env.one(
        "EmailSubmission/changes", {"sinceState": q0["queryState"], "maxChanges": 2}
    )
    assert changes["hasMoreChanges"] is True and len(changes["created"]) == 2
    [stale] = await env.call(
        "EmailSubmission/queryChanges", {"accountId": env.account, "sinceQueryState": "bogus"}
    )
    assert stale.arguments["type"] == "cannotCalculateChanges"
