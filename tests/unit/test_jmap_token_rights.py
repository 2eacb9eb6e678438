"""JMAP methods act with the request's AccessToken: the mail service's refusals become SetErrors
(RFC 8620 §5.3 ``forbidden`` / ``notFound``), ``myRights`` are the token's rights (RFC 8621 §2,
computed by ``protocols.mail.rights``), and cached answers are never shared between tokens with
different views of the same account."""

# The ``env`` fixture is imported from the write-side tests; its use as a parameter is not a
# redefinition.
# ruff: noqa: F811

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from protocols.jmap.context import JmapContext
from protocols.jmap.core import FilterCondition, Invocation, Request
from protocols.jmap.mail import register_read
from protocols.jmap.mail.query_cache import query_cache_key
from protocols.jmap.mail.write import Step
from protocols.mail import AccessToken, Right, Rights
from store.ids import parse_object_id
from tests.unit.test_jmap_mail_write import SIMPLE, USING, Env, env, put_email  # noqa: F401

# May list and read, nothing else (RFC 4314 "lr").
READ_ONLY: Rights = frozenset({Right.LOOKUP, Right.READ})
# May list the account's mailboxes but not read their messages.
LOOKUP_ONLY: Rights = frozenset({Right.LOOKUP})


def context_with(env: Env, rights: Rights) -> JmapContext:
    """Alice's context with a token holding ``rights`` in her account instead of owner rights."""
    token = replace(env.ctx.access, accounts=((env.alice, rights),))
    return JmapContext(env.ctx.services, env.ctx.principal, token)


async def one(env: Env, ctx: JmapContext, name: str, args: dict[str, Any]) -> dict[str, Any]:
    request = Request(USING, (Invocation(name, {"accountId": env.account, **args}, "c0"),), None)
    response = await env.dispatcher.execute(request, session_state="s", context=ctx)
    [answer] = response.method_responses
    json.dumps(answer.arguments)  # what the HTTP layer would send
    assert answer.name == name, answer
    return answer.arguments


def email_count(env: Env) -> int:
    account = env.store.account(env.alice)
    assert account is not None
    return account.email_count


async def test_email_set_refused_by_the_service_is_forbidden_rfc8620_5_3(env: Env) -> None:
    eid = await put_email(env, SIMPLE)
    before = email_count(env)
    ctx = context_with(env, READ_ONLY)
    out = await one(
        env,
        ctx,
        "Email/set",
        {
            "create": {
                "n": {
                    "mailboxIds": {env.mailbox("drafts"): True},
                    "subject": "Not allowed",
                    "textBody": [{"partId": "t"}],
                    "bodyValues": {"t": {"value": "x"}},
                }
            },
            "update": {eid: {"keywords/$flagged": True}},
        },
    )
    assert out["notCreated"]["n"]["type"] == "forbidden"
    assert out["notUpdated"][eid]["type"] == "forbidden"
    assert out["created"] is None and out["updated"] is None
    assert out["oldState"] == out["newState"]
    destroyed = await one(env, ctx, "Email/set", {"destroy": [eid]})
    assert destroyed["notDestroyed"][eid]["type"] == "forbidden"
    email = env.store.email(env.alice, parse_object_id("email", eid) or 0)
    assert email is not None and email.keywords == ()
    assert email_count(env) == before
    # The owner's token may do all of it.
    owner = await one(env, env.ctx, "Email/set", {"update": {eid: {"keywords/$flagged": True}}})
    assert owner["updated"] == {eid: None}


async def test_email_set_on_emails_the_token_cannot_read_is_not_found_rfc8620_5_3(
    env: Env,
) -> None:
    eid = await put_email(env, SIMPLE)
    ctx = context_with(env, LOOKUP_ONLY)
    out = await one(
        env,
        ctx,
        "Email/set",
        {"update": {eid: {"keywords/$seen": True}}, "destroy": [eid]},
    )
    # The token may not read the email: it does not exist for it (no hint that it does).
    assert out["notUpdated"][eid]["type"] == "notFound"
    assert out["notDestroyed"][eid]["type"] == "notFound"
    assert env.store.email(env.alice, parse_object_id("email", eid) or 0) is not None


