"""JMAP Mail conformance (RFC 8621) and Quota (RFC 9425) over raw HTTP, method by method.

Uses the raw ``http.client`` :class:`Client` of ``test_jmap_conformance_core.py``; every test
names the RFC section it checks.
"""

from __future__ import annotations

import base64
from typing import Any

from stalwart_py.accounts import Directory
from stalwart_py.server import passwords_for
from tests.e2e.test_jmap_conformance_core import Client, jc

__all__ = ["jc"]


def query_subject(jc: Client, subject: str) -> list[str]:
    ids: list[str] = jc.ok("Email/query", {"filter": {"header": ["Subject", subject]}})["ids"]
    return ids


# -- RFC 8621 §2 Mailbox -----------------------------------------------------------------------
def test_mailbox_get_properties_and_roles(jc: Client) -> None:
    """RFC 8621 §2.1: every Mailbox property, myRights fields, roles unique, counts."""
    out = jc.ok("Mailbox/get", {"ids": None})
    assert isinstance(out["state"], str)
    roles = [m["role"] for m in out["list"] if m["role"]]
    assert "inbox" in roles and len(roles) == len(set(roles))
    for mb in out["list"]:
        assert set(mb) >= {
            "id",
            "name",
            "parentId",
            "role",
            "sortOrder",
            "totalEmails",
            "unreadEmails",
            "totalThreads",
            "unreadThreads",
            "myRights",
            "isSubscribed",
        }
        assert set(mb["myRights"]) == {
            "mayReadItems",
            "mayAddItems",
            "mayRemoveItems",
            "maySetSeen",
            "maySetKeywords",
            "mayCreateChild",
            "mayRename",
            "mayDelete",
            "maySubmit",
        }
    # §2.3 Mailbox/query: filter by role, sortAsTree / filterAsTree, hasAnyRole.
    q = jc.ok("Mailbox/query", {"filter": {"role": "inbox"}})
    assert q["ids"] == [jc.mailbox("inbox")]
    q = jc.ok("Mailbox/query", {"filter": {"hasAnyRole": False}, "sortAsTree": True})
    assert jc.mailbox("inbox") not in q["ids"]


def test_mailbox_set_tree_and_destroy_rules(jc: Client) -> None:
    """RFC 8621 §2.5: a tree in one call, mailboxHasChild, mailboxHasEmail,
    onDestroyRemoveEmails, sibling name clash, moving under a descendant is refused."""
    acct = jc.account_id
    out = jc.api(
        [
            "Mailbox/set",
            {
                "accountId": acct,
                "create": {
                    "leaf": {"name": "tree leaf", "parentId": "#mid"},
                    "mid": {"name": "tree mid", "parentId": "#top"},
                    "top": {"name": "tree top"},
                },
            },
            "a",
        ],
    )["methodResponses"][0][1]
    assert set(out["created"]) == {"top", "mid", "leaf"}, out
    top, mid, leaf = (out["created"][k]["id"] for k in ("top", "mid", "leaf"))
    got = {m["id"]: m for m in jc.ok("Mailbox/get", {"ids": [top, mid, leaf]})["list"]}
    assert got[leaf]["parentId"] == mid and got[mid]["parentId"] == top
    assert got[top]["parentId"] is None
    # Sibling names must be unique (§2: "no two sibling Mailboxes with the same name").
    clash = jc.ok("Mailbox/set", {"create": {"x": {"name": "tree mid", "parentId": top}}})
    assert clash["notCreated"]["x"]["type"] == "alreadyExists"
    assert clash["notCreated"]["x"]["existingId"] == mid
    # Moving a mailbox under its own descendant would make a cycle.
    cyc = jc.ok("Mailbox/set", {"update": {top: {"parentId": leaf}}})
    assert cyc["notUpdated"][top]["type"] == "invalidProperties"
    # A role held by another mailbox.
    dup = jc.ok("Mailbox/set", {"update": {leaf: {"role": "inbox"}}})
    assert dup["notUpdated"][leaf]["type"] == "invalidProperties"
    # mailboxHasChild.
    err = jc.ok("Mailbox/set", {"destroy": [top]})
    assert err["notDestroyed"][top]["type"] == "mailboxHasChild"
    # Put an email only in leaf, and another in leaf and Inbox.
    jc.deliver("only leaf")
    jc.deliver("leaf and inbox")
    only = query_subject(jc, "only leaf")[0]
    both = query_subject(jc, "leaf and inbox")[0]
    inbox = jc.mailbox("inbox")
    moved = jc.ok(
        "Email/set",
        {
            "update": {
                only: {"mailboxIds": {leaf: True}},
                both: {f"mailboxIds/{leaf}": True},
            }
        },
    )
    assert set(moved["updated"]) == {only, both}, moved
    err = jc.ok("Mailbox/set", {"destroy": [leaf]})
    assert err["notDestroyed"][leaf]["type"] == "mailboxHasEmail"
    # onDestroyRemoveEmails: emails only in it are destroyed, others just leave it (§2.5).
    done = jc.ok("Mailbox/set", {"destroy": [leaf, mid, top], "onDestroyRemoveEmails": True})
    assert sorted(done["destroyed"]) == sorted([leaf, mid, top]), done
    left = jc.ok("Email/get", {"ids": [only, both], "properties": ["mailboxIds"]})
    assert left["notFound"] == [only]
    assert left["list"][0]["mailboxIds"] == {inbox: True}


