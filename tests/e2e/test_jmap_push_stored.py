"""PushSubscriptions stored by versions before the mail service (a JSON text value) are still
read, listed, updated and used after an upgrade (the current form is the mail service's
encoding of the same fields, written by the next update)."""

from __future__ import annotations

import json
import time

from store import Batch
from store.batch import SetObject
from tests.e2e.test_jmap_http import JMAP_CORE, Jmap
from tests.e2e.test_jmap_request_caches import jc

__all__ = ["jc"]  # a server of its own per test, shared with the cache tests


def test_a_subscription_stored_as_json_text_is_still_served(jc: Jmap) -> None:
    server = jc.srv.server
    assert server is not None and server.store is not None
    acct = int(jc.account_id[1:])
    legacy = {
        "d": "phone-1",
        "u": "https://push.example.net/abc",
        "k": None,
        "e": int(time.time()) + 3600,
        "t": ["Email"],
        "x": "expected-code",
        "v": None,
    }
    applied = server.store.write(
        Batch((SetObject(acct, "PushSubscription", 0, json.dumps(legacy).encode()),), now=0)
    )
    oid = applied.results[0].value
    [[name, got, _]] = jc.call(["PushSubscription/get", {"ids": None}, "0"], using=(JMAP_CORE,))
    assert name == "PushSubscription/get"
    [sub] = got["list"]
    assert sub["deviceClientId"] == "phone-1" and sub["types"] == ["Email"]
    assert sub["verificationCode"] is None
    sub_id = sub["id"]
    # §7.2.2: the client confirms with the code it received; the update rewrites the object.
    [[_, result, _]] = jc.call(
        ["PushSubscription/set", {"update": {sub_id: {"verificationCode": "expected-code"}}}, "0"],
        using=(JMAP_CORE,),
    )
    assert sub_id in result["updated"], result
    [[_, got, _]] = jc.call(["PushSubscription/get", {"ids": [sub_id]}, "0"], using=(JMAP_CORE,))
    assert got["list"][0]["verificationCode"] == "expected-code"
    assert server.store.object(acct, "PushSubscription", oid) != json.dumps(legacy).encode()
    # Mail arriving for the account now goes past the verified subscription without trouble.
    jc.deliver("after the upgrade")
    [[_, got, _]] = jc.call(["PushSubscription/get", {"ids": None}, "0"], using=(JMAP_CORE,))
    assert [s["id"] for s in got["list"]] == [sub_id]
