"""JMAP Mail rules clients trip over, end to end against the real server: raw JSON over
``http.client`` for the error cases, the jmapc client library where a real client's view
matters.  Each test names the RFC section it checks.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

from jmapc.methods import EmailGet

from tests.e2e.test_jmap_conformance_core import Client, jc
from tests.e2e.test_jmap_mail import jmapc_client

__all__ = ["jc"]  # the module-scoped server fixture (one server for this module)

MIXED = (
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n',
    "--XX\r\n"
    'Content-Type: multipart/alternative; boundary="YY"\r\n'
    "\r\n"
    "--YY\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "line one\r\nline two\r\n"
    "--YY\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    '<p>ab</p>\r\n<a href="https://example.com/">c</a>\r\n'
    "--YY--\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    'Content-Disposition: attachment; filename="notes.txt"\r\n'
    "\r\n"
    "att one\r\natt two\r\n"
    "--XX--\r\n",
)


_SERIAL = itertools.count(1)


def delivered(jc: Client, subject: str, body: str, headers: str) -> str:
    """Delivers a message over LMTP (its subject made unique) and returns its Email id."""
    subject = f"{subject} n{next(_SERIAL)}z"
    jc.deliver(subject, body=body, headers=headers)
    out = jc.ok("Email/query", {"filter": {"subject": subject}})
    assert len(out["ids"]) == 1, out
    return str(out["ids"][0])


def mixed_email(jc: Client) -> str:
    return delivered(jc, "mixed rules", MIXED[1], MIXED[0])


def get_one(jc: Client, eid: str, **args: Any) -> dict[str, Any]:
    out = jc.ok("Email/get", {"ids": [eid], **args})
    return dict(out["list"][0])


# -- RFC 8621 §4.1.4 bodyValues: CRLF becomes LF ------------------------------------------------
def test_body_values_replace_every_crlf_with_lf(jc: Client) -> None:
    """RFC 8621 §4.1.4 EmailBodyValue value: "with any CRLF replaced with a single LF", for
    text/plain and text/html values, through fetchTextBodyValues, fetchHTMLBodyValues and
    fetchAllBodyValues (§4.2: "any text/* part in the bodyStructure", the attachment too)."""
    eid = mixed_email(jc)
    props = ["textBody", "htmlBody", "attachments", "bodyValues"]
    e = get_one(jc, eid, properties=props)
    assert e["bodyValues"] == {}  # nothing fetched unless asked
    text_id = e["textBody"][0]["partId"]
    html_id = e["htmlBody"][0]["partId"]
    att_id = e["attachments"][0]["partId"]
    text = get_one(jc, eid, properties=props, fetchTextBodyValues=True)["bodyValues"]
    assert text == {
        text_id: {"value": "line one\nline two", "isEncodingProblem": False, "isTruncated": False}
    }
    html = get_one(jc, eid, properties=props, fetchHTMLBodyValues=True)["bodyValues"]
    assert set(html) == {html_id}
    assert html[html_id]["value"] == '<p>ab</p>\n<a href="https://example.com/">c</a>'
    every = get_one(jc, eid, properties=props, fetchAllBodyValues=True)["bodyValues"]
    assert set(every) == {text_id, html_id, att_id}
    assert every[att_id]["value"] == "att one\natt two"
    assert not any("\r" in v["value"] for v in every.values())
    # Email/parse renders body values the same way (§4.9).
    blob = jc.ok("Email/get", {"ids": [eid], "properties": ["blobId"]})["list"][0]["blobId"]
    parsed = jc.ok(
        "Email/parse", {"blobIds": [blob], "properties": ["bodyValues"], "fetchAllBodyValues": True}
    )["parsed"][blob]
    assert parsed["bodyValues"] == every


def test_max_body_value_bytes_counts_the_lf_value(jc: Client) -> None:
    """RFC 8621 §4.2 maxBodyValueBytes: the *value* (CRLF already replaced) "MUST be truncated
    if necessary so it does not exceed this number of octets"; isTruncated only when it was;
    never mid-codepoint; and for text/html not inside a tag (SHOULD NOT)."""
    eid = mixed_email(jc)
    base = {"properties": ["textBody", "htmlBody", "bodyValues"], "fetchAllBodyValues": True}
    e = get_one(jc, eid, **base, maxBodyValueBytes=17)  # "line one\nline two" is 17 octets
    text_id = e["textBody"][0]["partId"]
    assert e["bodyValues"][text_id] == {
        "value": "line one\nline two",
        "isEncodingProblem": False,
        "isTruncated": False,
    }
    cut = get_one(jc, eid, **base, maxBodyValueBytes=10)["bodyValues"][text_id]
    assert cut == {"value": "line one\nl", "isEncodingProblem": False, "isTruncated": True}
    # text/html: 20 octets end inside '<a href=...>': the cut goes back before the tag.
    html_id = e["htmlBody"][0]["partId"]
    html = get_one(jc, eid, **base, maxBodyValueBytes=20)["bodyValues"][html_id]
    assert html == {"value": "<p>ab</p>\n", "isEncodingProblem": False, "isTruncated": True}
    # UTF-8: "é\né\n" is 6 octets; 4 would split the second é.
    uid = delivered(
        jc,
        "utf8 lf",
        "\u00e9\r\n\u00e9\r\n",
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n",
    )
    args = {"properties": ["textBody", "bodyValues"], "fetchTextBodyValues": True}
    one = get_one(jc, uid, **args, maxBodyValueBytes=4)
    part = one["textBody"][0]["partId"]
    assert one["bodyValues"][part]["value"] == "\u00e9\n"
    assert one["bodyValues"][part]["isTruncated"] is True
    whole = get_one(jc, uid, **args, maxBodyValueBytes=6)["bodyValues"][part]
    assert whole == {"value": "\u00e9\n\u00e9\n", "isEncodingProblem": False, "isTruncated": False}


# -- RFC 8621 §4.1.4 bodyStructure: the whole tree -----------------------------------------------
def test_body_structure_is_the_whole_tree_with_default_body_properties(jc: Client) -> None:
    """RFC 8621 §4.1.4 bodyStructure is "the full MIME structure": multipart parts carry their
    subParts even with the default bodyProperties (§4.2's list lacks subParts); leaves don't."""
    eid = mixed_email(jc)
    root = get_one(jc, eid, properties=["bodyStructure"])["bodyStructure"]
    assert root["type"] == "multipart/mixed"
    alternative, attachment = root["subParts"]
    assert alternative["type"] == "multipart/alternative"
    assert [p["type"] for p in alternative["subParts"]] == ["text/plain", "text/html"]
    assert "subParts" not in attachment and attachment["name"] == "notes.txt"
    # Asked for explicitly, leaves say null (as before).
    root = get_one(jc, eid, properties=["bodyStructure"], bodyProperties=["type", "subParts"])[
        "bodyStructure"
    ]
    assert root["subParts"][1] == {"type": "text/plain", "subParts": None}


def test_body_structure_tree_through_jmapc(jc: Client) -> None:
    """RFC 8621 §4.1.4 as a real client sees it: jmapc's Email/get of bodyStructure, default
    bodyProperties, yields the nested parts."""
    eid = mixed_email(jc)
    client = jmapc_client(jc.ports["https"], jc.user, jc.password)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result: Any = client.request(
            EmailGet(ids=[eid], properties=["bodyStructure"]),
            raise_errors=True,
            single_response=True,
        )
    root = result.data[0].body_structure
    assert root.type == "multipart/mixed"
    assert [p.type for p in root.sub_parts] == ["multipart/alternative", "text/plain"]
    assert [p.type for p in root.sub_parts[0].sub_parts] == ["text/plain", "text/html"]


# -- RFC 8621 §4.8 Email/import: blobId errors ----------------------------------------------------
def test_email_import_unknown_blob_is_invalid_properties(jc: Client) -> None:
    """RFC 8621 §4.8: "If the blobId, mailboxIds, or keywords properties are invalid (e.g.,
    missing, wrong type, id not found), the server MUST reject the import with an
    invalidProperties SetError"; a blob that exists but is no RFC 5322 message gets
    invalidEmail ("the server MAY reject the import with an invalidEmail SetError")."""
    inbox = jc.mailbox("inbox")
    garbage = jc.upload(b"\x00\x01\x02 no header here \xff\r\n")["blobId"]
    out = jc.ok(
        "Email/import",
        {
            "emails": {
                "gone": {"blobId": "b" + "0" * 64, "mailboxIds": {inbox: True}},
                "junk": {"blobId": garbage, "mailboxIds": {inbox: True}},
                "both": {"blobId": "b" + "1" * 64, "mailboxIds": {"nope": True}},
            }
        },
    )
    failed = out["notCreated"]
    assert failed["gone"]["type"] == "invalidProperties"
    assert failed["gone"]["properties"] == ["blobId"]
    assert failed["junk"]["type"] == "invalidEmail"
    assert failed["both"]["type"] == "invalidProperties"
    assert sorted(failed["both"]["properties"]) == ["blobId", "mailboxIds/nope"]
    assert out["created"] is None


# -- RFC 8620 §5.3: every invalid property, by path ------------------------------------------------
def test_email_set_create_lists_every_invalid_property_by_path(jc: Client) -> None:
    """RFC 8620 §5.3 invalidProperties: the SetError "SHOULD also have a property called
    properties ... that lists *all* the properties that were invalid", each pointing at the
    offending sub-property (RFC 8621 §4.6 rules: no Content-Transfer-Encoding, no size with a
    partId; mailboxIds members; keywords members; server-set properties)."""
    drafts = jc.mailbox("drafts")
    out = jc.ok(
        "Email/set",
        {
            "create": {
                "bad": {
                    "id": "e999",
                    "mailboxIds": {drafts: True, "xyz": True},
                    "keywords": {"$seen": True, "a b": True},
                    "subject": 7,
                    "bodyStructure": {
                        "type": "text/plain",
                        "partId": "1",
                        "size": 4,
                        "header:Content-Transfer-Encoding": " base64",
                    },
                    "bodyValues": {"1": {"value": "text"}},
                }
            }
        },
    )
    error = out["notCreated"]["bad"]
    assert error["type"] == "invalidProperties"
    assert sorted(error["properties"]) == sorted(
        [
            "id",
            "mailboxIds/xyz",
            "keywords/a b",
            "subject",
            "bodyStructure/size",
            "bodyStructure/header:Content-Transfer-Encoding",
        ]
    )
    assert out["created"] is None
    # Nested parts are named by their place in the tree.
    out = jc.ok(
        "Email/set",
        {
            "create": {
                "deep": {
                    "mailboxIds": {drafts: True},
                    "bodyStructure": {
                        "type": "multipart/mixed",
                        "subParts": [
                            {"partId": "1", "charset": "utf-8"},
                            {"blobId": 5, "disposition": "not a token"},
                        ],
                    },
                    "bodyValues": {"1": {"value": "x", "isTruncated": True}},
                }
            }
        },
    )
    assert sorted(out["notCreated"]["deep"]["properties"]) == [
        "bodyStructure/subParts/0/charset",
        "bodyStructure/subParts/1/blobId",
        "bodyStructure/subParts/1/disposition",
        "bodyValues/1/isTruncated",
    ]


# -- RFC 8621 §2 / RFC 8620 §5.3: a sibling with the same name is alreadyExists ------------------
def test_mailbox_sibling_name_clash_is_already_exists_with_existing_id(jc: Client) -> None:
    """RFC 8621 §2 ("There MUST NOT be two sibling Mailboxes with both the same parent and the
    same name") answered with RFC 8620 §5.3 alreadyExists, whose existingId "MUST be
    included": on create (against a stored sibling and against another create of the same
    call), on rename, and on a move under a parent that has a child of that name.  Same name
    means equal after NFC and case folding; the same name under another parent is fine."""
    made = jc.ok(
        "Mailbox/set",
        {
            "create": {
                "p": {"name": "Projects"},
                "w": {"name": "Work", "parentId": "#p"},
                "o": {"name": "Other"},
                "x": {"name": "Work"},  # top level: another parent, allowed
            }
        },
    )["created"]
    projects, work, other = (made[k]["id"] for k in ("p", "w", "o"))
    out = jc.ok(
        "Mailbox/set",
        {
            "create": {
                "same": {"name": "Work", "parentId": projects},
                "case": {"name": "wORK", "parentId": projects},
                "nfc": {"name": "Cafe\u0301", "parentId": projects},
                "nfc2": {"name": "caf\u00e9", "parentId": projects},
            }
        },
    )
    failed = out["notCreated"]
    for key in ("same", "case"):
        assert failed[key]["type"] == "alreadyExists", failed[key]
        assert failed[key]["existingId"] == work
    # Two creates of one call with the same name: the second names the first.
    assert set(out["created"]) | set(failed) == {"same", "case", "nfc", "nfc2"}
    first, second = ("nfc", "nfc2") if "nfc" in out["created"] else ("nfc2", "nfc")
    assert failed[second]["type"] == "alreadyExists"
    assert failed[second]["existingId"] == out["created"][first]["id"]
    # Update: rename onto a sibling, and move next to a child of the same name.
    jc.ok("Mailbox/set", {"update": {other: {"parentId": projects}}})
    out = jc.ok(
        "Mailbox/set",
        {"update": {other: {"name": "WORK"}}},
    )
    assert out["notUpdated"][other]["type"] == "alreadyExists"
    assert out["notUpdated"][other]["existingId"] == work
    top_work = made["x"]["id"]
    out = jc.ok("Mailbox/set", {"update": {top_work: {"parentId": projects}}})
    assert out["notUpdated"][top_work] == {
        "type": "alreadyExists",
        "description": "A sibling mailbox is already named 'Work'.",
        "existingId": work,
    }
    # Renaming a mailbox to its own name in another case is no clash with itself.
    assert jc.ok("Mailbox/set", {"update": {work: {"name": "WORK"}}})["updated"] == {work: None}


def test_mailbox_set_lists_every_invalid_property(jc: Client) -> None:
    """RFC 8620 §5.3: the invalidProperties SetError of Mailbox/set lists all invalid
    properties of the object, not only the first."""
    out = jc.ok(
        "Mailbox/set",
        {
            "create": {
                "bad": {
                    "name": "a/b",
                    "sortOrder": -1,
                    "isSubscribed": "yes",
                    "role": "bogus",
                    "totalEmails": 3,
                    "parentId": "nope",
                }
            }
        },
    )
    error = out["notCreated"]["bad"]
    assert error["type"] == "invalidProperties"
    assert sorted(error["properties"]) == [
        "isSubscribed",
        "name",
        "parentId",
        "role",
        "sortOrder",
        "totalEmails",
    ]


# -- RFC 8620 §5.3: whole objects sent back --------------------------------------------------------
def _whole_back(jc: Client, type_name: str, obj: dict[str, Any], change: dict[str, Any]) -> Any:
    """``type_name``/set updating ``obj`` with the whole object as the PatchObject."""
    using = ("urn:ietf:params:jmap:core",) if type_name == "PushSubscription" else None
    args: dict[str, Any] = {"update": {obj["id"]: {**obj, **change}}}
    if using is None:
        return jc.ok(f"{type_name}/set", args)
    return jc.api([f"{type_name}/set", args, "p"], using=using)["methodResponses"][0][1]


def test_set_accepts_server_set_and_immutable_properties_with_their_current_value(
    jc: Client,
) -> None:
    """RFC 8620 §5.3 update: "Any server-set properties MAY be included in the patch if their
    value is identical to the current server value ... Otherwise, the update MUST be rejected
    with an invalidProperties SetError" ("an entire Foo object is also a valid PatchObject").
    Email, Mailbox, Identity, EmailSubmission, VacationResponse and PushSubscription objects
    as /get returned them are accepted whole; a changed server-set or immutable value is not."""
    eid = mixed_email(jc)
    email = jc.ok("Email/get", {"ids": [eid]})["list"][0]  # the default properties
    out = _whole_back(jc, "Email", email, {"keywords": {"$seen": True}})
    assert out["updated"] == {eid: None}, out
    assert get_one(jc, eid, properties=["keywords"])["keywords"] == {"$seen": True}
    for prop, value in (("size", email["size"] + 1), ("subject", "other"), ("id", "e9999")):
        out = _whole_back(jc, "Email", email, {"keywords": {"$seen": True}, prop: value})
        error = out["notUpdated"][eid]
        assert error["type"] == "invalidProperties" and error["properties"] == [prop], error

    mailbox = jc.ok("Mailbox/get", {"ids": [jc.mailbox("inbox")]})["list"][0]
    out = _whole_back(jc, "Mailbox", mailbox, {"sortOrder": 3})
    assert out["updated"] == {mailbox["id"]: None}, out
    out = _whole_back(jc, "Mailbox", mailbox, {"totalEmails": mailbox["totalEmails"] + 5})
    assert out["notUpdated"][mailbox["id"]]["properties"] == ["totalEmails"]
    rights = {**mailbox["myRights"], "mayDelete": not mailbox["myRights"]["mayDelete"]}
    out = _whole_back(jc, "Mailbox", mailbox, {"myRights": rights})
    assert out["notUpdated"][mailbox["id"]]["type"] == "invalidProperties"

    identity = jc.ok("Identity/get", {"ids": None})["list"][0]
    out = _whole_back(jc, "Identity", identity, {"name": "Renamed"})
    assert out["updated"] == {identity["id"]: None}, out
    out = _whole_back(jc, "Identity", identity, {"email": "other@example.org"})
    assert out["notUpdated"][identity["id"]]["type"] == "invalidProperties"

    vacation = jc.ok("VacationResponse/get", {"ids": None})["list"][0]
    out = _whole_back(jc, "VacationResponse", vacation, {"subject": "Away"})
    assert out["updated"] == {"singleton": None}, out

    sent = _submit(jc, "whole submission", [jc.user])
    sid = sent[1][1]["created"]["s"]["id"]
    submission = jc.ok("EmailSubmission/get", {"ids": [sid]})["list"][0]
    out = _whole_back(jc, "EmailSubmission", submission, {})
    assert out["updated"] == {sid: None}, out["notUpdated"]
    out = _whole_back(jc, "EmailSubmission", submission, {"threadId": "t999999"})
    assert out["notUpdated"][sid] == {
        "type": "invalidProperties",
        "description": "Only undoStatus may be changed (§7).",
        "properties": ["threadId"],
    }

    made = jc.api(
        [
            "PushSubscription/set",
            {"create": {"p": {"deviceClientId": "whole", "url": "https://127.0.0.1:9/whole"}}},
            "p",
        ],
        using=("urn:ietf:params:jmap:core",),
    )["methodResponses"][0][1]
    pid = made["created"]["p"]["id"]
    push = jc.api(
        ["PushSubscription/get", {"ids": [pid]}, "g"], using=("urn:ietf:params:jmap:core",)
    )["methodResponses"][0][1]["list"][0]
    out = _whole_back(jc, "PushSubscription", push, {"types": ["Email"]})
    assert out["updated"] == {pid: None}, out["notUpdated"]
    # §7.2.1: url and keys are never returned, so a client cannot send them back; comparing
    # them would tell a caller whether it guessed the stored URL: refused whatever the value.
    for url in ("https://127.0.0.1:9/whole", "https://127.0.0.1:9/guess"):
        out = _whole_back(jc, "PushSubscription", push, {"url": url})
        assert out["notUpdated"][pid]["properties"] == ["url"], out
    out = _whole_back(jc, "PushSubscription", push, {"deviceClientId": "other"})
    assert out["notUpdated"][pid]["properties"] == ["deviceClientId"]


def test_set_update_lists_every_invalid_property(jc: Client) -> None:
    """RFC 8620 §5.3 invalidProperties: the SetError "SHOULD also have a property called
    properties ... that lists *all* the properties that were invalid" — for updates too."""
    eid = mixed_email(jc)
    out = jc.ok("Email/set", {"update": {eid: {"subject": "x", "size": 1, "blobId": "zz"}}})
    error = out["notUpdated"][eid]
    assert error["type"] == "invalidProperties"
    assert sorted(error["properties"]) == ["blobId", "size", "subject"], error
    out = jc.ok(
        "Email/set", {"update": {eid: {"keywords/a b": True, "mailboxIds/nope": True, "size": 2}}}
    )
    assert sorted(out["notUpdated"][eid]["properties"]) == [
        "keywords/a b",
        "mailboxIds/nope",
        "size",
    ], out
    inbox = jc.mailbox("inbox")
    out = jc.ok(
        "Mailbox/set", {"update": {inbox: {"id": "m99", "totalEmails": 7, "sortOrder": -1}}}
    )
    error = out["notUpdated"][inbox]
    assert sorted(error["properties"]) == ["id", "sortOrder", "totalEmails"], error