# -- RFC 8621 §3 Thread ------------------------------------------------------------------------
def test_thread_get_and_changes(jc: Client) -> None:
    """RFC 8621 §3.1: a reply joins its parent's thread; emailIds sorted by receivedAt;
    Thread/changes reports the thread."""
    since = jc.state("Thread")
    jc.deliver("thread root", headers="Message-ID: <root-conf@example.net>\r\n")
    ids = query_subject(jc, "thread root")
    root = jc.ok("Email/get", {"ids": ids, "properties": ["threadId", "messageId"]})["list"][0]
    jc.deliver("Re: thread root", headers="In-Reply-To: <root-conf@example.net>\r\n")
    reply_id = query_subject(jc, "Re: thread root")[0]
    reply = jc.ok("Email/get", {"ids": [reply_id], "properties": ["threadId"]})["list"][0]
    assert reply["threadId"] == root["threadId"]
    thread = jc.ok("Thread/get", {"ids": [root["threadId"], "Tnope"]})
    assert thread["list"][0]["emailIds"] == [root["id"], reply_id]
    assert thread["notFound"] == ["Tnope"]
    changes = jc.ok("Thread/changes", {"sinceState": since})
    assert root["threadId"] in changes["created"] + changes["updated"]


# -- RFC 8621 §4.1, §4.2 Email/get -------------------------------------------------------------
HEADERS = (
    'Cc: "Group": a@example.com, "B" <b@example.com>;, c@example.com\r\n'
    "List-Post: <mailto:list@example.com>, <https://example.com/post>\r\n"
    "References: <r1@example.net> <r2@example.net>\r\n"
    "Date: Tue, 02 Jan 2024 10:00:00 +0100\r\n"
    "X-Multi: one\r\n"
    "X-Multi: =?UTF-8?Q?tw=C3=B6?=\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/alternative; boundary="b"\r\n'
)
BODY = (
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "0123456789 plain text body\r\n"
    "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    "<p>html body</p>\r\n"
    "--b--\r\n"
)