async def test_mailbox_set_refused_by_the_service_is_forbidden_rfc8620_5_3(env: Env) -> None:
    ctx = context_with(env, READ_ONLY)
    archive = env.mailbox("archive")
    out = await one(
        env,
        ctx,
        "Mailbox/set",
        {
            "create": {"new": {"name": "Projects"}},
            "update": {archive: {"name": "Old"}},
            "destroy": [env.mailbox("junk")],
        },
    )
    assert out["notCreated"]["new"]["type"] == "forbidden"
    assert out["notUpdated"][archive]["type"] == "forbidden"
    assert out["notDestroyed"][env.mailbox("junk")]["type"] == "forbidden"
    assert out["oldState"] == out["newState"]
    names = {mb.name for mb in env.store.mailboxes(env.alice)}
    assert "Projects" not in names and "Old" not in names
    assert env.store.mailbox_by_role(env.alice, "junk") is not None


async def test_a_refused_operation_of_a_step_is_its_set_error(env: Env) -> None:
    """Step.add turns the service's NOT_FOUND (a mailbox the token may not see) and
    NO_PERMISSION into the one SetError mapping; nothing is written for them."""
    junk = env.store.mailbox_by_role(env.alice, "junk")
    assert junk is not None
    hidden = context_with(env, frozenset({Right.READ}))  # no "l": the mailbox is invisible
    step: Step[str] = Step(hidden)
    refused = step.add("junk", step.tx.destroy_mailbox, env.alice, junk.id)
    assert refused is not None and refused.type == "notFound"
    visible = context_with(env, READ_ONLY)
    step = Step(visible)
    refused = step.add("junk", step.tx.destroy_mailbox, env.alice, junk.id)
    assert refused is not None and refused.type == "forbidden"
    assert await step.commit() == []
    assert env.store.mailbox(env.alice, junk.id) is not None


async def test_my_rights_are_the_tokens_and_not_a_cached_answer_rfc8621_2(env: Env) -> None:
    register_read(env.dispatcher)
    props = {"properties": ["id", "myRights"]}
    owner = await one(env, env.ctx, "Mailbox/get", props)
    assert all(all(mb["myRights"].values()) for mb in owner["list"])
    # Same account, same state, same arguments: the reduced token must not get the owner's
    # cached answer.
    reader = await one(env, context_with(env, READ_ONLY), "Mailbox/get", props)
    assert [mb["id"] for mb in reader["list"]] == [mb["id"] for mb in owner["list"]]
    for mb in reader["list"]:
        assert mb["myRights"] == {
            "mayReadItems": True,
            "mayAddItems": False,
            "mayRemoveItems": False,
            "maySetSeen": False,
            "maySetKeywords": False,
            "mayCreateChild": False,
            "mayRename": False,
            "mayDelete": False,
            "maySubmit": False,
        }
    again = await one(env, env.ctx, "Mailbox/get", props)
    assert again["list"] == owner["list"]


async def test_cached_email_results_are_not_shared_between_tokens_rfc8621_4(env: Env) -> None:
    register_read(env.dispatcher)
    eid = await put_email(env, SIMPLE)
    query = {"filter": {"inMailbox": env.mailbox("inbox")}}
    owner = await one(env, env.ctx, "Email/query", query)
    assert owner["ids"] == [eid]
    got = await one(env, env.ctx, "Email/get", {"ids": [eid], "properties": ["id", "threadId"]})
    assert [e["id"] for e in got["list"]] == [eid]
    thread = got["list"][0]["threadId"]
    # A token that may list the mailboxes but not read them finds no email, although the
    # owner's answers to the same calls are cached for the same account state.
    blind = context_with(env, LOOKUP_ONLY)
    assert (await one(env, blind, "Email/query", query))["ids"] == []
    hidden = await one(env, blind, "Email/get", {"ids": [eid], "properties": ["id", "threadId"]})
    assert hidden["list"] == [] and hidden["notFound"] == [eid]
    threads = await one(env, blind, "Thread/get", {"ids": [thread]})
    assert threads["list"] == [] and threads["notFound"] == [thread]
    # ... and the owner is still answered in full.
    assert (await one(env, env.ctx, "Email/query", query))["ids"] == [eid]


async def test_a_context_built_without_a_token_acts_as_the_owner(env: Env) -> None:
    """``JmapContext(services, principal)`` (how the HTTP layer builds it) keeps working."""
    ctx = JmapContext(env.ctx.services, env.ctx.principal)
    assert ctx.access == AccessToken.for_owner(env.ctx.principal)
    assert ctx.may_read(env.alice)
    reader = context_with(env, READ_ONLY)
    assert ctx.view(env.alice) != reader.view(env.alice)
    # Email/query results are cached under the asking token's view.
    flt = FilterCondition({"inMailbox": env.mailbox("inbox")})
    assert query_cache_key(flt, (), False, ctx.view(env.alice)) != query_cache_key(
        flt, (), False, reader.view(env.alice)
    )
