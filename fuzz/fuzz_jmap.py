"""Atheris fuzz target for the JMAP Core request machinery (protocols.jmap.core).

Feeds arbitrary bytes -- raw, or a request assembled from fuzzer-chosen JSON fragments so result
references, creation ids and argument parsers are reached quickly -- through
``parse_request`` and, when that accepts it, through a :class:`Dispatcher` running ``Core/echo``
and a few handlers built on the standard argument parsers.  Checks:

- the parser raises nothing but :class:`RequestProblem`, whose problem JSON is well-formed;
- dispatch never raises, every call gets at least one response with its own call id, and no
  response is a ``serverFail`` (which would mean an unexpected exception inside the machinery);
- the response serialises to JSON that parses back to the same value;
- a ``Core/echo`` call without references returns its arguments unchanged;
- ``pointer.evaluate`` and ``apply_patch`` on fuzzed input raise only their own errors.

Run:  .venv/bin/python fuzz/fuzz_jmap.py -atheris_runs=50000
"""

from __future__ import annotations

import json
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports():
    from protocols.jmap.core import (
        CORE,
        MAIL,
        CoreLimits,
        Dispatcher,
        MethodCall,
        RequestProblem,
        SetError,
        apply_patch,
        compute_changes,
        parse_changes,
        parse_get,
        parse_query,
        parse_request,
        parse_set,
        pointer,
        query_window,
    )

LIMITS = CoreLimits(max_size_request=20_000, max_calls_in_request=8, max_objects_in_get=20)
CAPS = frozenset({CORE, MAIL})
IDS = ["e1", "e2", "e3", "e4"]

FRAGMENTS = [
    '{"accountId":"A1"}',
    '{"accountId":"A1","ids":["e1","#k1"]}',
    '{"accountId":"A1","#ids":{"resultOf":"c0","name":"Email/query","path":"/ids"}}',
    '{"accountId":"A1","#ids":{"resultOf":"c1","name":"Email/get","path":"/list/*/id"}}',
    '{"accountId":"A1","#ids":{"resultOf":"c2","name":"Email/set","path":"/created/k1/id"}}',
    '{"accountId":"A1","create":{"k1":{}},"update":{"#k1":{"keywords/$seen":true}}}',
    '{"accountId":"A1","destroy":["e1","#k1"],"ifInState":"0"}',
    '{"accountId":"A1","sinceState":"0","maxChanges":2}',
    '{"accountId":"A1","filter":{"operator":"NOT","conditions":[{}]},"position":-1,"limit":2}',
    '{"accountId":"A1","anchor":"e3","anchorOffset":-1}',
    '{"hello":true,"#x":{"resultOf":"c0","name":"Core/echo","path":"/hello"}}',
    '{"ids":[],"#ids":{"resultOf":"c0","name":"Email/query","path":"/ids"}}',
]
NAMES = ["Core/echo", "Email/query", "Email/get", "Email/set", "Email/changes", "Nope/x"]


def run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never really suspends (our handlers do no I/O)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError("a handler suspended")


async def email_query(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    q = parse_query(call.args)
    w = query_window(IDS, q)
    return [
        ("Email/query", {"accountId": q.account_id, "position": w.position, "ids": list(w.ids)})
    ]


async def email_get(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    g = parse_get(call.args, max_objects=LIMITS.max_objects_in_get, created_ids=call.created_ids)
    ids = IDS if g.ids is None else g.ids
    return [("Email/get", {"accountId": g.account_id, "list": [{"id": i} for i in ids]})]


async def email_set(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    s = parse_set(call.args, max_objects=LIMITS.max_objects_in_set)
    created = {}
    for n, key in enumerate(s.create):
        call.created_ids[key] = f"e{10 + n}"
        created[key] = {"id": f"e{10 + n}"}
    updated: dict[str, Any] = {}
    not_updated: dict[str, Any] = {}
    for key, patch in s.update.items():
        try:
            apply_patch({"keywords": {}, "mailboxIds": {"m1": True}}, patch)
            updated[key] = None
        except SetError as exc:
            not_updated[key] = exc.to_json()
    return [
        (
            "Email/set",
            {
                "accountId": s.account_id,
                "created": created,
                "updated": updated,
                "notUpdated": not_updated,
            },
        )
    ]


async def email_changes(call: MethodCall) -> list[tuple[str, dict[str, Any]]]:
    c = parse_changes(call.args)
    result = compute_changes(
        "Email", c.since_state, current=0, floor=0, log=[], max_changes=c.max_changes, id_of=str
    )
    return [("Email/changes", result.to_json(c.account_id))]


DISPATCHER = Dispatcher()
DISPATCHER.register("Email/query", MAIL, email_query)
DISPATCHER.register("Email/get", MAIL, email_get)
DISPATCHER.register("Email/set", MAIL, email_set)
DISPATCHER.register("Email/changes", MAIL, email_changes)


def structured(fdp: atheris.FuzzedDataProvider) -> bytes:
    calls = []
    for index in range(fdp.ConsumeIntInRange(0, 6)):
        name = NAMES[fdp.ConsumeIntInRange(0, len(NAMES) - 1)]
        args = FRAGMENTS[fdp.ConsumeIntInRange(0, len(FRAGMENTS) - 1)]
        if fdp.ConsumeIntInRange(0, 7) == 0:
            args = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
        calls.append(f'["{name}",{args},"c{index}"]')
    using = '["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"]'
    created = ',"createdIds":{"k0":"e2"}' if fdp.ConsumeBool() else ""
    return f'{{"using":{using},"methodCalls":[{",".join(calls)}]{created}}}'.encode()


def check_request(data: bytes) -> None:
    try:
        request = parse_request(data, limits=LIMITS, capabilities=CAPS)
    except RequestProblem as exc:
        problem = json.loads(exc.to_bytes())
        assert problem["type"].startswith("urn:ietf:params:jmap:error:"), problem
        assert exc.type != "limit" or problem["limit"]
        return
    response = run_sync(DISPATCHER.execute(request, session_state="s"))
    call_ids = [c.call_id for c in request.method_calls]
    seen = [r.call_id for r in response.method_responses]
    assert [i for n, i in enumerate(seen) if n == 0 or seen[n - 1] != i] == call_ids or (
        len(set(call_ids)) != len(call_ids)
    ), (call_ids, seen)
    for r in response.method_responses:
        assert not (r.name == "error" and r.arguments["type"] == "serverFail"), r
    for call, r in zip(request.method_calls, response.method_responses, strict=False):
        if call.name == "Core/echo" and not any(k.startswith("#") for k in call.arguments):
            if CORE in request.using:
                assert r.arguments == call.arguments, (call, r)
    encoded = response.to_bytes()
    assert json.loads(encoded) == json.loads(json.dumps(response.to_json()))


def check_pointer_and_patch(fdp: atheris.FuzzedDataProvider) -> None:
    path = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 30))
    doc = {"a": [{"b": [1, 2]}, {"b": 3}], "c~/": {"d": None}}
    try:
        pointer.evaluate(doc, path)
    except pointer.PointerError:
        pass
    try:
        patch = json.loads(fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 60)))
    except ValueError:
        return
    try:
        out = apply_patch(doc, patch)
    except SetError as exc:
        assert exc.type == "invalidPatch"
    else:
        assert doc == {"a": [{"b": [1, 2]}, {"b": 3}], "c~/": {"d": None}}, "input modified"
        assert isinstance(out, dict)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 2)
    if mode == 0:
        check_request(structured(fdp))
    elif mode == 1:
        check_pointer_and_patch(fdp)
    else:
        check_request(fdp.ConsumeBytes(fdp.remaining_bytes()))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