def test_email_get_header_forms(jc: Client) -> None:
    """RFC 8621 §4.1.2–§4.1.3: header:{name}:as{Form}[:all] parsed forms, convenience
    properties; an invalid form for a header is invalidArguments (§4.2)."""
    jc.deliver("header forms", body=BODY, headers=HEADERS)
    eid = query_subject(jc, "header forms")[0]
    props = [
        "header:X-Multi",
        "header:X-Multi:all",
        "header:X-Multi:asText:all",
        "header:Cc:asAddresses",
        "header:Cc:asGroupedAddresses",
        "header:References:asMessageIds",
        "header:Date:asDate",
        "header:List-Post:asURLs",
        "header:Subject:asRaw",
        "header:X-Missing",
        "header:X-Missing:all",
        "headers",
        "references",
        "sentAt",
        "cc",
    ]
    e = jc.ok("Email/get", {"ids": [eid], "properties": props})["list"][0]
    assert e["header:X-Multi"] == " =?UTF-8?Q?tw=C3=B6?="  # raw, last instance (§4.1.3)
    assert e["header:X-Multi:all"] == [" one", " =?UTF-8?Q?tw=C3=B6?="]
    assert e["header:X-Multi:asText:all"] == ["one", "twö"]
    assert e["header:Cc:asAddresses"] == [
        {"name": None, "email": "a@example.com"},
        {"name": "B", "email": "b@example.com"},
        {"name": None, "email": "c@example.com"},
    ]
    assert e["header:Cc:asGroupedAddresses"] == [
        {
            "name": "Group",
            "addresses": [
                {"name": None, "email": "a@example.com"},
                {"name": "B", "email": "b@example.com"},
            ],
        },
        {"name": None, "addresses": [{"name": None, "email": "c@example.com"}]},
    ]
    assert e["header:References:asMessageIds"] == ["r1@example.net", "r2@example.net"]
    assert e["references"] == ["r1@example.net", "r2@example.net"]
    assert e["header:Date:asDate"] == "2024-01-02T10:00:00+01:00"
    assert e["sentAt"] == "2024-01-02T10:00:00+01:00"
    assert e["header:List-Post:asURLs"] == [
        "mailto:list@example.com",
        "https://example.com/post",
    ]
    assert e["header:Subject:asRaw"] == " header forms"
    assert e["header:X-Missing"] is None and e["header:X-Missing:all"] == []
    assert {"name": "X-Multi", "value": " one"} in e["headers"]
    assert e["cc"] == e["header:Cc:asAddresses"]
    # §4.1.2: asDate is not allowed for Subject, asAddresses not for X-Multi... only some
    # forms are restricted: Subject may only be Raw or Text.
    for bad in ("header:Subject:asAddresses", "header:From:asDate", "header:X-Multi:asNope"):
        err = jc.error("Email/get", {"ids": [eid], "properties": [bad]})
        assert err["type"] == "invalidArguments", bad


def test_email_get_body_values_and_truncation(jc: Client) -> None:
    """RFC 8621 §4.2: fetchTextBodyValues / fetchHTMLBodyValues / fetchAllBodyValues,
    maxBodyValueBytes truncation (isTruncated, never splitting a UTF-8 character),
    bodyProperties."""
    jc.deliver("body values", body=BODY, headers=HEADERS)
    eid = query_subject(jc, "body values")[0]
    base = {"ids": [eid], "properties": ["textBody", "htmlBody", "bodyValues"]}
    e = jc.ok("Email/get", {**base, "fetchTextBodyValues": True})["list"][0]
    text_part = e["textBody"][0]["partId"]
    html_part = e["htmlBody"][0]["partId"]
    assert set(e["bodyValues"]) == {text_part}
    value = e["bodyValues"][text_part]
    assert value["value"].startswith("0123456789 plain text body")
    assert value["isTruncated"] is False and value["isEncodingProblem"] is False
    e = jc.ok("Email/get", {**base, "fetchHTMLBodyValues": True})["list"][0]
    assert set(e["bodyValues"]) == {html_part}
    e = jc.ok("Email/get", {**base, "fetchAllBodyValues": True, "maxBodyValueBytes": 4})
    values = e["list"][0]["bodyValues"]
    assert values[text_part] == {"value": "0123", "isTruncated": True, "isEncodingProblem": False}
    assert values[html_part]["isTruncated"] is True
    # Not splitting a multi-byte character (§4.2 maxBodyValueBytes).
    jc.deliver(
        "utf8 trunc",
        body="aé€\r\n",
        headers="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n",
    )
    uid = query_subject(jc, "utf8 trunc")[0]
    e = jc.ok(
        "Email/get",
        {
            "ids": [uid],
            "properties": ["bodyValues", "textBody"],
            "fetchTextBodyValues": True,
            "maxBodyValueBytes": 4,
        },
    )["list"][0]
    part = e["textBody"][0]["partId"]
    assert e["bodyValues"][part]["value"] == "aé"
    assert e["bodyValues"][part]["isTruncated"] is True
    # bodyProperties restricts EmailBodyPart properties.
    e = jc.ok(
        "Email/get",
        {"ids": [eid], "properties": ["textBody"], "bodyProperties": ["partId", "type"]},
    )["list"][0]
    assert set(e["textBody"][0]) == {"partId", "type"}
    assert e["textBody"][0]["type"] == "text/plain"
    err = jc.error("Email/get", {"ids": [eid], "maxBodyValueBytes": -1})
    assert err["type"] == "invalidArguments"
    err = jc.error("Email/get", {"ids": [eid], "bodyProperties": ["nope"]})
    assert err["type"] == "invalidArguments"


