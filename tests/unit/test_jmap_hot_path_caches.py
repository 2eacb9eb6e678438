"""The JMAP hot-path caches stay exact: rendered Email JSON (Email/get), sorted query results
(Email/query) and the spliced response encoding (``encode_response``)."""

# The ``env`` fixture is imported from the read-side tests; its use as a parameter is not a
# redefinition.
# ruff: noqa: F811

from __future__ import annotations

import json
from typing import Any

import pytest

from protocols.jmap.core import jsonio
from protocols.jmap.core.query import Comparator, FilterCondition, FilterOperator
from protocols.jmap.mail.account_index import EmailRow
from protocols.jmap.mail.email_get import RenderCache, render_cache
from protocols.jmap.mail.email_render import PreEncoded, PreEncodedList
from protocols.jmap.mail.query_cache import EmailIds, EncodedIdList, query_cache_key
from protocols.jmap.responses import encode_response
from store.batch import DestroyEmail, UpdateEmail
from store.ids import object_id
from tests.unit.test_jmap_mail_read import Env, env, msg  # noqa: F401 (env is a fixture)

LIST = ["id", "threadId", "mailboxIds", "keywords", "from", "subject", "receivedAt", "size"]


async def test_email_get_cache_follows_every_change(env: Env) -> None:
    a = await env.put(msg("First"), received_at=1_700_000_000)
    b = await env.put(msg("Second"), received_at=1_700_000_100)
    ids = [object_id("email", a), object_id("email", b)]
    first = await env.ok("Email/get", {"ids": ids, "properties": LIST})
    assert len(render_cache(env.store)) == 2
    again = await env.ok("Email/get", {"ids": ids, "properties": LIST})
    assert again["list"] == first["list"]
    assert again["list"][0] is first["list"][0]  # served from the cache
    # A keyword and a mailbox change must show at once.
    await env.apply(UpdateEmail(env.acct, a, keywords_add=("$seen",)))
    await env.apply(UpdateEmail(env.acct, b, mailboxes_set=(env.mailboxes["trash"],)))
    after = await env.ok("Email/get", {"ids": ids, "properties": LIST})
    assert after["list"][0]["keywords"] == {"$seen": True}
    assert after["list"][1]["mailboxIds"] == {object_id("mailbox", env.mailboxes["trash"]): True}
    assert after["state"] != first["state"]
    # Other properties are another cache entry, not the list one.
    subject_only = await env.ok("Email/get", {"ids": ids[:1], "properties": ["subject"]})
    assert subject_only["list"] == [{"id": ids[0], "subject": "First"}]
    # A destroyed email is notFound, never a cached rendering.
    await env.apply(DestroyEmail(env.acct, a))
    gone = await env.ok("Email/get", {"ids": ids, "properties": LIST})
    assert gone["notFound"] == [ids[0]]
    assert [e["id"] for e in gone["list"]] == [ids[1]]
    # The cached bytes are the encoding of the object they travel with.
    for item in gone["list"]:
        assert isinstance(item, PreEncoded)
        assert json.loads(item.encoded) == dict(item)


async def test_email_query_cache_follows_changes(env: Env) -> None:
    inbox = object_id("mailbox", env.mailboxes["inbox"])
    a = await env.put(msg("One"), received_at=1_700_000_000)
    b = await env.put(msg("Two"), received_at=1_700_000_200)
    query = {
        "filter": {"inMailbox": inbox},
        "sort": [{"property": "receivedAt", "isAscending": False}],
        "calculateTotal": True,
    }
    out = await env.ok("Email/query", query)
    assert out["ids"] == [object_id("email", b), object_id("email", a)]
    assert (await env.ok("Email/query", query))["ids"] == out["ids"]
    c = await env.put(msg("Three"), received_at=1_700_000_100)
    out = await env.ok("Email/query", query)
    assert out["ids"] == [object_id("email", x) for x in (b, c, a)]
    assert out["total"] == 3
    await env.apply(UpdateEmail(env.acct, b, mailboxes_set=(env.mailboxes["trash"],)))
    flagged = {"filter": {"hasKeyword": "$flagged"}}
    assert (await env.ok("Email/query", flagged))["ids"] == []
    await env.apply(UpdateEmail(env.acct, a, keywords_add=("$flagged",)))
    assert (await env.ok("Email/query", flagged))["ids"] == [object_id("email", a)]
    out = await env.ok("Email/query", query)
    assert out["ids"] == [object_id("email", c), object_id("email", a)]
    # Windows over a cached result.
    window = await env.ok("Email/query", {**query, "position": 1, "limit": 1})
    assert window["ids"] == [object_id("email", a)] and window["position"] == 1