def test_whole_object_sent_back_unchanged_is_no_change(jc: Client) -> None:
    """RFC 8620 §5.3 / §5.2: an update that changes nothing succeeds without a new state
    (every client would otherwise fetch changes, and get a push, for nothing)."""
    for type_name in ("Mailbox", "Identity", "VacationResponse"):
        got = jc.ok(f"{type_name}/get", {"ids": None})
        obj = got["list"][0]
        out = jc.ok(f"{type_name}/set", {"update": {obj["id"]: dict(obj)}})
        assert out["updated"] == {obj["id"]: None}, out
        assert out["oldState"] == out["newState"] == got["state"], (type_name, out)
    mailbox = jc.ok("Mailbox/get", {"ids": [jc.mailbox("inbox")]})
    obj = mailbox["list"][0]
    out = jc.ok("Mailbox/set", {"update": {obj["id"]: {"sortOrder": obj["sortOrder"] + 1}}})
    assert out["newState"] != mailbox["state"]  # a real change still moves the state


# -- RFC 8621 §7.5: no outbound relay, so remote recipients are refused ---------------------------
def _submit(jc: Client, subject: str, to: list[str], **extra: Any) -> list[Any]:
    drafts, sent = jc.mailbox("drafts"), jc.mailbox("sent")
    identity = jc.ok("Identity/get", {"ids": None})["list"][0]["id"]
    return list(
        jc.api(
            [
                "Email/set",
                {
                    "accountId": jc.account_id,
                    "create": {
                        "m": {
                            "mailboxIds": {drafts: True},
                            "from": [{"email": jc.user}],
                            "to": [{"email": a} for a in to],
                            "subject": subject,
                            "bodyValues": {"b": {"value": "hello"}},
                            "textBody": [{"partId": "b"}],
                        }
                    },
                },
                "e",
            ],
            [
                "EmailSubmission/set",
                {
                    "accountId": jc.account_id,
                    "create": {"s": {"identityId": identity, "emailId": "#m", **extra}},
                    "onSuccessUpdateEmail": {
                        "#s": {f"mailboxIds/{drafts}": None, f"mailboxIds/{sent}": True}
                    },
                },
                "s",
            ],
        )["methodResponses"]
    )