# -- RFC 8621 §4.3–§4.5 -------------------------------------------------------------------------
def test_email_changes_and_query_changes_collapse(jc: Client) -> None:
    """RFC 8621 §4.3 Email/changes after keyword updates and destroy; §4.4 Email/query
    collapseThreads and filters; §4.5 Email/queryChanges with collapseThreads."""
    jc.deliver("changes a")
    eid = query_subject(jc, "changes a")[0]
    since = jc.state("Email")
    jc.ok("Email/set", {"update": {eid: {"keywords/$seen": True}}})
    out = jc.ok("Email/changes", {"sinceState": since})
    assert out["updated"] == [eid] and out["created"] == [] and out["destroyed"] == []
    q = jc.ok("Email/query", {"filter": {"hasKeyword": "$seen"}})
    assert eid in q["ids"]
    q = jc.ok("Email/query", {"filter": {"notKeyword": "$seen"}})
    assert eid not in q["ids"]
    thread = jc.ok("Email/get", {"ids": [eid], "properties": ["threadId"]})["list"][0]["threadId"]
    thread_since = jc.state("Thread")
    jc.ok("Email/set", {"destroy": [eid]})
    out = jc.ok("Email/changes", {"sinceState": since})
    assert out["destroyed"] == [eid] and out["updated"] == []
    # §3: a thread whose last email goes is destroyed.
    assert jc.ok("Thread/changes", {"sinceState": thread_since})["destroyed"] == [thread]
    q = jc.ok("Email/query", {"collapseThreads": True, "calculateTotal": True})
    threads = jc.ok("Email/get", {"ids": q["ids"], "properties": ["threadId"]})["list"]
    assert len({t["threadId"] for t in threads}) == len(threads)


def test_email_set_create_with_attachment(jc: Client) -> None:
    """RFC 8621 §4.6: create from bodyStructure-less form (textBody/htmlBody/attachments) with
    an uploaded blob; the result's blobId, size, threadId; the attachment downloads; keywords
    and mailboxIds; SetErrors blobNotFound, invalidProperties (server-set, no mailbox),
    tooManyKeywords."""
    drafts = jc.mailbox("drafts")
    up = jc.upload(b"%PDF-1.4 conformance", "application/pdf")
    out = jc.ok(
        "Email/set",
        {
            "create": {
                "d": {
                    "mailboxIds": {drafts: True},
                    "keywords": {"$draft": True, "$seen": True},
                    "from": [{"name": "Me", "email": jc.user}],
                    "to": [{"name": None, "email": "friend@example.net"}],
                    "subject": "with attachment ü",
                    "bodyValues": {
                        "t": {"value": "Hello text"},
                        "h": {"value": "<p>Hello html</p>"},
                    },
                    "textBody": [{"partId": "t", "type": "text/plain"}],
                    "htmlBody": [{"partId": "h", "type": "text/html"}],
                    "attachments": [
                        {
                            "blobId": up["blobId"],
                            "type": "application/pdf",
                            "name": "doc.pdf",
                            "disposition": "attachment",
                        }
                    ],
                },
                "nob": {
                    "mailboxIds": {drafts: True},
                    "attachments": [{"blobId": "Bnothere", "type": "text/plain"}],
                },
                "srv": {"mailboxIds": {drafts: True}, "size": 5},
                "nomb": {"mailboxIds": {}, "subject": "x"},
                "kw": {
                    "mailboxIds": {drafts: True},
                    "keywords": {f"k{i}": True for i in range(200)},
                },
            }
        },
    )
    created = out["created"]["d"]
    assert set(created) >= {"id", "blobId", "threadId", "size"}
    nc = out["notCreated"]
    assert nc["nob"]["type"] == "blobNotFound" and nc["nob"]["notFound"] == ["Bnothere"]
    assert nc["srv"]["type"] == "invalidProperties" and "size" in nc["srv"]["properties"]
    assert nc["nomb"]["type"] == "invalidProperties"
    assert nc["kw"]["type"] == "tooManyKeywords"
    e = jc.ok(
        "Email/get",
        {
            "ids": [created["id"]],
            "properties": [
                "subject",
                "attachments",
                "hasAttachment",
                "keywords",
                "mailboxIds",
                "size",
                "bodyValues",
                "textBody",
            ],
            "fetchTextBodyValues": True,
        },
    )["list"][0]
    assert e["subject"] == "with attachment ü"
    assert e["hasAttachment"] is True
    assert e["keywords"] == {"$draft": True, "$seen": True}
    assert e["mailboxIds"] == {drafts: True}
    assert e["size"] == created["size"]
    att = e["attachments"][0]
    assert att["name"] == "doc.pdf" and att["type"] == "application/pdf"
    assert att["size"] == len(b"%PDF-1.4 conformance")
    text_part = e["textBody"][0]["partId"]
    assert e["bodyValues"][text_part]["value"] == "Hello text"
    dl = jc.request(
        "GET", f"/jmap/download/{jc.account_id}/{att['blobId']}/doc.pdf?accept=application/pdf"
    )
    assert dl.status == 200 and dl.body == b"%PDF-1.4 conformance"
    raw = jc.request(
        "GET", f"/jmap/download/{jc.account_id}/{created['blobId']}/m.eml?accept=message/rfc822"
    )
    assert raw.status == 200 and b"Subject: =?" in raw.body and b"multipart/mixed" in raw.body
    # Immutable after creation (§4.6: only mailboxIds and keywords may be updated).
    err = jc.ok("Email/set", {"update": {created["id"]: {"subject": "new"}}})
    assert err["notUpdated"][created["id"]]["type"] == "invalidProperties"
    jc.ok("Email/set", {"destroy": [created["id"]]})