def test_text_conditions_are_never_cached() -> None:
    sort = (Comparator("receivedAt", False),)
    assert query_cache_key(FilterCondition({"text": "x"}), sort, False) is None
    nested = FilterOperator(
        "AND", (FilterCondition({"inMailbox": "m1"}), FilterCondition({"body": "y"}))
    )
    assert query_cache_key(nested, sort, False) is None
    plain = query_cache_key(FilterCondition({"inMailbox": "m1"}), sort, False)
    assert plain is not None
    assert plain != query_cache_key(FilterCondition({"inMailbox": "m2"}), sort, False)
    assert plain != query_cache_key(FilterCondition({"inMailbox": "m1"}), sort, True)


def _pre(value: dict[str, Any]) -> PreEncoded:
    return PreEncoded(value, jsonio.dumps(value))


def test_encode_response_is_byte_identical_to_dumps() -> None:
    emails = [_pre({"id": "e1", "subject": "Café ☕", "from": [{"name": None, "email": "a@b"}]})]
    emails.append({"id": "e2", "subject": 'quote " and \\ back'})  # type: ignore[arg-type]
    emails.append(_pre({"id": "e3", "keywords": {}}))
    # A client's string that looks like a splice placeholder is left alone.
    emails.append({"id": "e5", "subject": "\x00splice-0"})  # type: ignore[arg-type]
    result = {
        "methodResponses": [
            ["Mailbox/get", {"accountId": "a1", "list": [{"id": "m1"}], "notFound": []}, "0"],
            [
                "Email/get",
                {"accountId": "a1", "state": "7", "list": emails, "notFound": ["x"]},
                "2",
            ],
            ["Email/get", {"accountId": "a1", "list": [], "notFound": []}, "3"],
            ["Email/get", {"list": PreEncodedList([_pre({"id": "e4"})]), "notFound": []}, "4"],
            ["Email/get", {"list": PreEncodedList([]), "state": "é"}, "5"],
        ],
        "sessionState": "abc",
        "createdIds": {"k": "e9"},
    }
    assert encode_response(result) == jsonio.dumps(result)


def test_email_query_ids_are_spliced_byte_identically() -> None:
    """Email/query's ids window (an EncodedIdList from EmailIds) encodes as dumps would,
    empty or not, and stays an ordinary list to result references."""
    ids = EmailIds((7, 12, 3, 100000))
    window = ids[1:3]
    assert type(window) is EncodedIdList and window == ["e12", "e3"]
    for value in (window, ids[0:0], ids[:]):
        result = {
            "methodResponses": [
                ["Email/query", {"accountId": "a1", "ids": value, "position": 0}, "1"],
                ["Email/get", {"list": PreEncodedList([_pre({"id": "e4"})])}, "2"],
            ],
            "sessionState": "s",
        }
        assert encode_response(result) == jsonio.dumps(result)
        assert json.loads(encode_response(result))["methodResponses"][0][1]["ids"] == list(value)


def test_render_cache_is_bounded_in_bytes() -> None:
    cache = RenderCache(max_bytes=1000)
    shape = (1, ("id",), ())
    for n in range(50):
        row = EmailRow(n, n, 10, 0, frozenset(), frozenset({1}), b"x" * 32)
        cache.put(row, shape, _pre({"id": f"e{n}", "pad": "p" * 80}))
    assert cache.size <= 1000
    assert 0 < len(cache) < 50
    newest = EmailRow(49, 49, 10, 0, frozenset(), frozenset({1}), b"x" * 32)
    oldest = EmailRow(0, 0, 10, 0, frozenset(), frozenset({1}), b"x" * 32)
    assert cache.get(newest, shape) is not None
    assert cache.get(oldest, shape) is None


def test_encode_response_splices_many_values_in_one_pass() -> None:
    """Placeholders 1 and 10, 11 ... must not be confused, with one placeholder per object of a
    plain list of many pre-encoded objects."""
    items = [_pre({"id": f"e{n}", "subject": "x" * 100}) for n in range(2000)]
    result = {
        "methodResponses": [
            ["Email/get", {"list": items, "notFound": []}, "0"],
            ["Email/get", {"list": PreEncodedList(items[:12]), "state": "1"}, "1"],
        ],
        "sessionState": "s",
    }
    assert encode_response(result) == jsonio.dumps(result)


def test_jsonio_dumps_is_json_dumps() -> None:
    """jsonio.dumps (one prebuilt C encoder) gives json.dumps' compact UTF-8 output, and the
    same errors for what JSON cannot hold."""
    values: list[Any] = [
        1,
        -0.0,
        1.5e300,
        2**70,
        'é☕\x00\n"\\\u2028',
        None,
        True,
        [],
        {},
        [[[]]],
        {"a": [1, 2.0, {"b": None}], "é": "😀"},
        [float("inf"), float("nan")],
        {1: 2, False: 3, None: 4, 2.5: 5},
    ]
    for value in values:
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        assert jsonio.dumps(value) == expected
    for bad in ({"x": object()}, {(1, 2): 1}, "\ud83d"):
        with pytest.raises((TypeError, UnicodeEncodeError)) as raised:
            jsonio.dumps(bad)
        with pytest.raises(raised.type):
            json.dumps(bad, ensure_ascii=False).encode()