def test_submission_to_remote_recipients_is_refused_not_reported_queued(jc: Client) -> None:
    """RFC 8621 §7.5 forbiddenToSend ("does not have permission to send at all right now"):
    with no outbound relay a remote recipient is refused, with a description naming the missing
    relay, instead of an undoStatus/deliveryStatus that claims a send that never happens.  A
    submission mixing local and remote recipients is refused whole: the local one gets nothing
    either, no EmailSubmission is stored and onSuccessUpdateEmail does not run."""
    inbox = jc.mailbox("inbox")

    def inbox_total() -> int:
        return int(jc.ok("Mailbox/get", {"ids": [inbox]})["list"][0]["totalEmails"])

    before_total, before_state = inbox_total(), jc.state("EmailSubmission")
    for to in (["someone@remote.example"], [jc.user, "someone@remote.example"]):
        out = _submit(jc, "to the world", to)
        assert [r[0] for r in out] == ["Email/set", "EmailSubmission/set"], out
        error = out[1][1]["notCreated"]["s"]
        assert error["type"] == "forbiddenToSend", error
        assert "outbound relay" in error["description"]
        assert "someone@remote.example" in error["description"]
        assert out[1][1]["created"] is None
    # An explicit envelope is held to the same rule.
    envelope = {
        "mailFrom": {"email": jc.user, "parameters": None},
        "rcptTo": [{"email": "x@elsewhere.example", "parameters": None}],
    }
    out = _submit(jc, "by envelope", [jc.user], envelope=envelope)
    assert out[1][1]["notCreated"]["s"]["type"] == "forbiddenToSend"
    assert inbox_total() == before_total  # the local recipient got nothing
    assert jc.state("EmailSubmission") == before_state
    # Local recipients only: delivered, and deliveryStatus says exactly that.
    out = _submit(jc, "to myself", [jc.user])
    created = out[1][1]["created"]["s"]
    assert created["deliveryStatus"] == {
        jc.user: {"smtpReply": "250 2.1.5 Delivered", "delivered": "yes", "displayed": "unknown"}
    }
    assert inbox_total() == before_total + 1
    assert out[2][0] == "Email/set" and out[2][1]["updated"]