def test_email_import_copy_parse(jc: Client) -> None:
    """RFC 8621 §4.8 Email/import (unknown blob: invalidProperties), §4.7 Email/copy
    (fromAccountNotFound), §4.9 Email/parse (parsed, notParsable, notFound)."""
    inbox = jc.mailbox("inbox")
    raw = b"From: a@example.net\r\nSubject: imported\r\nMessage-ID: <imp@x>\r\n\r\nbody\r\n"
    blob = jc.upload(raw, "message/rfc822")["blobId"]
    state = jc.state("Email")
    out = jc.ok(
        "Email/import",
        {
            "ifInState": state,
            "emails": {
                "i": {
                    "blobId": blob,
                    "mailboxIds": {inbox: True},
                    "keywords": {"$seen": True},
                    "receivedAt": "2023-05-06T07:08:09Z",
                },
                "missing": {"blobId": "Bnothere", "mailboxIds": {inbox: True}},
                "nomb": {"blobId": blob, "mailboxIds": {"Mnope": True}},
            },
        },
    )
    assert out["oldState"] == state and out["newState"] != state
    imported = out["created"]["i"]
    assert set(imported) >= {"id", "blobId", "threadId", "size"}
    # RFC 8621 §4.8: an unknown blobId is invalidProperties naming blobId.
    assert out["notCreated"]["missing"]["type"] == "invalidProperties"
    assert out["notCreated"]["missing"]["properties"] == ["blobId"]
    assert out["notCreated"]["nomb"]["type"] == "invalidProperties"
    e = jc.ok("Email/get", {"ids": [imported["id"]], "properties": ["receivedAt", "subject"]})
    assert e["list"][0]["receivedAt"] == "2023-05-06T07:08:09Z"
    err = jc.error("Email/import", {"ifInState": "1", "emails": {}})
    assert err["type"] == "stateMismatch"
    got, err = jc.call(
        "Email/copy",
        {"fromAccountId": "a999999", "create": {"c": {"id": imported["id"], "mailboxIds": {}}}},
    )
    assert got == "error" and err["type"] == "fromAccountNotFound"
    parsed = jc.ok(
        "Email/parse",
        {"blobIds": [blob, "Bnothere"], "properties": ["subject", "messageId"]},
    )
    assert parsed["parsed"][blob] == {"subject": "imported", "messageId": ["imp@x"]}
    assert parsed["notFound"] == ["Bnothere"]


def test_search_snippet_get(jc: Client) -> None:
    """RFC 8621 §5.1: SearchSnippet/get highlights matches; notFound for unknown ids."""
    jc.deliver("snippet zebracorn", body="the zebracorn runs fast\r\n")
    eid = query_subject(jc, "snippet zebracorn")[0]
    out = jc.ok(
        "SearchSnippet/get",
        {"emailIds": [eid, "Mnothere"], "filter": {"text": "zebracorn"}},
    )
    snip = out["list"][0]
    assert snip["emailId"] == eid
    assert "<mark>zebracorn</mark>" in (snip["subject"] or "")
    assert "<mark>zebracorn</mark>" in (snip["preview"] or "")
    assert out["notFound"] == ["Mnothere"]
    err = jc.error("SearchSnippet/get", {"emailIds": [eid], "filter": {"nope": 1}})
    assert err["type"] == "unsupportedFilter"
    limit = jc.session["capabilities"]["urn:ietf:params:jmap:core"]["maxObjectsInGet"]
    many = [f"M{i}" for i in range(limit + 1)]
    err = jc.error("SearchSnippet/get", {"emailIds": many, "filter": {"text": "x"}})
    assert err["type"] == "requestTooLarge"


