"""JMAP Core request machinery (RFC 8620): request parsing, references, dispatch, session,
argument parsers, PatchObject, /changes and /queryChanges helpers."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.jmap.core import (
    CORE,
    MAIL,
    SUBMISSION,
    WEBSOCKET,
    Changes,
    CoreLimits,
    Dispatcher,
    FilterCondition,
    FilterOperator,
    Invocation,
    MethodCall,
    MethodError,
    Request,
    RequestProblem,
    SessionAccount,
    SessionUrls,
    SetError,
    SetResponse,
    apply_patch,
    build_session,
    check_if_in_state,
    check_request_size,
    compute_changes,
    method_error_for,
    parse_changes,
    parse_get,
    parse_query,
    parse_query_changes,
    parse_request,
    parse_set,
    parse_state,
    pointer,
    query_changes,
    query_window,
    resolve_arguments,
    resolve_ids,
    set_error_for,
    websocket_capability,
)
from store import Batch, ErrorKind, Store
from store.batch import (
    CompactChanges,
    CreateDomain,
    CreatePrincipal,
    DestroyEmail,
    ImportEmail,
    PutBlob,
    UpdateEmail,
)
from store.errors import MailError
from store.ids import object_id
from store.models import ChangeEntry

LIMITS = CoreLimits(max_size_request=4000, max_calls_in_request=4, max_objects_in_get=5)
CAPS = frozenset({CORE, MAIL})


def body(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def req(*calls: list[Any], using: list[str] | None = None, **extra: Any) -> bytes:
    return body({"using": using or [CORE, MAIL], "methodCalls": list(calls), **extra})


def problem(data: bytes, limits: CoreLimits = LIMITS) -> RequestProblem:
    with pytest.raises(RequestProblem) as info:
        parse_request(data, limits=limits, capabilities=CAPS)
    return info.value


# -- request-level problems (§3.6.1) --
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"not json",
        b'{"using": [], "methodCalls": []} trailing',
        b"\xff\xfe{}",
        b'\xef\xbb\xbf{"using": [], "methodCalls": []}',  # BOM
        b'{"using": [], "using": [], "methodCalls": []}',  # duplicate member (RFC 7493 §2.3)
        b'{"using": [], "methodCalls": [], "x": NaN}',
        b'{"using": [], "methodCalls": [], "x": Infinity}',
        b'{"using": [], "methodCalls": [], "x": 1e400}',
        b'{"using": [], "methodCalls": [], "x": "\\ud800"}',  # lone surrogate
        b'{"using": [], "methodCalls": [], "\\udfff": 1}',
        b'{"using": [], "methodCalls": [], "x": ' + b"9" * 5000 + b"}",
        b"[" * 3000 + b"]" * 3000,
    ],
)
def test_not_json(data: bytes) -> None:
    p = problem(data, CoreLimits(max_size_request=100_000))
    assert p.type == "notJSON"
    out = json.loads(p.to_bytes())
    assert out["type"] == "urn:ietf:params:jmap:error:notJSON"
    assert out["status"] == 400 and out["detail"]


def test_surrogate_pair_is_fine() -> None:
    r = parse_request(
        req(["Core/echo", {"e": "\ud83d\ude00"}, "0"]).replace(
            b"\\ud83d\\ude00", b"\\ud83d\\ude00"
        ),
        limits=LIMITS,
        capabilities=CAPS,
    )
    assert r.method_calls[0].arguments == {"e": "😀"}


@pytest.mark.parametrize(
    "obj",
    [
        [],
        "string",
        {"methodCalls": []},
        {"using": "urn:ietf:params:jmap:core", "methodCalls": []},
        {"using": [1], "methodCalls": []},
        {"using": [CORE]},
        {"using": [CORE], "methodCalls": {}},
        {"using": [CORE], "methodCalls": [["Core/echo", {}]]},
        {"using": [CORE], "methodCalls": [["Core/echo", {}, "c", "d"]]},
        {"using": [CORE], "methodCalls": [["Core/echo", [], "c"]]},
        {"using": [CORE], "methodCalls": [[1, {}, "c"]]},
        {"using": [CORE], "methodCalls": [["Core/echo", {}, 1]]},
        {"using": [CORE], "methodCalls": ["Core/echo"]},
        {"using": [CORE], "methodCalls": [], "createdIds": []},
        {"using": [CORE], "methodCalls": [], "createdIds": {"k": 1}},
    ],
)
def test_not_request(obj: Any) -> None:
    p = problem(body(obj))
    assert p.type == "notRequest" and p.status == 400
    assert p.to_json()["type"] == "urn:ietf:params:jmap:error:notRequest"


def test_unknown_capability() -> None:
    p = problem(req(using=[CORE, "https://example.com/apis/foobar"]))
    assert p.type == "unknownCapability"
    assert "https://example.com/apis/foobar" in p.detail
    assert p.to_json()["type"] == "urn:ietf:params:jmap:error:unknownCapability"


def test_limit_max_calls_in_request() -> None:
    calls = [["Core/echo", {}, str(i)] for i in range(5)]
    p = problem(req(*calls))
    assert p.type == "limit" and p.limit == "maxCallsInRequest"
    out = p.to_json()
    assert out["limit"] == "maxCallsInRequest" and out["status"] == 400
    assert out["type"] == "urn:ietf:params:jmap:error:limit"
    # Exactly at the limit is fine.
    assert len(parse_request(req(*calls[:4]), limits=LIMITS, capabilities=CAPS).method_calls) == 4


def test_limit_max_size_request() -> None:
    data = req(["Core/echo", {"pad": "x" * 4000}, "0"])
    p = problem(data)
    assert p.type == "limit" and p.limit == "maxSizeRequest"
    with pytest.raises(RequestProblem) as info:
        check_request_size(4001, LIMITS)
    assert info.value.limit == "maxSizeRequest"
    check_request_size(4000, LIMITS)


def test_limit_problem_requires_a_limit_name() -> None:
    with pytest.raises(ValueError):
        RequestProblem("limit", "no name")


def test_valid_request() -> None:
    r = parse_request(
        req(
            ["Core/echo", {"a": 1}, "c1"],
            ["Email/get", {"accountId": "A1"}, "c2"],
            using=[CORE, MAIL, CORE],
            createdIds={"k1": "e1"},
            extraProperty=True,
        ),
        limits=LIMITS,
        capabilities=CAPS,
    )
    assert r.using == (CORE, MAIL)
    assert r.method_calls == (
        Invocation("Core/echo", {"a": 1}, "c1"),
        Invocation("Email/get", {"accountId": "A1"}, "c2"),
    )
    name, args, call_id = r.method_calls[1]
    assert (name, args, call_id) == ("Email/get", {"accountId": "A1"}, "c2")
    assert r.created_ids == {"k1": "e1"}
    assert parse_request(req(), limits=LIMITS, capabilities=CAPS).created_ids is None


# -- the request parser never raises anything but its problems (hypothesis) --
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
request_like = st.fixed_dictionaries(
    {},
    optional={
        "using": st.lists(st.sampled_from([CORE, MAIL, "x:y"]) | json_values, max_size=3)
        | json_values,
        "methodCalls": st.lists(
            st.tuples(
                st.sampled_from(["Core/echo", "Email/get"]) | json_values,
                st.dictionaries(st.text(max_size=4), json_values, max_size=3) | json_values,
                st.text(max_size=3) | json_values,
            ).map(list)
            | json_values,
            max_size=6,
        )
        | json_values,
        "createdIds": st.dictionaries(st.text(max_size=3), st.text(max_size=3) | json_values)
        | json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(request_like, json_values))
def test_parser_raises_only_problems_on_json(value: Any) -> None:
    try:
        r = parse_request(body(value), limits=LIMITS, capabilities=CAPS)
    except RequestProblem as exc:
        assert exc.type in {"notJSON", "notRequest", "unknownCapability", "limit"}
        json.loads(exc.to_bytes())
    else:
        assert isinstance(r, Request)
        assert all(isinstance(c.arguments, dict) for c in r.method_calls)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parser_raises_only_problems_on_bytes(data: bytes) -> None:
    try:
        parse_request(data, limits=LIMITS, capabilities=CAPS)
    except RequestProblem as exc:
        assert exc.type in {"notJSON", "notRequest", "unknownCapability", "limit"}


# -- JSON pointer and result references (§3.7) --
DOC = {
    "ids": ["e1", "e2"],
    "a/b": 1,
    "m~n": 2,
    "list": [
        {"id": "e1", "threadId": "t1", "emailIds": ["e1", "e3"]},
        {"id": "e2", "threadId": "t2", "emailIds": ["e2"]},
    ],
    "nested": [[{"x": [1, 2]}, {"x": [3]}], [{"x": 4}]],
    "*": "star member",
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", DOC),
        ("/ids", ["e1", "e2"]),
        ("/ids/1", "e2"),
        ("/a~1b", 1),
        ("/m~0n", 2),
        ("/list/0/threadId", "t1"),
        ("/list/*/threadId", ["t1", "t2"]),
        ("/list/*/emailIds", ["e1", "e3", "e2"]),  # arrays are flattened
        ("/list/*", DOC["list"]),
        ("/nested/*/*/x", [1, 2, 3, 4]),
        ("/*", "star member"),  # on an object, "*" is a member name
    ],
)
def test_pointer_evaluates(path: str, expected: Any) -> None:
    assert pointer.evaluate(DOC, path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "ids",
        "/missing",
        "/ids/2",
        "/ids/01",
        "/ids/-",
        "/ids/x",
        "/a~2b",
        "/ids/0/x",
        "/list/*/nope",
    ],
)
def test_pointer_failures(path: str) -> None:
    with pytest.raises(pointer.PointerError):
        pointer.evaluate(DOC, path)


RESPONSES = (
    Invocation("Email/query", {"ids": ["e1", "e2"], "total": 2}, "c1"),
    Invocation("Email/get", {"list": DOC["list"]}, "c2"),
    Invocation("error", {"type": "serverFail"}, "c3"),
    Invocation("Email/copy", {"created": {"k": {"id": "e9"}}}, "c4"),
    Invocation("Email/set", {"destroyed": ["e5"]}, "c4"),
)


def ref(result_of: str, name: str, path: str) -> dict[str, str]:
    return {"resultOf": result_of, "name": name, "path": path}


def test_result_references_resolve() -> None:
    args: dict[str, Any] = {
        "accountId": "A1",
        "#ids": ref("c1", "Email/query", "/ids"),
        "#threads": ref("c2", "Email/get", "/list/*/threadId"),
        "#all": ref("c2", "Email/get", "/list/*/emailIds"),
    }
    out = resolve_arguments(args, RESPONSES)
    assert out == {
        "accountId": "A1",
        "ids": ["e1", "e2"],
        "threads": ["t1", "t2"],
        "all": ["e1", "e3", "e2"],
    }
    assert "#ids" not in out and args["#ids"]["path"] == "/ids"  # input untouched


def _ref_error(args: dict[str, Any]) -> MethodError:
    with pytest.raises(MethodError) as info:
        resolve_arguments(args, RESPONSES)
    return info.value


@pytest.mark.parametrize(
    "reference",
    [
        ref("nope", "Email/query", "/ids"),  # no such call id
        ref("c1", "Email/get", "/ids"),  # name mismatch
        ref("c1", "Email/query", "/missing"),  # path does not resolve
        ref("c1", "Email/query", "/ids/7"),
        ref("c1", "Email/query", "ids"),  # not a pointer
        ref("c3", "Email/query", "/type"),  # an error response has name "error"
        ref("c4", "Email/set", "/destroyed"),  # the FIRST response with that id is /copy
        {"resultOf": "c1", "name": "Email/query"},  # malformed references
        {"resultOf": 1, "name": "Email/query", "path": "/ids"},
        "c1",
        None,
    ],
)
def test_result_reference_failures(reference: Any) -> None:
    err = _ref_error({"#ids": reference})
    assert err.type == "invalidResultReference"
    assert err.to_json()["type"] == "invalidResultReference"


def test_reference_later_response_is_not_visible() -> None:
    with pytest.raises(MethodError) as info:
        resolve_arguments({"#ids": ref("c2", "Email/get", "/list")}, RESPONSES[:1])
    assert info.value.type == "invalidResultReference"


def test_argument_both_plain_and_referenced() -> None:
    err = _ref_error({"ids": ["e1"], "#ids": ref("c1", "Email/query", "/ids")})
    assert err.type == "invalidArguments" and err.properties["arguments"] == ["ids"]
    assert _ref_error({"#": ref("c1", "Email/query", "/ids")}).type == "invalidArguments"


def test_creation_id_references() -> None:
    resolved, unresolved = resolve_ids(["e1", "#k1", "#k2", "#k1"], {"k1": "e7"})
    assert resolved == ["e1", "e7", "e7"] and unresolved == ["#k2"]


# -- dispatcher (§3.3–§3.6) --
def make_dispatcher(log: list[str]) -> Dispatcher:
    d = Dispatcher()

    async def query(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
        log.append(call.name)
        return [("Email/query", {"accountId": call.account_id, "ids": ["e1", "e2"]})]

    async def get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
        log.append(call.name)
        args = parse_get(call.args, max_objects=5, created_ids=call.created_ids)
        return [("Email/get", {"accountId": args.account_id, "list": list(args.ids or ())})]

    async def set_(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
        log.append(call.name)
        args = parse_set(call.args, max_objects=5)
        resp = SetResponse(args.account_id, "1", "2")
        for n, key in enumerate(args.create, start=10):
            call.created_ids[key] = f"e{n}"
            resp.created[key] = {"id": f"e{n}"}
        return [("Email/set", resp.to_json())]

    async def copy(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
        log.append(call.name)
        return [("Email/copy", {"created": {}}), ("Email/set", {"destroyed": ["e1"]})]

    async def fails(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
        log.append(call.name)
        raise MethodError("forbidden", "no", extra=1)

    async def store_fails(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
        log.append(call.name)
        raise MailError(ErrorKind.OVER_QUOTA, "secret path /var/x")

    async def crashes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
        log.append(call.name)
        raise RuntimeError("secret internals")

    async def bad_return(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
        log.append(call.name)
        return [("x",)]  # type: ignore[list-item]

    d.register("Email/query", MAIL, query)
    d.register("Email/get", MAIL, get)
    d.register("Email/set", MAIL, set_)
    d.register("Email/copy", MAIL, copy)
    d.register("Email/fails", MAIL, fails)
    d.register("Email/storeFails", MAIL, store_fails)
    d.register("Email/crashes", MAIL, crashes)
    d.register("Email/badReturn", MAIL, bad_return)
    d.register("Submission/x", SUBMISSION, query)
    return d


async def run(data: bytes, log: list[str] | None = None) -> dict[str, Any]:
    d = make_dispatcher(log if log is not None else [])
    r = parse_request(data, limits=LIMITS, capabilities=CAPS | {SUBMISSION})
    resp = await d.execute(r, session_state="s1", context=object())
    return json.loads(resp.to_bytes())


async def test_dispatch_order_and_references() -> None:
    log: list[str] = []
    out = await run(
        req(
            ["Email/query", {"accountId": "A1"}, "q"],
            ["Email/get", {"accountId": "A1", "#ids": ref("q", "Email/query", "/ids")}, "g"],
            ["Core/echo", {"hello": True}, "e"],
        ),
        log,
    )
    assert log == ["Email/query", "Email/get"]
    assert out["sessionState"] == "s1"
    assert "createdIds" not in out
    assert out["methodResponses"] == [
        ["Email/query", {"accountId": "A1", "ids": ["e1", "e2"]}, "q"],
        ["Email/get", {"accountId": "A1", "list": ["e1", "e2"]}, "g"],
        ["Core/echo", {"hello": True}, "e"],
    ]


async def test_core_echo_rfc_example() -> None:
    # RFC 8620 §4.1.1.
    args = {"hello": True, "high": 5}
    out = await run(req(["Core/echo", args, "b3ff"]))
    assert out["methodResponses"] == [["Core/echo", args, "b3ff"]]


async def test_unknown_method_and_capability_not_in_using() -> None:
    log: list[str] = []
    out = await run(
        req(
            ["Nope/get", {}, "a"],
            ["Submission/x", {}, "b"],  # registered, but submission not in "using"
            ["Core/echo", {"x": 1}, "c"],
            using=[MAIL],  # nor is core
        ),
        log,
    )
    assert log == []
    assert [r[0] for r in out["methodResponses"]] == ["error", "error", "error"]
    assert {r[1]["type"] for r in out["methodResponses"]} == {"unknownMethod"}
    assert [r[2] for r in out["methodResponses"]] == ["a", "b", "c"]


async def test_errors_do_not_stop_the_request(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    with caplog.at_level(logging.ERROR, logger="protocols.jmap.core.dispatch"):
        out = await run(
            req(
                ["Email/fails", {}, "1"],
                ["Email/storeFails", {}, "2"],
                ["Email/crashes", {}, "3"],
                ["Email/query", {"accountId": "A1"}, "4"],
            ),
            log,
        )
    assert log == ["Email/fails", "Email/storeFails", "Email/crashes", "Email/query"]
    r = out["methodResponses"]
    assert r[0] == ["error", {"type": "forbidden", "description": "no", "extra": 1}, "1"]
    assert r[1][0] == "error" and r[1][1]["type"] == "forbidden"
    assert "secret" not in json.dumps(r[1])
    assert r[2][0] == "error" and r[2][1]["type"] == "serverFail"
    assert "secret" not in json.dumps(r[2]) and "Traceback" not in json.dumps(r[2])
    incident = r[2][1]["description"].split("incident ")[1].rstrip(").")
    assert any(incident in rec.getMessage() for rec in caplog.records)
    assert any(rec.exc_info for rec in caplog.records)
    assert r[3][0] == "Email/query"


async def test_bad_handler_return_is_server_fail() -> None:
    out = await run(req(["Email/badReturn", {}, "x"]))
    assert out["methodResponses"][0][1]["type"] == "serverFail"


async def test_reference_errors_in_dispatch() -> None:
    out = await run(
        req(
            ["Email/get", {"accountId": "A1", "#ids": ref("zz", "Email/query", "/ids")}, "g"],
            ["Email/get", {"accountId": "A1", "ids": [], "#ids": ref("g", "error", "")}, "h"],
        )
    )
    assert out["methodResponses"][0][1]["type"] == "invalidResultReference"
    assert out["methodResponses"][1][1]["type"] == "invalidArguments"


async def test_created_ids_are_shared_and_returned() -> None:
    out = await run(
        req(
            ["Email/set", {"accountId": "A1", "create": {"k1": {}, "k2": {}}}, "s"],
            ["Email/get", {"accountId": "A1", "ids": ["#k2", "#k0", "#nope", "e1"]}, "g"],
            createdIds={"k0": "e99"},
        )
    )
    assert out["createdIds"] == {"k0": "e99", "k1": "e10", "k2": "e11"}
    assert out["methodResponses"][1][1]["list"] == ["e11", "e99", "#nope", "e1"]
    # created ids do not leak between requests
    out2 = await run(req(["Email/get", {"accountId": "A1", "ids": ["#k1"]}, "g"]))
    assert out2["methodResponses"][0][1]["list"] == ["#k1"] and "createdIds" not in out2


async def test_one_call_two_responses() -> None:
    # /copy with onSuccessDestroyOriginal answers with an implicit /set under the same id.
    out = await run(req(["Email/copy", {}, "c"], ["Core/echo", {}, "e"]))
    assert [(r[0], r[2]) for r in out["methodResponses"]] == [
        ("Email/copy", "c"),
        ("Email/set", "c"),
        ("Core/echo", "e"),
    ]


def test_register_twice_is_refused() -> None:
    d = Dispatcher()
    assert d.method("Core/echo") is not None and d.capabilities == {CORE}
    with pytest.raises(ValueError):
        d.register("Core/echo", CORE, d.method("Core/echo").handler)  # type: ignore[union-attr]
    assert Dispatcher(echo=False).method("Core/echo") is None


# -- error mapping --
@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_error_kind_maps(kind: ErrorKind) -> None:
    m = method_error_for(MailError(kind, "detail that must not leak"))
    assert m.type and "leak" not in json.dumps(m.to_json())
    whole_method = (
        ErrorKind.TEMPORARY,
        ErrorKind.INTERNAL,
        ErrorKind.STATE_MISMATCH,
        ErrorKind.UNAVAILABLE,  # the write log (store/writelog.py): no object is at fault
        ErrorKind.UNKNOWN_OUTCOME,
    )
    if kind in whole_method:
        with pytest.raises(MethodError) as info:
            set_error_for(kind)
        assert info.value.type == m.type
    else:
        s = set_error_for(MailError(kind, "detail that must not leak"))
        assert "leak" not in json.dumps(s.to_json())


def test_specific_mappings() -> None:
    assert set_error_for(ErrorKind.NOT_FOUND).type == "notFound"
    assert set_error_for(ErrorKind.OVER_QUOTA).type == "overQuota"
    assert set_error_for(ErrorKind.ALREADY_EXISTS).type == "alreadyExists"
    assert set_error_for(ErrorKind.HAS_CHILDREN).type == "mailboxHasChild"
    assert set_error_for(ErrorKind.INVALID).type == "invalidProperties"
    assert method_error_for(ErrorKind.STATE_MISMATCH).type == "stateMismatch"
    assert method_error_for(ErrorKind.INTERNAL).type == "serverFail"
    assert method_error_for(ErrorKind.TEMPORARY).type == "serverUnavailable"
    e = SetError("invalidProperties", "bad", properties=["name"])
    assert e.to_json() == {
        "type": "invalidProperties",
        "description": "bad",
        "properties": ["name"],
    }
    assert SetError("alreadyExists", existingId="e1").to_json() == {
        "type": "alreadyExists",
        "existingId": "e1",
    }


# -- session (§2) --
def make_session(accounts: list[SessionAccount] | None = None) -> Any:
    mail_caps = {"maxMailboxDepth": 10, "emailQuerySortOptions": ["receivedAt"]}
    return build_session(
        username="john@example.com",
        accounts=accounts
        if accounts is not None
        else [
            SessionAccount("A1", "john@example.com", capabilities={MAIL: mail_caps}),
            SessionAccount(
                "A2",
                "shared@example.com",
                is_personal=False,
                is_read_only=True,
                capabilities={MAIL: mail_caps},
            ),
        ],
        limits=CoreLimits(),
        urls=SessionUrls.from_base("https://jmap.example.com:8443/"),
        capabilities={
            MAIL: {},
            WEBSOCKET: websocket_capability("https://jmap.example.com:8443"),
        },
    )


def test_session_json() -> None:
    s = make_session().to_json()
    core = s["capabilities"][CORE]
    assert core["maxCallsInRequest"] == 16 and core["maxObjectsInGet"] == 500
    assert set(core) == {
        "maxSizeUpload",
        "maxConcurrentUpload",
        "maxSizeRequest",
        "maxConcurrentRequests",
        "maxCallsInRequest",
        "maxObjectsInGet",
        "maxObjectsInSet",
        "collationAlgorithms",
    }
    assert s["capabilities"][WEBSOCKET] == {
        "url": "wss://jmap.example.com:8443/jmap/ws",
        "supportsPush": True,
    }
    assert s["accounts"]["A2"] == {
        "name": "shared@example.com",
        "isPersonal": False,
        "isReadOnly": True,
        "accountCapabilities": {
            MAIL: {"maxMailboxDepth": 10, "emailQuerySortOptions": ["receivedAt"]}
        },
    }
    assert s["primaryAccounts"] == {MAIL: "A1"}  # the first personal account
    assert s["username"] == "john@example.com"
    assert s["apiUrl"] == "https://jmap.example.com:8443/jmap/"
    assert s["downloadUrl"] == (
        "https://jmap.example.com:8443/jmap/download/{accountId}/{blobId}/{name}?accept={type}"
    )
    assert s["uploadUrl"] == "https://jmap.example.com:8443/jmap/upload/{accountId}/"
    assert s["eventSourceUrl"] == (
        "https://jmap.example.com:8443/jmap/eventsource/?types={types}&closeafter={closeafter}"
        "&ping={ping}"
    )
    assert s["state"] and json.loads(make_session().to_bytes()) == s


def test_session_state_tracks_content() -> None:
    a = make_session()
    assert make_session().state == a.state
    fewer = make_session([SessionAccount("A1", "john@example.com", capabilities={MAIL: {}})])
    assert fewer.state != a.state
    renamed = make_session([SessionAccount("A1", "john2@example.com", capabilities={MAIL: {}})])
    assert renamed.state not in {a.state, fewer.state}
    assert a.account("A2") is not None and a.account("A3") is None


def test_session_validation() -> None:
    with pytest.raises(ValueError):
        SessionUrls.from_base("jmap.example.com")
    with pytest.raises(ValueError):
        websocket_capability("ftp://x")
    with pytest.raises(ValueError):
        make_session([SessionAccount("A1", "a"), SessionAccount("A1", "b")])
    with pytest.raises(ValueError):
        build_session(
            username="u",
            accounts=[],
            limits=CoreLimits(),
            urls=SessionUrls.from_base("http://h"),
            primary_accounts={MAIL: "A9"},
        )
    with pytest.raises(ValueError):
        CoreLimits(max_calls_in_request=0)


# -- argument parsers (§5.1–§5.6) --
def invalid(fn: Any, *a: Any, **kw: Any) -> MethodError:
    with pytest.raises(MethodError) as info:
        fn(*a, **kw)
    return info.value


def test_parse_get() -> None:
    g = parse_get(
        {"accountId": "A1", "ids": ["e1", "e2", "e1", "#k"], "properties": ["id", "subject"]},
        max_objects=5,
        created_ids={"k": "e2"},
    )
    assert g.ids == ("e1", "e2") and g.properties == ("id", "subject") and g.account_id == "A1"
    g = parse_get(
        {"accountId": "A1", "ids": None, "fetchHTMLBodyValues": True},
        max_objects=5,
        extra={"fetchHTMLBodyValues"},
    )
    assert g.ids is None and g.properties is None and g.extra == {"fetchHTMLBodyValues": True}
    too_many = invalid(
        parse_get, {"accountId": "A1", "ids": [f"e{i}" for i in range(6)]}, max_objects=5
    )
    assert too_many.type == "requestTooLarge"
    bad: dict[str, Any]
    for bad in (
        {"ids": []},
        {"accountId": 1},
        {"accountId": "A 1"},
        {"accountId": "A1", "ids": "e1"},
        {"accountId": "A1", "ids": [1]},
        {"accountId": "A1", "ids": [""]},
        {"accountId": "A1", "ids": ["x" * 256]},
        {"accountId": "A1", "properties": [1]},
        {"accountId": "A1", "bogus": 1},
    ):
        assert invalid(parse_get, bad, max_objects=5).type == "invalidArguments", bad
    unknown = invalid(
        parse_get,
        {"accountId": "A1", "properties": ["nope"]},
        max_objects=5,
        known_properties={"id"},
    )
    assert unknown.type == "invalidArguments" and unknown.properties["properties"] == ["nope"]


def test_parse_changes() -> None:
    c = parse_changes({"accountId": "A1", "sinceState": "3", "maxChanges": 10})
    assert (c.since_state, c.max_changes) == ("3", 10)
    assert (
        parse_changes({"accountId": "A1", "sinceState": "3", "maxChanges": None}).max_changes
        is None
    )
    for bad in (
        {"accountId": "A1"},
        {"accountId": "A1", "sinceState": 3},
        {"accountId": "A1", "sinceState": "3", "maxChanges": 0},
        {"accountId": "A1", "sinceState": "3", "maxChanges": -1},
        {"accountId": "A1", "sinceState": "3", "maxChanges": True},
        {"accountId": "A1", "sinceState": "3", "maxChanges": 1.5},
        {"accountId": "A1", "sinceState": "3", "maxChanges": 2**53},
    ):
        assert invalid(parse_changes, bad).type == "invalidArguments", bad


def test_parse_set() -> None:
    s = parse_set(
        {
            "accountId": "A1",
            "ifInState": "7",
            "create": {"k1": {"name": "x"}},
            "update": {"m1": {"name": "y"}, "#k0": {"name": "z"}},
            "destroy": ["m2", "m2", "#k9"],
        },
        max_objects=5,
    )
    assert s.if_in_state == "7" and dict(s.create) == {"k1": {"name": "x"}}
    assert set(s.update) == {"m1", "#k0"} and s.destroy == ("m2", "#k9") and s.size == 5
    empty = parse_set({"accountId": "A1", "create": None}, max_objects=5)
    assert empty.size == 0 and empty.if_in_state is None
    assert (
        invalid(
            parse_set, {"accountId": "A1", "destroy": [f"m{i}" for i in range(6)]}, max_objects=5
        ).type
        == "requestTooLarge"
    )
    for bad in (
        {"accountId": "A1", "create": []},
        {"accountId": "A1", "create": {"k1": 1}},
        {"accountId": "A1", "create": {"bad key": {}}},
        {"accountId": "A1", "update": {"m1": None}},
        {"accountId": "A1", "destroy": "m1"},
        {"accountId": "A1", "ifInState": 1},
        {"accountId": "A1", "onSuccessDestroyOriginal": True},
    ):
        assert invalid(parse_set, bad, max_objects=5).type == "invalidArguments", bad
    check_if_in_state(None, "5")
    check_if_in_state("5", "5")
    assert invalid(check_if_in_state, "4", "5").type == "stateMismatch"


def test_parse_query() -> None:
    q = parse_query({"accountId": "A1"})
    assert (q.filter, q.sort, q.position, q.anchor, q.anchor_offset, q.limit) == (
        None,
        None,
        0,
        None,
        0,
        None,
    )
    assert q.calculate_total is False
    q = parse_query(
        {
            "accountId": "A1",
            "filter": {
                "operator": "AND",
                "conditions": [
                    {"inMailbox": "m1"},
                    {"operator": "NOT", "conditions": [{"hasKeyword": "$seen"}]},
                ],
            },
            "sort": [
                {"property": "receivedAt", "isAscending": False},
                {"property": "hasKeyword", "keyword": "$flagged", "collation": "i;ascii-casemap"},
            ],
            "position": -5,
            "limit": 10,
            "calculateTotal": True,
        },
        collations={"i;ascii-casemap"},
        sort_extra={"keyword"},
    )
    assert q.filter == FilterOperator(
        "AND",
        (
            FilterCondition({"inMailbox": "m1"}),
            FilterOperator("NOT", (FilterCondition({"hasKeyword": "$seen"}),)),
        ),
    )
    assert q.sort is not None and q.sort[0].is_ascending is False
    assert q.sort[1].extra == {"keyword": "$flagged"} and q.sort[1].collation == "i;ascii-casemap"
    assert (q.position, q.limit, q.calculate_total) == (-5, 10, True)
    bad: dict[str, Any]
    for bad in (
        {"limit": -1},
        {"limit": "3"},
        {"position": True},
        {"anchor": 5},
        {"calculateTotal": 1},
        {"filter": []},
        {"filter": {"operator": "XOR", "conditions": []}},
        {"filter": {"operator": "AND"}},
        {"filter": {"operator": "AND", "conditions": [], "x": 1}},
        {"filter": {"operator": "AND", "conditions": [1]}},
        {"sort": {}},
        {"sort": [{}]},
        {"sort": [{"property": "x", "isAscending": "yes"}]},
    ):
        assert invalid(parse_query, {"accountId": "A1", **bad}).type == "invalidArguments", bad
    # Unknown Comparator members are ignored (jmapc sends anchorOffset etc. in each one).
    lenient = parse_query({"accountId": "A1", "sort": [{"property": "x", "position": 0}]})
    assert lenient.sort is not None and lenient.sort[0].property == "x"
    assert lenient.sort[0].extra == {}
    deep: dict[str, Any] = {"inMailbox": "m1"}
    for _ in range(40):
        deep = {"operator": "OR", "conditions": [deep]}
    assert invalid(parse_query, {"accountId": "A1", "filter": deep}).type == "unsupportedFilter"
    unsorted = invalid(
        parse_query,
        {"accountId": "A1", "sort": [{"property": "x", "collation": "i;octet"}]},
        collations={"i;ascii-casemap"},
    )
    assert unsorted.type == "unsupportedSort"


def test_parse_query_changes() -> None:
    q = parse_query_changes(
        {"accountId": "A1", "sinceQueryState": "q1", "maxChanges": 3, "upToId": "e4"}
    )
    assert (q.since_query_state, q.max_changes, q.up_to_id) == ("q1", 3, "e4")
    for bad in (
        {},
        {"sinceQueryState": 1},
        {"sinceQueryState": "q", "maxChanges": 0},
        {"sinceQueryState": "q", "upToId": ""},
        {"sinceQueryState": "q", "position": 0},
    ):
        assert invalid(parse_query_changes, {"accountId": "A1", **bad}).type == "invalidArguments"


@pytest.mark.parametrize(
    ("args", "position", "ids", "limit"),
    [
        ({}, 0, "abcdefgh", None),
        ({"position": 2, "limit": 3}, 2, "cde", None),
        ({"position": -3}, 5, "fgh", None),
        ({"position": -30, "limit": 2}, 0, "ab", None),
        ({"position": 50}, 50, "", None),
        ({"anchor": "c"}, 2, "cdefgh", None),
        ({"anchor": "c", "anchorOffset": -1, "limit": 2}, 1, "bc", None),
        ({"anchor": "c", "anchorOffset": -9, "position": 5}, 0, "abcdefgh", None),
        ({"anchor": "g", "anchorOffset": 5}, 11, "", None),
    ],
)
def test_query_window(args: dict[str, Any], position: int, ids: str, limit: int | None) -> None:
    q = parse_query({"accountId": "A1", **args})
    w = query_window(list("abcdefgh"), q)
    assert (w.position, "".join(w.ids), w.limit) == (position, ids, limit)


def test_query_window_limit_clamp_and_anchor_not_found() -> None:
    w = query_window(list("abcdefgh"), parse_query({"accountId": "A1", "limit": 10}), max_limit=3)
    assert (w.ids, w.limit) == (("a", "b", "c"), 3)
    w = query_window(list("abcdefgh"), parse_query({"accountId": "A1", "limit": 2}), max_limit=3)
    assert (w.ids, w.limit) == (("a", "b"), None)
    with pytest.raises(MethodError) as info:
        query_window(list("abc"), parse_query({"accountId": "A1", "anchor": "z"}))
    assert info.value.type == "anchorNotFound"


# -- PatchObject (§5.3) --
EMAIL = {
    "keywords": {"$seen": True},
    "mailboxIds": {"m1": True},
    "subject": "hi",
    "list": [1, {"a": 1}],
}


def test_patch_applies() -> None:
    out = apply_patch(
        EMAIL,
        {
            "keywords/$flagged": True,
            "keywords/$seen": None,
            "mailboxIds/m2": True,
            "subject": "new",
            "mailboxIds/m9": None,
            "list": [2],
        },
    )
    assert out == {
        "keywords": {"$flagged": True},
        "mailboxIds": {"m1": True, "m2": True},
        "subject": "new",
        "list": [2],
    }
    assert EMAIL["keywords"] == {"$seen": True}  # the original is untouched
    assert EMAIL["mailboxIds"] == {"m1": True}
    assert apply_patch({"a~b": {"c/d": 1}}, {"a~0b/c~1d": 2}) == {"a~b": {"c/d": 2}}
    assert apply_patch(EMAIL, {"subject": None}, defaults={"subject": ""})["subject"] == ""
    assert "subject" not in apply_patch(EMAIL, {"subject": None})
    assert apply_patch(EMAIL, {"nothing": None}) == EMAIL
    assert apply_patch(EMAIL, {}) == EMAIL


@pytest.mark.parametrize(
    "patch",
    [
        [],
        {"keywords": {}, "keywords/$seen": True},  # one path a prefix of another
        {"list/0": 3},  # inside an array
        {"list/1/a": 3},
        {"missing/x": True},  # parent does not exist
        {"subject/x": True},  # parent is not an object
        {"keywords/": True},  # empty segment
        {"": 1},
        {"keywords/a~2": True},  # bad escape
    ],
)
def test_patch_invalid(patch: Any) -> None:
    with pytest.raises(SetError) as info:
        apply_patch(EMAIL, patch)
    assert info.value.type == "invalidPatch"


# -- /changes over the store's change log (§5.2) --
def E(n: int) -> str:
    return object_id("email", n)


def log_of(
    *groups: tuple[int, list[tuple[str, int, str]]],
) -> list[tuple[int, tuple[ChangeEntry, ...]]]:
    return [(m, tuple(ChangeEntry(t, i, op) for t, i, op in entries)) for m, entries in groups]


LOG = log_of(
    (2, [("Email", 1, "c"), ("Mailbox", 1, "u"), ("Email", 2, "c")]),
    (3, [("Email", 1, "u"), ("imap", 1, "f")]),
    (4, [("Email", 3, "c"), ("Email", 4, "u")]),
    (5, [("Email", 3, "d"), ("Email", 5, "u")]),
    (6, [("Email", 5, "d"), ("Email", 6, "d")]),
    (7, [("Mailbox", 2, "c")]),
)


def changes(
    since: str, max_changes: int | None = None, current: int = 6, floor: int = 1
) -> Changes:
    return compute_changes(
        "Email", since, current=current, floor=floor, log=LOG, max_changes=max_changes, id_of=E
    )


def test_changes_coalesce() -> None:
    c = changes("1")
    assert c.to_json("A1") == {
        "accountId": "A1",
        "oldState": "1",
        "newState": "6",
        "hasMoreChanges": False,
        "created": ["e1", "e2"],  # e1 created then updated: created only
        "updated": ["e4"],
        "destroyed": ["e5", "e6"],  # e3 created and destroyed: left out; e5 updated then destroyed
    }
    assert changes("6").total == 0 and changes("6").new_state == "6"
    assert changes("3").created == () and changes("3").updated == ("e4",)


def test_changes_ignore_entries_past_current() -> None:
    c = changes("1", current=4)
    assert (c.created, c.updated, c.destroyed, c.new_state) == (
        ("e1", "e2", "e3"),
        ("e4",),
        (),
        "4",
    )


@pytest.mark.parametrize("max_changes", [1, 2, 3, 4, 5])
def test_changes_paging_reaches_the_same_result(max_changes: int) -> None:
    state, seen, pages = "1", [], 0
    while True:
        c = changes(state, max_changes)
        assert c.total <= max_changes
        seen.append(c)
        pages += 1
        state = c.new_state
        assert parse_state(state) is not None
        if not c.has_more_changes:
            break
        assert pages < 20
    assert state == "6"
    # Replay pages as a client would: the final set of live/dead ids matches the one-shot answer.
    live: set[str] = set()
    dead: set[str] = set()
    for c in seen:
        live |= set(c.created) | set(c.updated)
        live -= set(c.destroyed)
        dead |= set(c.destroyed)
    full = changes("1")
    assert live == set(full.created) | set(full.updated)
    assert dead - live >= set(full.destroyed)


def test_changes_intermediate_state_inside_one_modseq() -> None:
    c = changes("1", 1)
    assert (c.created, c.new_state, c.has_more_changes) == (("e1",), "1:1", True)
    c = changes(c.new_state, 1)
    assert (c.created, c.new_state, c.has_more_changes) == (("e2",), "2", True)
    c = changes(c.new_state, 1)
    assert (c.updated, c.new_state, c.has_more_changes) == (("e1",), "3", True)
    # An id already on the page does not count again: e1 created and updated fit in 2.
    c = changes("1", 2)
    assert (c.created, c.updated, c.new_state) == (("e1", "e2"), (), "3")
    assert changes("1:1").created == ("e2",)


@pytest.mark.parametrize("since", ["0", "abc", "", "01", "-1", "7", "6:1", "2:0", "1:x", "9" * 30])
def test_changes_cannot_calculate(since: str) -> None:
    with pytest.raises(MethodError) as info:
        changes(since)
    assert info.value.type == "cannotCalculateChanges"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "db")
    s.write(
        Batch(
            (
                CreateDomain("example.org"),
                CreatePrincipal(
                    "individual",
                    "a",
                    ("a@example.org",),
                    "",
                    0,
                    mailboxes=(("Inbox", "inbox", 1, True),),
                ),
            ),
            now=100,
        )
    )
    yield s
    s.close()


def deliver(store: Store, n: int) -> int:
    data = f"Message-ID: <{n}@x>\r\n\r\nbody {n}".encode()
    sha = hashlib.sha256(data).digest()
    res = store.write(
        Batch(
            (PutBlob(sha, len(data), 300), ImportEmail(1, sha, len(data), (1,), (), 200, b"m")),
            now=200,
            blobs=(data,),
        )
    )
    return int(res[1].value.email_id)


def store_changes(store: Store, since: str, max_changes: int | None = None) -> Changes:
    state = store.account(1)
    assert state is not None
    position = parse_state(since)
    assert position is not None
    return compute_changes(
        "Email",
        since,
        current=state.type_state("Email"),
        floor=state.changes_floor,
        log=store.changes_since(1, position.modseq),
        max_changes=max_changes,
        id_of=E,
    )


def test_changes_against_the_real_store(store: Store) -> None:
    base = str(store.account(1).type_state("Email"))  # type: ignore[union-attr]
    ids = [deliver(store, n) for n in range(4)]
    mid = str(store.account(1).type_state("Email"))  # type: ignore[union-attr]
    store.write(Batch((UpdateEmail(1, ids[0], keywords_add=("$seen",)),), now=300))
    store.write(Batch((DestroyEmail(1, ids[1]),), now=300))
    fresh = deliver(store, 9)
    store.write(Batch((DestroyEmail(1, fresh),), now=300))
    c = store_changes(store, base)
    assert c.created == tuple(E(i) for i in (ids[0], ids[2], ids[3]))
    assert c.destroyed == () and c.updated == ()
    assert c.new_state == str(store.account(1).type_state("Email"))  # type: ignore[union-attr]
    c = store_changes(store, mid)
    assert (c.updated, c.destroyed, c.created) == ((E(ids[0]),), (E(ids[1]),), ())
    paged = store_changes(store, base, 2)
    assert paged.has_more_changes and len(paged.created) == 2
    # Compaction: a state older than the kept history cannot be answered.
    store.write(Batch((CompactChanges(1, 2),), now=400))
    with pytest.raises(MethodError) as info:
        store_changes(store, base)
    assert info.value.type == "cannotCalculateChanges"


# -- /queryChanges (§5.6) --
def replay(old: list[str], qc: Any) -> list[str]:
    out = [i for i in old if i not in set(qc.removed)]
    for item in sorted(qc.added, key=lambda a: a.index):
        out.insert(item.index, item.id)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 30), unique=True), st.lists(st.integers(0, 30), unique=True))
def test_query_changes_replays_to_the_new_list(old_n: list[int], new_n: list[int]) -> None:
    old, new = [f"e{i}" for i in old_n], [f"e{i}" for i in new_n]
    qc = query_changes(old, new)
    assert replay(old, qc) == new
    # Only what changed: ids gone from the results are removed, never added.
    assert set(old) - set(new) <= set(qc.removed)
    assert not {a.id for a in qc.added} & (set(old) - set(new))


def test_query_changes_minimal_and_limits() -> None:
    qc = query_changes(["a", "b", "c", "d"], ["a", "x", "c", "d", "b"])
    assert qc.removed == ("b",)
    assert [(a.id, a.index) for a in qc.added] == [("x", 1), ("b", 4)]
    assert qc.to_json("A1", "q1", "q2", total=5) == {
        "accountId": "A1",
        "oldQueryState": "q1",
        "newQueryState": "q2",
        "removed": ["b"],
        "added": [{"id": "x", "index": 1}, {"id": "b", "index": 4}],
        "total": 5,
    }
    assert query_changes(["a"], ["a"], max_changes=1).removed == ()
    with pytest.raises(MethodError) as info:
        query_changes(["a", "b", "c", "d"], ["a", "x", "c", "d", "b"], max_changes=2)
    assert info.value.type == "tooManyChanges"
    # upToId with immutable sort/filter: changes after it are omitted.
    qc = query_changes(
        ["a", "b", "c", "d"], ["a", "x", "b", "d", "y"], up_to_id="b", immutable=True
    )
    assert qc.removed == () and [(a.id, a.index) for a in qc.added] == [("x", 1)]
    qc = query_changes(["a", "b", "c", "d"], ["a", "x", "b", "d", "y"], up_to_id="b")
    assert replay(["a", "b", "c", "d"], qc) == ["a", "x", "b", "d", "y"]
