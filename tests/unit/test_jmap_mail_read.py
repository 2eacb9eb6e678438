"""JMAP Mail read side (RFC 8621 §2–§5) and Quota (RFC 9425) over a real store, FTS index and
dispatcher: Mailbox/*, Thread/*, Email/get|changes|query|queryChanges, SearchSnippet/get,
Quota/*, and the Email renderer on the MIME corpus."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from protocols.jmap.context import JmapContext, JmapLimits, JmapServices
from protocols.jmap.core import CORE, MAIL, QUOTA, Dispatcher, Invocation, Request
from protocols.jmap.mail import register_read
from protocols.jmap.mail.email_render import (
    BodyOptions,
    MessageSource,
    parse_header_property,
    parse_part_blob_id,
    part_blob_id,
    part_content,
    render_email,
)
from protocols.mime import parse_message
from stalwart_py.accounts import Directory
from stalwart_py.indexer import Indexer
from stalwart_py.passwords import HashParams, Passwords
from stalwart_py.storage import write
from store import Batch, Store
from store.batch import (
    CreateMailbox,
    DestroyEmail,
    ImportEmail,
    PutBlob,
    UpdateEmail,
    UpdateMailbox,
    UpdatePrincipal,
)
from store.codec import pack
from store.fts import Query, open_index
from store.ids import blob_id, object_id

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "mime"
USING = [CORE, MAIL, QUOTA]
T0 = 1_700_000_000  # receivedAt base (2023-11-14T22:13:20Z)


# -- environment ---------------------------------------------------------------------------------
@dataclass
class Env:
    store: Store
    acct: int
    aid: str
    dispatcher: Dispatcher
    ctx: JmapContext
    indexer: Indexer
    mailboxes: dict[str, int]  # role -> id

    async def call(self, name: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        args = {"accountId": self.aid, **args}
        request = Request(using=tuple(USING), method_calls=(Invocation(name, args, "c0"),))
        response = await self.dispatcher.execute(request, session_state="s", context=self.ctx)
        (inv,) = response.method_responses
        return inv.name, inv.arguments

    async def ok(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        got, out = await self.call(name, args)
        assert got == name, out
        return out

    async def error(self, name: str, args: dict[str, Any]) -> str:
        got, out = await self.call(name, args)
        assert got == "error", out
        return str(out["type"])

    async def put(
        self,
        raw: bytes,
        *,
        mailboxes: tuple[str, ...] = ("inbox",),
        keywords: tuple[str, ...] = (),
        received_at: int = T0,
    ) -> int:
        """Imports one message the way delivery does; returns the email id."""
        (eid,) = await self.put_many([(raw, mailboxes, keywords, received_at)])
        return eid

    async def put_many(
        self, items: list[tuple[bytes, tuple[str, ...], tuple[str, ...], int]]
    ) -> list[int]:
        ops: list[Any] = []
        blobs: list[bytes] = []
        for raw, mailboxes, keywords, received_at in items:
            parsed = parse_message(raw)
            sha = hashlib.sha256(raw).digest()
            ops.append(PutBlob(sha, len(raw), hold_until=0))
            blobs.append(raw)
            ops.append(
                ImportEmail(
                    self.acct,
                    sha,
                    len(raw),
                    tuple(self.mailboxes[m] for m in mailboxes),
                    keywords,
                    received_at,
                    pack(parsed.to_wire()),
                    message_id=parsed.message_id[0] if parsed.message_id else "",
                    references=tuple(dict.fromkeys((*parsed.in_reply_to, *parsed.references))),
                    subject=parsed.normalized_subject,
                )
            )
        result = await write(self.store, Batch(tuple(ops), now=T0, blobs=tuple(blobs)))
        out = []
        for r in result.results[1::2]:
            assert r.ok, r.error
            out.append(r.value.email_id)
        return out

    async def apply(self, *ops: Any) -> None:
        result = await write(self.store, Batch(tuple(ops), now=T0))
        assert all(r.ok for r in result.results), result


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    store = Store(tmp_path / "db", sync=False)
    directory = Directory(store, Passwords(HashParams(1, 8192, 1)))
    directory.create_domain("example.com")
    acct = directory.create_account("bob@example.com", "pw", quota=10_000_000)
    index = open_index("tantivy", tmp_path / "fts")
    indexer = Indexer(store, index)

    async def search_text(account: int, query: Query) -> set[int]:
        return indexer.search(account, query)

    async def snippet(account: int, eid: int, query: Query) -> tuple[str | None, str | None]:
        indexer.catch_up(account)
        return index.snippet(account, eid, query)

    async def submit(*_: Any) -> list[Any]:
        raise AssertionError("not used")

    services = JmapServices(
        store=store,
        write=lambda batch: write(store, batch),
        search_text=search_text,
        snippet=snippet,
        submit=submit,
        now=lambda: T0,
        limits=JmapLimits(max_objects_in_get=500),
    )
    principal = store.principal(acct)
    assert principal is not None
    dispatcher = Dispatcher()
    register_read(dispatcher)
    roles = {mb.role: mb.id for mb in store.mailboxes(acct) if mb.role}
    yield Env(
        store,
        acct,
        object_id("account", acct),
        dispatcher,
        JmapContext(services, principal),
        indexer,
        roles,
    )
    indexer.stop()
    index.close()
    store.close()


def msg(
    subject: str,
    *,
    sender: str = "Alice <alice@example.com>",
    to: str = "bob@example.com",
    msgid: str | None = None,
    reply_to: str | None = None,
    body: str = "Hello there.",
    date: str = "Thu, 30 Oct 2014 06:12:00 -0800",
    extra: str = "",
) -> bytes:
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
    if msgid:
        head += f"Message-ID: <{msgid}>\r\n"
    if reply_to:
        head += f"In-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n"
    return (head + extra + "\r\n" + body + "\r\n").encode()


RICH = (
    b"From: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.com>\r\n"
    b'To: Friends: a@example.com, "B B" <b@example.com>;, c@example.com\r\n'
    b"Cc: carol@example.com\r\n"
    b"Subject: =?UTF-8?Q?Caf=C3=A9?= menu\r\n"
    b"Date: Thu, 30 Oct 2014 06:12:00 -0800\r\n"
    b"Message-ID: <rich@example.com>\r\n"
    b"References: <r1@example.com>\r\n <r2@example.com>\r\n"
    b"List-Unsubscribe: <mailto:leave@example.com>, <https://example.com/leave>\r\n"
    b"X-Tag: one\r\n"
    b"X-Tag: =?UTF-8?Q?tw=C3=B6?=\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="OUT"\r\n'
    b"\r\n"
    b"--OUT\r\n"
    b'Content-Type: multipart/alternative; boundary="ALT"\r\n'
    b"\r\n"
    b"--ALT\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Caf=C3=A9 au lait, croissant and more text here.\r\n"
    b"--ALT\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Caf\xc3\xa9 au lait</p>\r\n"
    b"--ALT--\r\n"
    b"--OUT\r\n"
    b'Content-Type: application/pdf; name="menu.pdf"\r\n'
    b'Content-Disposition: attachment; filename="menu.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-ID: <pdf1@example.com>\r\n"
    b"Content-Language: en, fr\r\n"
    b"\r\n"
    b"JVBERi0xLjQKJeLjz9MK\r\n"
    b"--OUT--\r\n"
)


async def call_json(env: Env, name: str, **args: Any) -> dict[str, Any]:
    return await env.ok(name, args)


# -- Mailbox (RFC 8621 §2) ---------------------------------------------------------------------
async def test_mailbox_get_counts_rights_and_not_found_rfc8621_s2_1(env: Env) -> None:
    a = await env.put(msg("one", msgid="1@x"), keywords=("$seen",))
    await env.put(msg("Re: one", msgid="2@x", reply_to="1@x"))  # same thread, unread
    await env.put(msg("draft", msgid="3@x"), keywords=("$draft",))  # not unread (§2)
    await env.put(msg("two", msgid="4@x"), mailboxes=("inbox", "archive"))
    out = await env.ok("Mailbox/get", {"ids": None})
    assert out["state"] == str(env.store.account(env.acct).type_state("Mailbox"))  # type: ignore[union-attr]
    boxes = {m["role"]: m for m in out["list"]}
    assert len(boxes) == 6
    inbox = boxes["inbox"]
    assert inbox["id"] == object_id("mailbox", env.mailboxes["inbox"])
    assert (inbox["totalEmails"], inbox["unreadEmails"]) == (4, 2)
    assert (inbox["totalThreads"], inbox["unreadThreads"]) == (3, 2)
    assert inbox["parentId"] is None and inbox["isSubscribed"] is True
    assert all(inbox["myRights"].values()) and len(inbox["myRights"]) == 9
    assert (boxes["archive"]["totalEmails"], boxes["archive"]["totalThreads"]) == (1, 1)
    assert boxes["trash"]["totalEmails"] == 0
    # ids + properties: "id" is always returned; unknown ids are notFound (RFC 8620 §5.1).
    out = await env.ok(
        "Mailbox/get", {"ids": [inbox["id"], "m999", inbox["id"]], "properties": ["name"]}
    )
    assert out["list"] == [{"id": inbox["id"], "name": "Inbox"}]
    assert out["notFound"] == ["m999"]
    assert await env.error("Mailbox/get", {"properties": ["nope"]}) == "invalidArguments"
    assert a > 0


async def test_mailbox_changes_updated_properties_rfc8621_s2_2(env: Env) -> None:
    state0 = (await env.ok("Mailbox/get", {"ids": []}))["state"]
    await env.put(msg("hello", msgid="h@x"))
    out = await env.ok("Mailbox/changes", {"sinceState": state0})
    inbox = object_id("mailbox", env.mailboxes["inbox"])
    assert out["updated"] == [inbox] and out["created"] == [] and out["destroyed"] == []
    # Only counts changed: updatedProperties lists the count properties (§2.2).
    assert set(out["updatedProperties"]) == {
        "totalEmails",
        "unreadEmails",
        "totalThreads",
        "unreadThreads",
    }
    state1 = out["newState"]
    await env.apply(UpdateMailbox(env.acct, env.mailboxes["inbox"], name="In"))
    out = await env.ok("Mailbox/changes", {"sinceState": state1})
    assert out["updated"] == [inbox] and out["updatedProperties"] is None
    await env.apply(CreateMailbox(env.acct, "Projects"))
    out = await env.ok("Mailbox/changes", {"sinceState": state1, "maxChanges": 1})
    assert out["hasMoreChanges"] is True and out["updated"] == [inbox]
    out2 = await env.ok("Mailbox/changes", {"sinceState": out["newState"]})
    assert len(out2["created"]) == 1 and out2["updatedProperties"] is None
    assert await env.error("Mailbox/changes", {"sinceState": "999"}) == "cannotCalculateChanges"


async def test_mailbox_query_filters_sort_and_trees_rfc8621_s2_3(env: Env) -> None:
    inbox = env.mailboxes["inbox"]
    await env.apply(
        CreateMailbox(env.acct, "Zeta", parent_id=inbox, sort_order=1),
        CreateMailbox(env.acct, "Alpha", parent_id=inbox, sort_order=2),
        CreateMailbox(env.acct, "Lists", sort_order=10, subscribed=False),
    )
    by_name = {mb.name: object_id("mailbox", mb.id) for mb in env.store.mailboxes(env.acct)}
    lists = next(mb.id for mb in env.store.mailboxes(env.acct) if mb.name == "Lists")
    await env.apply(CreateMailbox(env.acct, "Python", parent_id=lists))
    by_name = {mb.name: object_id("mailbox", mb.id) for mb in env.store.mailboxes(env.acct)}

    async def ids(**args: Any) -> list[str]:
        return list((await env.ok("Mailbox/query", args))["ids"])

    names = {v: k for k, v in by_name.items()}
    top = await ids(filter={"parentId": None}, sort=[{"property": "sortOrder"}])
    assert [names[i] for i in top] == [
        "Inbox",
        "Drafts",
        "Sent",
        "Archive",
        "Junk",
        "Trash",
        "Lists",
    ]
    kids = await ids(filter={"parentId": by_name["Inbox"]}, sort=[{"property": "name"}])
    assert [names[i] for i in kids] == ["Alpha", "Zeta"]
    assert [names[i] for i in await ids(filter={"role": "trash"})] == ["Trash"]
    assert len(await ids(filter={"hasAnyRole": False})) == 4
    assert [names[i] for i in await ids(filter={"isSubscribed": False})] == ["Lists"]
    assert [names[i] for i in await ids(filter={"name": "PYTH"})] == ["Python"]
    # sortAsTree: parents first, children right after their parent, siblings by the sort.
    tree = await ids(sort=[{"property": "sortOrder"}, {"property": "name"}], sortAsTree=True)
    assert [names[i] for i in tree] == [
        "Inbox", "Zeta", "Alpha", "Drafts", "Sent", "Archive", "Junk", "Trash", "Lists", "Python",
    ]  # fmt: skip
    # filterAsTree: a match whose ancestor does not match is left out.
    flat = await ids(filter={"hasAnyRole": False})
    astree = await ids(filter={"hasAnyRole": False}, filterAsTree=True)
    assert {names[i] for i in flat} == {"Zeta", "Alpha", "Lists", "Python"}
    assert {names[i] for i in astree} == {"Lists", "Python"}
    out = await env.ok("Mailbox/query", {"calculateTotal": True, "limit": 2, "position": 1})
    assert out["total"] == 10 and out["position"] == 1 and len(out["ids"]) == 2
    assert out["canCalculateChanges"] is True
    assert await env.error("Mailbox/query", {"filter": {"color": "red"}}) == "unsupportedFilter"
    assert await env.error("Mailbox/query", {"sort": [{"property": "id"}]}) == "unsupportedSort"


async def test_mailbox_query_changes_replay_rfc8621_s2_4(env: Env) -> None:
    args = {"filter": {"hasAnyRole": False}, "sort": [{"property": "name"}]}
    first = await env.ok("Mailbox/query", args)
    await env.apply(CreateMailbox(env.acct, "Beta"), CreateMailbox(env.acct, "Delta"))
    mid = await env.ok("Mailbox/query", args)
    beta = next(mb.id for mb in env.store.mailboxes(env.acct) if mb.name == "Beta")
    await env.apply(UpdateMailbox(env.acct, beta, name="Zulu"), CreateMailbox(env.acct, "Alpha"))
    last = await env.ok("Mailbox/query", args)
    for old in (first, mid):
        changes = await env.ok(
            "Mailbox/queryChanges", {**args, "sinceQueryState": old["queryState"]}
        )
        assert replay(old["ids"], changes) == last["ids"]
        assert changes["newQueryState"] == last["queryState"]


def replay(old: list[str], changes: dict[str, Any]) -> list[str]:
    """What a client does with a /queryChanges answer (RFC 8620 §5.6)."""
    out = [i for i in old if i not in set(changes["removed"])]
    for item in sorted(changes["added"], key=lambda a: a["index"]):
        out.insert(item["index"], item["id"])
    return out


# -- Thread (RFC 8621 §3) ----------------------------------------------------------------------
async def test_thread_get_orders_by_received_at_and_changes_rfc8621_s3(env: Env) -> None:
    state0 = (await env.ok("Thread/get", {"ids": []}))["state"]
    late = await env.put(msg("topic", msgid="t1@x"), received_at=T0 + 100)
    early = await env.put(msg("Re: topic", msgid="t2@x", reply_to="t1@x"), received_at=T0)
    other = await env.put(msg("unrelated", msgid="u@x"))
    got = await env.ok("Email/get", {"ids": [object_id("email", late)], "properties": ["threadId"]})
    tid = got["list"][0]["threadId"]
    out = await env.ok("Thread/get", {"ids": [tid, "t999"]})
    assert out["list"] == [
        {"id": tid, "emailIds": [object_id("email", early), object_id("email", late)]}
    ]
    assert out["notFound"] == ["t999"]
    changes = await env.ok("Thread/changes", {"sinceState": state0})
    assert tid in changes["created"] and len(changes["created"]) == 2
    await env.apply(DestroyEmail(env.acct, other))
    more = await env.ok("Thread/changes", {"sinceState": changes["newState"]})
    assert len(more["destroyed"]) == 1 and more["created"] == []
    assert len((await env.ok("Thread/get", {"ids": None}))["list"]) == 1


# -- Email/get (RFC 8621 §4.1, §4.2) ---------------------------------------------------------------
async def test_email_get_default_properties_and_metadata_rfc8621_s4_2(env: Env) -> None:
    eid = await env.put(RICH, keywords=("$seen", "$Flagged"), received_at=T0)
    ident = object_id("email", eid)
    out = await env.ok("Email/get", {"ids": [ident, "e999", "zz"]})
    assert out["notFound"] == ["e999", "zz"]
    (email,) = out["list"]
    em = env.store.email(env.acct, eid)
    assert em is not None
    assert set(email) == {
        "id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt", "messageId",
        "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject",
        "sentAt", "hasAttachment", "preview", "bodyValues", "textBody", "htmlBody", "attachments",
    }  # fmt: skip
    assert email["id"] == ident and email["blobId"] == blob_id(em.blob)
    assert email["threadId"] == object_id("thread", em.thread_id)
    assert email["mailboxIds"] == {object_id("mailbox", env.mailboxes["inbox"]): True}
    assert email["keywords"] == {"$seen": True, "$flagged": True}
    assert email["size"] == len(RICH)
    assert email["receivedAt"] == "2023-11-14T22:13:20Z"
    assert email["sentAt"] == "2014-10-30T06:12:00-08:00"
    assert email["subject"] == "Café menu"
    assert email["from"] == [{"name": "Renée", "email": "renee@example.com"}]
    assert email["to"] == [
        {"name": None, "email": "a@example.com"},
        {"name": "B B", "email": "b@example.com"},
        {"name": None, "email": "c@example.com"},
    ]
    assert email["sender"] is None and email["bcc"] is None and email["inReplyTo"] is None
    assert email["messageId"] == ["rich@example.com"]
    assert email["references"] == ["r1@example.com", "r2@example.com"]
    assert email["hasAttachment"] is True and email["preview"].startswith("Café au lait")
    assert email["bodyValues"] == {}  # no fetch*BodyValues
    assert [p["type"] for p in email["textBody"]] == ["text/plain"]
    assert [p["type"] for p in email["htmlBody"]] == ["text/html"]
    (att,) = email["attachments"]
    assert att["name"] == "menu.pdf" and att["disposition"] == "attachment"
    assert att["cid"] == "pdf1@example.com" and att["language"] == ["en", "fr"]
    assert att["charset"] is None and att["size"] == 15


async def test_header_forms_rfc8621_s4_1_2(env: Env) -> None:
    eid = await env.put(RICH)
    props = [
        "header:Subject",
        "header:subject:asText",
        "header:X-Tag:asText:all",
        "header:X-Tag",
        "header:To:asAddresses",
        "header:To:asGroupedAddresses",
        "header:References:asMessageIds",
        "header:Date:asDate",
        "header:List-Unsubscribe:asURLs",
        "header:X-Missing",
        "header:X-Missing:all",
        "header:X-Tag:asDate",
        "headers",
    ]
    out = await env.ok("Email/get", {"ids": [object_id("email", eid)], "properties": props})
    e = out["list"][0]
    assert e["header:Subject"] == " =?UTF-8?Q?Caf=C3=A9?= menu"  # Raw keeps the leading space
    assert e["header:subject:asText"] == "Café menu"
    assert e["header:X-Tag:asText:all"] == ["one", "twö"]
    assert e["header:X-Tag"] == " =?UTF-8?Q?tw=C3=B6?="  # the last instance
    assert [a["email"] for a in e["header:To:asAddresses"]] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert e["header:To:asGroupedAddresses"] == [
        {
            "name": "Friends",
            "addresses": [
                {"name": None, "email": "a@example.com"},
                {"name": "B B", "email": "b@example.com"},
            ],
        },
        {"name": None, "addresses": [{"name": None, "email": "c@example.com"}]},
    ]
    assert e["header:References:asMessageIds"] == ["r1@example.com", "r2@example.com"]
    assert e["header:Date:asDate"] == "2014-10-30T06:12:00-08:00"
    assert e["header:List-Unsubscribe:asURLs"] == [
        "mailto:leave@example.com",
        "https://example.com/leave",
    ]
    assert e["header:X-Missing"] is None and e["header:X-Missing:all"] == []
    assert e["header:X-Tag:asDate"] is None  # allowed for unknown fields, but unparsable
    assert e["headers"][0] == {
        "name": "From",
        "value": " =?UTF-8?Q?Ren=C3=A9e?= <renee@example.com>",
    }
    assert e["headers"][6]["value"] == " <r1@example.com>\r\n <r2@example.com>"
    # Forbidden forms and malformed names are invalidArguments (§4.1.2).
    for bad in ("header:From:asDate", "header:Subject:asAddresses", "header:Received:asText",
                "header:To:asFoo", "header:X:all:asText", "header:"):  # fmt: skip
        assert parse_header_property(bad) is None
        err = await env.error("Email/get", {"ids": [], "properties": [bad]})
        assert err == "invalidArguments"


async def test_body_structure_values_and_part_blobs_rfc8621_s4_1_4(env: Env) -> None:
    eid = await env.put(RICH)
    em = env.store.email(env.acct, eid)
    assert em is not None
    args = {
        "ids": [object_id("email", eid)],
        "properties": ["bodyStructure", "bodyValues", "textBody"],
        "bodyProperties": ["partId", "blobId", "type", "size", "subParts", "header:Content-Type"],
        "fetchAllBodyValues": True,
        "maxBodyValueBytes": 5,
    }
    e = (await env.ok("Email/get", args))["list"][0]
    root = e["bodyStructure"]
    assert root["partId"] is None and root["blobId"] is None and root["type"] == "multipart/mixed"
    alt, pdf = root["subParts"]
    assert alt["type"] == "multipart/alternative" and alt["partId"] is None
    plain, html = alt["subParts"]
    assert plain["subParts"] is None and pdf["type"] == "application/pdf"
    assert plain["header:Content-Type"] == " text/plain; charset=utf-8"
    assert "subParts" in e["textBody"][0] and e["textBody"][0]["subParts"] is None
    # The value is cut to 5 UTF-8 octets without splitting "é" (2 octets at 3..4).
    assert e["bodyValues"][plain["partId"]] == {
        "value": "Café",
        "isEncodingProblem": False,
        "isTruncated": True,
    }
    assert e["bodyValues"][html["partId"]]["value"] == "<p>Ca"
    # A part blob id names the message blob + partId, and resolves to the decoded content.
    assert pdf["blobId"] == part_blob_id(em.blob, pdf["partId"])
    parsed = parse_part_blob_id(pdf["blobId"])
    assert parsed == (em.blob, (pdf["partId"],))
    content = part_content(RICH, parsed[1])
    assert content is not None and content[0] == b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    assert pdf["size"] == len(content[0])
    assert parse_part_blob_id(blob_id(em.blob)) is None
    assert parse_part_blob_id(blob_id(em.blob) + "_x") is None
    # §4.2 "If 0 (the default), no truncation occurs"; fetchTextBodyValues selects only
    # textBody parts.
    args.update(maxBodyValueBytes=0, fetchAllBodyValues=False, fetchTextBodyValues=True)
    e = (await env.ok("Email/get", args))["list"][0]
    assert list(e["bodyValues"]) == [plain["partId"]]
    assert e["bodyValues"][plain["partId"]]["value"].startswith("Café au lait, croissant")
    assert e["bodyValues"][plain["partId"]]["isTruncated"] is False
    # maxBodyValueBytes is an UnsignedInt: null, negative or non-integer values are invalid.
    for bad in (None, -5, "1", True):
        assert await env.error("Email/get", {**args, "maxBodyValueBytes": bad}) == (
            "invalidArguments"
        ), bad
    assert await env.error("Email/get", {**args, "bodyProperties": ["bad"]}) == "invalidArguments"


async def test_encoding_problem_and_nested_message_parts_rfc8621_s4_1_4() -> None:
    """isEncodingProblem for undecodable octets; part blobs of an attached message chain."""
    inner = b"From: x@example.com\r\nSubject: inner\r\n\r\nInner body\r\n"
    raw = (
        b"From: a@example.com\r\nSubject: outer\r\nContent-Type: multipart/mixed; boundary=B\r\n"
        b"\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbad \xff\xfe octets\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"--B--\r\n"
    )
    parsed = parse_message(raw)
    src = MessageSource(parsed, raw, "bPARENT", None)
    props = ["id", "mailboxIds", "receivedAt", "size", "bodyValues", "attachments"]
    body = render_email(src, props, BodyOptions.create(fetch_text=True))
    assert body["id"] is None and body["mailboxIds"] is None and body["receivedAt"] is None
    assert body["size"] == len(raw)
    value = next(iter(body["bodyValues"].values()))
    assert value["isEncodingProblem"] is True
    (message_part,) = body["attachments"]
    assert message_part["type"] == "message/rfc822"
    assert message_part["blobId"] == f"bPARENT_{message_part['partId']}"
    got = part_content(raw, (message_part["partId"],))
    assert got is not None and got[0] == inner[:-2]  # the CRLF before "--B" is the boundary's
    # Email/parse of that part would number the inner message's parts from "1" again.
    nested = part_content(raw, (message_part["partId"], "1"))
    assert nested is not None and nested[0] == b"Inner body"


async def test_email_changes_rfc8621_s4_3(env: Env) -> None:
    state0 = (await env.ok("Email/get", {"ids": []}))["state"]
    a = await env.put(msg("a", msgid="a@x"))
    b = await env.put(msg("b", msgid="b@x"))
    c = await env.put(msg("c", msgid="c@x"))
    await env.apply(UpdateEmail(env.acct, a, keywords_add=("$seen",)))
    await env.apply(DestroyEmail(env.acct, c))
    out = await env.ok("Email/changes", {"sinceState": state0})
    assert out["created"] == [object_id("email", a), object_id("email", b)]
    assert out["updated"] == [] and out["destroyed"] == []  # created+destroyed vanishes
    out = await env.ok("Email/changes", {"sinceState": state0, "maxChanges": 1})
    assert out["hasMoreChanges"] is True and out["created"] == [object_id("email", a)]
    rest = await env.ok("Email/changes", {"sinceState": out["newState"]})
    assert rest["created"] == [object_id("email", b)] and rest["hasMoreChanges"] is False
    assert await env.error("Email/changes", {"sinceState": "x"}) == "cannotCalculateChanges"
    assert await env.error("Email/changes", {"sinceState": state0, "maxChanges": 0}) == (
        "invalidArguments"
    )


# -- Email/query (RFC 8621 §4.4) -----------------------------------------------------------------
async def fill_query_corpus(env: Env) -> dict[str, int]:
    ids = {}
    ids["a"] = await env.put(
        msg("Apples report", sender="Zed <zed@example.com>", to="amy@example.com", msgid="a@x",
            body="the quarterly apples figures", date="Mon, 01 Jan 2024 10:00:00 +0000"),
        keywords=("$seen",), received_at=T0 + 10,
    )  # fmt: skip
    ids["b"] = await env.put(
        msg("Re: Apples report", sender="amy@example.com", to="zed@example.com", msgid="b@x",
            reply_to="a@x", body="thanks for the pears", date="Tue, 02 Jan 2024 10:00:00 +0000",
            extra="X-Priority: 1 (Highest)\r\n"),
        received_at=T0 + 30,
    )  # fmt: skip
    ids["c"] = await env.put(RICH, keywords=("$seen", "$flagged"), received_at=T0 + 20,
                             mailboxes=("archive",))  # fmt: skip
    ids["d"] = await env.put(
        msg("bananas", sender="Bob <b@example.com>", msgid="d@x", body="x" * 3000,
            date="Wed, 03 Jan 2024 10:00:00 +0000"),
        received_at=T0 + 40, mailboxes=("inbox", "archive"),
    )  # fmt: skip
    return ids


async def test_email_query_filter_conditions_rfc8621_s4_4_1(env: Env) -> None:
    ids = await fill_query_corpus(env)
    name = {object_id("email", v): k for k, v in ids.items()}
    inbox = object_id("mailbox", env.mailboxes["inbox"])
    archive = object_id("mailbox", env.mailboxes["archive"])

    async def q(flt: dict[str, Any] | None) -> set[str]:
        return {name[i] for i in (await env.ok("Email/query", {"filter": flt}))["ids"]}

    assert await q(None) == {"a", "b", "c", "d"}
    assert await q({}) == {"a", "b", "c", "d"}
    assert await q({"inMailbox": inbox}) == {"a", "b", "d"}
    assert await q({"inMailbox": "m999"}) == set()
    assert await q({"inMailboxOtherThan": [inbox]}) == {"c", "d"}
    assert await q({"before": "2023-11-14T22:13:50Z"}) == {"a", "c"}  # receivedAt < T0+30
    assert await q({"after": "2023-11-14T22:13:50Z"}) == {"b", "d"}  # >= T0+30
    big = env.store.email(env.acct, ids["d"]).size  # type: ignore[union-attr]
    assert await q({"minSize": big}) == {"d"}
    assert await q({"maxSize": big}) == {"a", "b", "c"}
    assert await q({"hasKeyword": "$SEEN"}) == {"a", "c"}
    assert await q({"notKeyword": "$seen"}) == {"b", "d"}
    assert await q({"allInThreadHaveKeyword": "$seen"}) == {"c"}
    assert await q({"someInThreadHaveKeyword": "$seen"}) == {"a", "b", "c"}
    assert await q({"noneInThreadHaveKeyword": "$seen"}) == {"d"}
    assert await q({"hasAttachment": True}) == {"c"}
    assert await q({"hasAttachment": False}) == {"a", "b", "d"}
    assert await q({"text": "apples"}) == {"a", "b"}
    assert await q({"body": "pears"}) == {"b"}
    assert await q({"subject": "bananas"}) == {"d"}
    assert await q({"from": "zed"}) == {"a"}
    assert await q({"to": "zed@example.com"}) == {"b"}
    assert await q({"cc": "carol"}) == {"c"}
    assert await q({"bcc": "anyone"}) == set()
    assert await q({"header": ["X-Priority"]}) == {"b"}
    assert await q({"header": ["x-priority", "HIGHEST"]}) == {"b"}
    assert await q({"header": ["X-Priority", "lowest"]}) == set()
    assert await q({"header": ["List-Unsubscribe"]}) == {"c"}
    # Several properties in one condition all apply; operators AND / OR / NOT.
    assert await q({"inMailbox": inbox, "hasKeyword": "$seen"}) == {"a"}
    assert await q({"operator": "OR", "conditions": [{"subject": "bananas"}, {"cc": "carol"}]}) == {
        "c",
        "d",
    }
    assert await q({"operator": "NOT", "conditions": [{"inMailbox": inbox}]}) == {"c"}
    nested = {
        "operator": "AND",
        "conditions": [
            {"inMailbox": archive},
            {"operator": "NOT", "conditions": [{"hasKeyword": "$flagged"}]},
        ],
    }
    assert await q(nested) == {"d"}
    assert await env.error("Email/query", {"filter": {"color": "red"}}) == "unsupportedFilter"
    assert await env.error("Email/query", {"filter": {"minSize": "x"}}) == "invalidArguments"
    assert await env.error("Email/query", {"filter": {"before": "yesterday"}}) == (
        "invalidArguments"
    )


async def test_email_query_sort_collapse_and_window_rfc8621_s4_4_2(env: Env) -> None:
    ids = await fill_query_corpus(env)
    name = {object_id("email", v): k for k, v in ids.items()}
    e = {k: object_id("email", v) for k, v in ids.items()}

    async def q(**args: Any) -> list[str]:
        return [name[i] for i in (await env.ok("Email/query", args))["ids"]]

    def s(prop: str, asc: bool = True, **extra: Any) -> list[dict[str, Any]]:
        return [{"property": prop, "isAscending": asc, **extra}]

    assert await q(sort=s("receivedAt")) == ["a", "c", "b", "d"]
    assert await q(sort=s("receivedAt", False)) == ["d", "b", "c", "a"]
    assert (await q(sort=s("size", False)))[0] == "d"
    assert await q(sort=s("sentAt")) == ["c", "a", "b", "d"]  # RICH is from 2014
    assert await q(sort=s("from")) == ["b", "d", "c", "a"]  # amy, Bob, Renée, Zed
    assert await q(sort=s("to")) == ["c", "a", "d", "b"]  # a@, amy, bob, zed
    # subject sorts on the base subject (RFC 5256 §2.1): "Re: Apples" == "Apples"
    assert await q(sort=[*s("subject"), *s("receivedAt", False)]) == ["b", "a", "d", "c"]
    assert await q(sort=[*s("hasKeyword", False, keyword="$flagged"), *s("receivedAt")]) == [
        "c", "a", "b", "d",
    ]  # fmt: skip
    some = [*s("someInThreadHaveKeyword", False, keyword="$seen"), *s("receivedAt")]
    assert await q(sort=some) == ["a", "c", "b", "d"]
    every = [*s("allInThreadHaveKeyword", False, keyword="$seen"), *s("receivedAt")]
    assert await q(sort=every) == ["c", "a", "b", "d"]
    # collapseThreads keeps the first email of each thread in sort order.
    assert await q(sort=s("receivedAt", False), collapseThreads=True) == ["d", "b", "c"]
    # position / anchor / anchorOffset / limit / calculateTotal (RFC 8620 §5.5).
    base = {"sort": s("receivedAt")}
    out = await env.ok("Email/query", {**base, "position": 1, "limit": 2, "calculateTotal": True})
    assert out["ids"] == [e["c"], e["b"]] and out["position"] == 1 and out["total"] == 4
    assert out["queryState"] == str(env.store.account(env.acct).type_state("Email"))  # type: ignore[union-attr]
    out = await env.ok("Email/query", {**base, "position": -1})
    assert out["ids"] == [e["d"]] and out["position"] == 3 and "total" not in out
    out = await env.ok("Email/query", {**base, "anchor": e["b"], "anchorOffset": -1, "limit": 2})
    assert out["ids"] == [e["c"], e["b"]] and out["position"] == 1
    assert await env.error("Email/query", {**base, "anchor": "e999"}) == "anchorNotFound"
    assert await env.error("Email/query", {"sort": s("id")}) == "unsupportedSort"
    assert await env.error("Email/query", {"sort": s("hasKeyword")}) == "invalidArguments"
    assert await env.error("Email/query", {"sort": s("size", collation="i;octet")}) == (
        "unsupportedSort"
    )
    assert await env.error("Email/query", {"limit": -1}) == "invalidArguments"


async def test_email_query_changes_replay_rfc8621_s4_5(env: Env) -> None:
    ids = await fill_query_corpus(env)
    inbox = object_id("mailbox", env.mailboxes["inbox"])
    queries: list[dict[str, Any]] = [
        {
            "filter": {"inMailbox": inbox},
            "sort": [{"property": "receivedAt", "isAscending": False}],
        },
        {"filter": {"notKeyword": "$seen"}, "sort": [{"property": "subject"}]},
        {"sort": [{"property": "receivedAt"}], "collapseThreads": True},
        {"filter": {"someInThreadHaveKeyword": "$flagged"}},
    ]
    before = [await env.ok("Email/query", q) for q in queries]
    # Mutations: new mail, a flag change, a move and a destroy.
    new = await env.put(msg("Re: bananas", msgid="n@x", reply_to="d@x"), received_at=T0 + 5)
    await env.apply(UpdateEmail(env.acct, ids["b"], keywords_add=("$seen", "$flagged")))
    await env.apply(UpdateEmail(env.acct, ids["d"], mailboxes_set=(env.mailboxes["trash"],)))
    await env.apply(DestroyEmail(env.acct, ids["a"]))
    for q, old in zip(queries, before, strict=True):
        now = await env.ok("Email/query", q)
        changes = await env.ok(
            "Email/queryChanges",
            {**q, "sinceQueryState": old["queryState"], "calculateTotal": True},
        )
        assert replay(old["ids"], changes) == now["ids"], q
        assert changes["newQueryState"] == now["queryState"]
        assert changes["total"] == len(now["ids"])
        # Nothing changed since "now": an empty answer.
        same = await env.ok("Email/queryChanges", {**q, "sinceQueryState": now["queryState"]})
        assert same["removed"] == [] and same["added"] == []
    assert new > 0
    q0 = {**queries[0], "sinceQueryState": before[0]["queryState"], "maxChanges": 1}
    assert await env.error("Email/queryChanges", q0) == "tooManyChanges"
    bad = {**queries[0], "sinceQueryState": "nope"}
    assert await env.error("Email/queryChanges", bad) == "cannotCalculateChanges"


async def test_account_index_follows_the_change_log(env: Env) -> None:
    """The cached index is updated incrementally and agrees with a fresh read of the store."""
    from protocols.jmap.mail.account_index import EmailRow, account_index

    ids = await fill_query_corpus(env)
    first = account_index(env.store, env.acct)
    await env.apply(UpdateEmail(env.acct, ids["a"], keywords_add=("$junk",)))
    await env.apply(DestroyEmail(env.acct, ids["b"]))
    await env.put(msg("more", msgid="m@x"))
    again = account_index(env.store, env.acct)
    assert again is first  # updated in place from the change log, not rebuilt
    fresh = {em.id: EmailRow.of(em) for em in env.store.emails(env.acct)}
    assert again.rows == fresh
    assert again.modseq == env.store.account(env.acct).modseq  # type: ignore[union-attr]


# -- SearchSnippet (RFC 8621 §5) -------------------------------------------------------------------
async def test_search_snippet_get_rfc8621_s5(env: Env) -> None:
    ids = await fill_query_corpus(env)
    a, d = object_id("email", ids["a"]), object_id("email", ids["d"])
    out = await env.ok(
        "SearchSnippet/get", {"filter": {"text": "apples"}, "emailIds": [a, d, "e999"]}
    )
    snippets = {s["emailId"]: s for s in out["list"]}
    assert "<mark>" in snippets[a]["subject"].lower() or "<mark>" in snippets[a]["preview"]
    assert "apples" in snippets[a]["subject"].lower()
    assert snippets[d]["subject"] is None
    assert out["notFound"] == ["e999"]
    out = await env.ok("SearchSnippet/get", {"filter": {"inMailbox": "m1"}, "emailIds": [a]})
    assert out["list"] == [{"emailId": a, "subject": None, "preview": None}]
    assert out["notFound"] is None
    assert await env.error("SearchSnippet/get", {"filter": None}) == "invalidArguments"
    assert await env.error("SearchSnippet/get", {"emailIds": [a], "filter": {"zz": 1}}) == (
        "unsupportedFilter"
    )


# -- Quota (RFC 9425) ----------------------------------------------------------------------------
async def test_quota_get_changes_query_rfc9425_s4(env: Env) -> None:
    out = await env.ok("Quota/get", {"ids": None})
    (quota,) = out["list"]
    assert quota == {
        "id": "mail",
        "resourceType": "octets",
        "used": 0,
        "hardLimit": 10_000_000,
        "scope": "account",
        "name": quota["name"],
        "types": ["Mail"],
        "warnLimit": None,
        "softLimit": None,
        "description": None,
    }
    state0 = out["state"]
    await env.put(msg("q", msgid="q@x"))
    out = await env.ok("Quota/get", {"ids": ["mail", "other"], "properties": ["used"]})
    assert out["list"] == [{"id": "mail", "used": len(msg("q", msgid="q@x"))}]
    assert out["notFound"] == ["other"]
    ch = await env.ok("Quota/changes", {"sinceState": state0})
    assert ch["updated"] == ["mail"] and ch["updatedProperties"] == ["used"]
    query = await env.ok("Quota/query", {"filter": {"type": "Mail", "resourceType": "octets"}})
    assert query["ids"] == ["mail"]
    assert (await env.ok("Quota/query", {"filter": {"scope": "domain"}}))["ids"] == []
    # Removing the limit destroys the quota.
    await env.apply(UpdatePrincipal(env.acct, quota=0))
    ch = await env.ok("Quota/changes", {"sinceState": state0})
    assert ch["destroyed"] == ["mail"] and ch["updatedProperties"] is None
    qc = await env.ok("Quota/queryChanges", {"sinceQueryState": query["queryState"]})
    assert qc["removed"] == ["mail"] and qc["added"] == []
    assert (await env.ok("Quota/get", {"ids": None}))["list"] == []
    assert await env.error("Quota/changes", {"sinceState": "junk"}) == "cannotCalculateChanges"
    assert await env.error("Quota/query", {"sort": [{"property": "x"}]}) == "unsupportedSort"
    # Quota methods need the quota capability in "using" (RFC 8620 §3.3).
    request = Request(
        using=(CORE, MAIL), method_calls=(Invocation("Quota/get", {"accountId": env.aid}, "0"),)
    )
    resp = await env.dispatcher.execute(request, session_state="s", context=env.ctx)
    assert resp.method_responses[0].arguments["type"] == "unknownMethod"


# -- the corpus ----------------------------------------------------------------------------------
def corpus_files() -> Iterator[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"MIME corpus not found at {CORPUS} (clone without ../shared)")
    yield from sorted(CORPUS.rglob("*.eml"))


async def test_every_corpus_message_renders_rfc8621_s4_1(env: Env) -> None:
    files = list(corpus_files())
    assert len(files) >= 100
    eids = await env.put_many([(f.read_bytes(), ("inbox",), (), T0) for f in files])
    props = [
        "id", "blobId", "threadId", "headers", "messageId", "inReplyTo", "references", "sender",
        "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt", "bodyStructure", "bodyValues",
        "textBody", "htmlBody", "attachments", "hasAttachment", "preview",
        "header:From:asGroupedAddresses:all", "header:Date:asDate", "header:List-Post:asURLs",
    ]  # fmt: skip
    body_props = ["partId", "blobId", "size", "headers", "name", "type", "charset",
                  "disposition", "cid", "language", "location", "subParts"]  # fmt: skip
    checked_parts = 0
    for chunk in range(0, len(eids), 50):
        ids = [object_id("email", e) for e in eids[chunk : chunk + 50]]
        out = await env.ok(
            "Email/get",
            {"ids": ids, "properties": props, "bodyProperties": body_props,
             "fetchAllBodyValues": True},
        )  # fmt: skip
        assert out["notFound"] == [] and len(out["list"]) == len(ids)
        for e in out["list"]:
            raw = env.store.blob(env.store.email(env.acct, int(e["id"][1:])).blob)  # type: ignore[union-attr]
            assert raw is not None
            for part in e["attachments"] + e["textBody"]:
                got = parse_part_blob_id(part["blobId"])
                assert got is not None
                content = part_content(raw, got[1])
                assert content is not None and len(content[0]) == part["size"]
                checked_parts += 1
            for pid in e["bodyValues"]:
                assert isinstance(e["bodyValues"][pid]["value"], str)
    assert checked_parts > 100


# -- speed -----------------------------------------------------------------------------------------
@pytest.mark.slow
async def test_query_and_get_over_10000_messages_is_fast(env: Env) -> None:
    n = 10_000
    t = time.perf_counter()
    for start in range(0, n, 1000):
        await env.put_many(
            [
                (
                    msg(
                        f"message {i}",
                        sender=f"user{i % 97}@example.com",
                        msgid=f"{i}@bulk",
                        body=f"body {i}",
                    ),
                    ("inbox",),
                    ("$seen",) if i % 3 else (),
                    T0 + i,
                )  # fmt: skip
                for i in range(start, start + 1000)
            ]
        )
    load = time.perf_counter() - t
    inbox = object_id("mailbox", env.mailboxes["inbox"])
    query = {
        "filter": {"inMailbox": inbox},
        "sort": [{"property": "receivedAt", "isAscending": False}],
        "limit": 50,
        "calculateTotal": True,
    }
    get_props = ["id", "threadId", "mailboxIds", "keywords", "from", "subject", "receivedAt",
                 "size", "preview", "hasAttachment"]  # fmt: skip
    timings = []
    for _ in range(3):
        t = time.perf_counter()
        out = await env.ok("Email/query", query)
        got = await env.ok("Email/get", {"ids": out["ids"], "properties": get_props})
        timings.append(time.perf_counter() - t)
        assert out["total"] == n and len(got["list"]) == 50
        assert got["list"][0]["subject"] == f"message {n - 1}"
    t = time.perf_counter()
    await env.ok("Email/query", {**query, "sort": [{"property": "from"}]})
    from_sort_cold = time.perf_counter() - t
    t = time.perf_counter()
    await env.ok("Email/query", {**query, "sort": [{"property": "from"}]})
    from_sort_warm = time.perf_counter() - t
    await env.put(msg("late arrival", msgid="late@bulk"), received_at=T0 + n)
    t = time.perf_counter()
    out = await env.ok("Email/query", query)
    await env.ok("Email/get", {"ids": out["ids"], "properties": get_props})
    after_delivery = time.perf_counter() - t
    assert out["total"] == n + 1
    t = time.perf_counter()
    boxes = await env.ok("Mailbox/get", {"ids": None})
    mailbox_get = time.perf_counter() - t
    assert next(b for b in boxes["list"] if b["id"] == inbox)["unreadEmails"] == 3335
    print(
        f"\nload {load:.2f}s; query+get cold {timings[0] * 1000:.1f} ms, warm "
        f"{min(timings[1:]) * 1000:.1f} ms; from-sort cold {from_sort_cold * 1000:.0f} ms, "
        f"warm {from_sort_warm * 1000:.1f} ms; after a delivery {after_delivery * 1000:.1f} ms; "
        f"Mailbox/get {mailbox_get * 1000:.1f} ms"
    )
    assert min(timings[1:]) < 0.1