# -- RFC 8621 §6 Identity, §7 EmailSubmission, §8 VacationResponse ------------------------------
def test_identity_get_set(jc: Client) -> None:
    """RFC 8621 §6: a default identity exists; create/update/destroy; forbiddenFrom for an
    address the user may not use; email is immutable."""
    out = jc.ok("Identity/get", {"ids": None})
    assert any(i["email"] == jc.user for i in out["list"])
    for ident in out["list"]:
        assert set(ident) >= {
            "id",
            "name",
            "email",
            "replyTo",
            "bcc",
            "textSignature",
            "htmlSignature",
            "mayDelete",
        }
    made = jc.ok(
        "Identity/set",
        {
            "create": {
                "n": {"name": "Conf", "email": jc.user, "textSignature": "-- c"},
                "bad": {"name": "Evil", "email": "ceo@elsewhere.example"},
            }
        },
    )
    new_id = made["created"]["n"]["id"]
    assert made["notCreated"]["bad"]["type"] == "forbiddenFrom"
    upd = jc.ok(
        "Identity/set",
        {"update": {new_id: {"name": "Conf 2"}}, "destroy": []},
    )
    assert new_id in upd["updated"]
    imm = jc.ok("Identity/set", {"update": {new_id: {"email": "other@example.org"}}})
    assert imm["notUpdated"][new_id]["type"] == "invalidProperties"
    got = jc.ok("Identity/get", {"ids": [new_id]})["list"][0]
    assert got["name"] == "Conf 2" and got["textSignature"] == "-- c"
    gone = jc.ok("Identity/set", {"destroy": [new_id]})
    assert gone["destroyed"] == [new_id]
    default = next(i for i in out["list"] if not i["mayDelete"])
    kept = jc.ok("Identity/set", {"destroy": [default["id"]]})
    assert kept["notDestroyed"][default["id"]]["type"] == "forbidden"


def test_email_submission_on_success_update_and_destroy(jc: Client) -> None:
    """RFC 8621 §7.5: EmailSubmission/set with onSuccessUpdateEmail (``#creationId`` keys)
    moving the draft to Sent, and onSuccessDestroyEmail; the implicit Email/set response
    follows; SetErrors for an unknown identity, no recipients, an unknown email."""
    drafts, sent = jc.mailbox("drafts"), jc.mailbox("sent")
    identity = next(
        i["id"] for i in jc.ok("Identity/get", {"ids": None})["list"] if i["email"] == jc.user
    )
    acct = jc.account_id

    def draft(subject: str, to: str) -> dict[str, Any]:
        return {
            "mailboxIds": {drafts: True},
            "keywords": {"$draft": True},
            "from": [{"email": jc.user}],
            "to": [{"email": to}],
            "subject": subject,
            "bodyValues": {"b": {"value": "sent by submission"}},
            "textBody": [{"partId": "b", "type": "text/plain"}],
        }

    out = jc.api(
        ["Email/set", {"accountId": acct, "create": {"m": draft("to myself sub", jc.user)}}, "e"],
        [
            "EmailSubmission/set",
            {
                "accountId": acct,
                "create": {"s": {"identityId": identity, "emailId": "#m"}},
                "onSuccessUpdateEmail": {
                    "#s": {
                        f"mailboxIds/{drafts}": None,
                        f"mailboxIds/{sent}": True,
                        "keywords/$draft": None,
                    }
                },
            },
            "s",
        ],
    )["methodResponses"]
    assert [r[0] for r in out] == ["Email/set", "EmailSubmission/set", "Email/set"], out
    email_id = out[0][1]["created"]["m"]["id"]
    sub = out[1][1]["created"]["s"]
    assert set(sub) >= {"id"}
    assert out[2][1]["updated"] == {email_id: None}
    e = jc.ok("Email/get", {"ids": [email_id], "properties": ["mailboxIds", "keywords"]})
    assert e["list"][0]["mailboxIds"] == {sent: True}
    assert "$draft" not in e["list"][0]["keywords"]
    got = jc.ok("EmailSubmission/get", {"ids": [sub["id"]]})["list"][0]
    assert got["emailId"] == email_id and got["identityId"] == identity
    assert got["undoStatus"] == "final"
    assert got["envelope"]["rcptTo"][0]["email"] == jc.user
    assert got["deliveryStatus"][jc.user]["delivered"] == "yes"
    # The local recipient got a copy in the Inbox.
    assert len(query_subject(jc, "to myself sub")) == 2
    # onSuccessDestroyEmail.
    out = jc.api(
        ["Email/set", {"accountId": acct, "create": {"m": draft("destroy after", jc.user)}}, "e"],
        [
            "EmailSubmission/set",
            {
                "accountId": acct,
                "create": {"s": {"identityId": identity, "emailId": "#m"}},
                "onSuccessDestroyEmail": ["#s"],
            },
            "s",
        ],
    )["methodResponses"]
    destroyed_id = out[0][1]["created"]["m"]["id"]
    assert out[2][0] == "Email/set" and out[2][1]["destroyed"] == [destroyed_id]
    # SetErrors.
    out = jc.api(
        ["Email/set", {"accountId": acct, "create": {"m": draft("no rcpt", jc.user)}}, "e"],
        [
            "EmailSubmission/set",
            {
                "accountId": acct,
                "create": {
                    "badid": {"identityId": "Inope", "emailId": "#m"},
                    "norcpt": {
                        "identityId": identity,
                        "emailId": "#m",
                        "envelope": {"mailFrom": {"email": jc.user}, "rcptTo": []},
                    },
                    "noemail": {"identityId": identity, "emailId": "Mnothere"},
                },
            },
            "s",
        ],
    )["methodResponses"]
    nc = out[1][1]["notCreated"]
    assert nc["badid"]["type"] == "invalidProperties"
    assert nc["norcpt"]["type"] == "noRecipients"
    assert nc["noemail"]["type"] == "invalidProperties"
    # §7.5: undoStatus canceled on a final submission is cannotUnsend.
    cancel = jc.ok("EmailSubmission/set", {"update": {sub["id"]: {"undoStatus": "canceled"}}})
    assert cancel["notUpdated"][sub["id"]]["type"] == "cannotUnsend"
    q = jc.ok("EmailSubmission/query", {"filter": {"emailIds": [email_id]}})
    assert q["ids"] == [sub["id"]]


def test_vacation_response(jc: Client) -> None:
    """RFC 8621 §8: the singleton; get/set; create/destroy are ``singleton`` errors;
    invalid dates are invalidProperties."""
    out = jc.ok("VacationResponse/get", {"ids": None})
    assert out["list"][0]["id"] == "singleton"
    assert set(out["list"][0]) >= {
        "id",
        "isEnabled",
        "fromDate",
        "toDate",
        "subject",
        "textBody",
        "htmlBody",
    }
    state = out["state"]
    res = jc.ok(
        "VacationResponse/set",
        {
            "ifInState": state,
            "update": {
                "singleton": {
                    "isEnabled": True,
                    "subject": "Away",
                    "textBody": "back soon",
                    "fromDate": "2024-01-01T00:00:00Z",
                }
            },
            "create": {"x": {"isEnabled": False}},
            "destroy": ["singleton"],
        },
    )
    assert res["updated"] == {"singleton": None}
    assert res["notCreated"]["x"]["type"] == "singleton"
    assert res["notDestroyed"]["singleton"]["type"] == "singleton"
    assert res["oldState"] == state and res["newState"] != state
    got = jc.ok("VacationResponse/get", {"ids": ["singleton", "other"]})
    assert got["list"][0]["subject"] == "Away" and got["list"][0]["isEnabled"] is True
    assert got["notFound"] == ["other"]
    bad = jc.ok("VacationResponse/set", {"update": {"singleton": {"fromDate": "yesterday"}}})
    assert bad["notUpdated"]["singleton"]["type"] == "invalidProperties"
    jc.ok("VacationResponse/set", {"update": {"singleton": {"isEnabled": False}}})


# -- RFC 9425 Quota ----------------------------------------------------------------------------
def test_quota_methods(jc: Client) -> None:
    """RFC 9425 §4: Quota/get properties, Quota/query filters and sort, Quota/changes,
    Quota/queryChanges."""
    before = jc.ok("Quota/get", {"ids": None})
    if not before["list"]:
        # No limit, no quota object; giving the account a limit creates it (§4.2).
        Directory(jc.srv.store, passwords_for(jc.srv.cfg)).set_quota(jc.user, 100 * 2**20)
        created = jc.ok("Quota/changes", {"sinceState": before["state"]})
        assert created["created"] == ["mail"], created
    out = jc.ok("Quota/get", {"ids": None})
    assert out["list"], out
    quota = out["list"][0]
    assert set(quota) >= {
        "id",
        "resourceType",
        "used",
        "hardLimit",
        "scope",
        "name",
        "types",
    }
    assert quota["resourceType"] in ("count", "octets")
    assert quota["scope"] in ("account", "domain", "global")
    assert "Mail" in quota["types"]
    q = jc.ok("Quota/query", {"filter": {"resourceType": quota["resourceType"]}})
    assert quota["id"] in q["ids"]
    q2 = jc.ok("Quota/query", {"filter": {"scope": "nope"}})
    assert q2["ids"] == []
    err = jc.error("Quota/query", {"filter": {"nope": 1}})
    assert err["type"] == "unsupportedFilter"
    err = jc.error("Quota/query", {"sort": [{"property": "nope"}]})
    assert err["type"] == "unsupportedSort"
    since = out["state"]
    used = quota["used"]
    jc.deliver("quota grows", body="x" * 5000 + "\r\n")
    changes = jc.ok("Quota/changes", {"sinceState": since})
    octets = [x for x in out["list"] if x["resourceType"] == "octets"]
    if octets:
        assert octets[0]["id"] in changes["updated"]
        again = jc.ok("Quota/get", {"ids": [octets[0]["id"]]})["list"][0]
        assert again["used"] > octets[0]["used"]
    else:
        assert changes["newState"] != since or used == quota["used"]
    qc = jc.ok("Quota/queryChanges", {"sinceQueryState": q["queryState"]})
    assert qc["oldQueryState"] == q["queryState"]
    assert jc.error("Quota/get", {"properties": ["nope"]})["type"] == "invalidArguments"


def test_download_of_text_part_blob(jc: Client) -> None:
    """RFC 8620 §6.2 with RFC 8621 §4.1.4 blobId of a body part: the decoded content."""
    jc.deliver(
        "part blob",
        body="--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"decoded part").decode()
        + "\r\n--b--\r\n",
        headers='MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
    )
    eid = query_subject(jc, "part blob")[0]
    e = jc.ok("Email/get", {"ids": [eid], "properties": ["textBody"]})["list"][0]
    blob = e["textBody"][0]["blobId"]
    dl = jc.request("GET", f"/jmap/download/{jc.account_id}/{blob}/p.txt?accept=text/plain")
    assert dl.status == 200 and dl.body == b"decoded part"


def test_email_set_will_destroy_and_invalid_patch(jc: Client) -> None:
    """RFC 8620 §5.3 on Email/set (RFC 8621 §4.6): update+destroy of one email is willDestroy
    and the destroy happens; a patch path below a keyword is invalidPatch; keywords and
    mailboxIds set whole and by member in one patch is invalidPatch."""
    jc.deliver("will destroy")
    jc.deliver("patch paths")
    doomed = query_subject(jc, "will destroy")[0]
    other = query_subject(jc, "patch paths")[0]
    out = jc.ok(
        "Email/set",
        {"update": {doomed: {"keywords/$seen": True}}, "destroy": [doomed]},
    )
    assert out["notUpdated"][doomed]["type"] == "willDestroy"
    assert out["destroyed"] == [doomed]
    out = jc.ok(
        "Email/set",
        {
            "update": {
                other: {"keywords/$seen/deeper": True},
            }
        },
    )
    assert out["notUpdated"][other]["type"] == "invalidPatch"
    out = jc.ok(
        "Email/set",
        {"update": {other: {"keywords": {"$seen": True}, "keywords/$flagged": True}}},
    )
    assert out["notUpdated"][other]["type"] == "invalidPatch"
    # Identity/set follows the same rule.
    made = jc.ok("Identity/set", {"create": {"i": {"name": "wd", "email": jc.user}}})
    iid = made["created"]["i"]["id"]
    out = jc.ok("Identity/set", {"update": {iid: {"name": "x"}}, "destroy": [iid]})
    assert out["notUpdated"][iid]["type"] == "willDestroy" and out["destroyed"] == [iid]
