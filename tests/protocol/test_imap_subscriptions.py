"""IMAP subscriptions outlive their mailbox: DELETE keeps the name subscribed (RFC 3501 §6.3.6,
RFC 9051 §6.3.7), LIST-EXTENDED shows it ``(\\Subscribed \\NonExistent)`` (RFC 5258 §3.1),
LSUB keeps listing it, UNSUBSCRIBE removes it, and a new mailbox of that name is subscribed."""

from __future__ import annotations

import re

from .imap_support import Env

R = re.compile


def test_delete_keeps_the_subscription_rfc3501_6_3_6(env: Env) -> None:
    """RFC 3501 §6.3.6: the server "MUST NOT unilaterally remove an existing mailbox name
    from the subscription list even if a mailbox by that name no longer exists"."""
    user = env.user()
    w = env.session(user)
    w.cmd("a1 CREATE Sub1")
    w.cmd("a2 SUBSCRIBE Sub1").expect([], "a2 OK SUBSCRIBE completed")
    w.cmd("a3 DELETE Sub1").expect([], "a3 OK DELETE completed")
    # RFC 5258 §3.1: a subscribed name without a mailbox is \NonExistent.
    w.cmd('a4 LIST (SUBSCRIBED) "" Sub*').expect(
        ['* LIST (\\Subscribed \\NonExistent) "/" "Sub1"'], "a4 OK LIST completed"
    )
    # LSUB keeps listing it; not selectable (\NonExistent implies \Noselect, RFC 5258 §3).
    w.cmd('a5 LSUB "" Sub*').expect(['* LSUB (\\Noselect) "/" "Sub1"'], "a5 OK LSUB completed")
    # Plain LIST (and RETURN (SUBSCRIBED), which selects nothing more) lists mailboxes only.
    w.cmd('a6 LIST "" Sub*').expect([], "a6 OK LIST completed")
    w.cmd('a7 LIST "" Sub* RETURN (SUBSCRIBED)').expect([], "a7 OK LIST completed")
    w.cmd("a8 STATUS Sub1 (MESSAGES)").expect([], "a8 NO [NONEXISTENT] No such mailbox")
    # Another session (the state is in the store) sees the same.
    other = env.session(user)
    other.cmd('b1 LSUB "" *').expect(
        [R(r'\* LSUB \(.*\) "/" "\w+"')] * 5
        + ['* LSUB (\\Noselect) "/" "Sub1"', R(r'\* LSUB \(.*\) "/" "Trash"')],
        "b1 OK LSUB completed",
    )
    # CREATE of the name again: the new mailbox is subscribed.
    w.cmd("a9 CREATE Sub1")
    w.cmd('b2 LIST "" Sub* RETURN (SUBSCRIBED)').expect(
        ['* LIST (\\HasNoChildren \\Subscribed) "/" "Sub1"'], "b2 OK LIST completed"
    )
    w.cmd('b3 LSUB "" Sub*').expect(['* LSUB (\\HasNoChildren) "/" "Sub1"'], "b3 OK LSUB completed")
    # UNSUBSCRIBE of a subscribed name without a mailbox works; a second one has nothing left.
    w.cmd("b4 DELETE Sub1")
    w.cmd("b5 UNSUBSCRIBE Sub1").expect([], "b5 OK UNSUBSCRIBE completed")
    w.cmd('b6 LSUB "" Sub*').expect([], "b6 OK LSUB completed")
    w.cmd('b7 LIST (SUBSCRIBED) "" Sub*').expect([], "b7 OK LIST completed")
    w.cmd("b8 UNSUBSCRIBE Sub1").expect([], "b8 NO [NONEXISTENT] No such mailbox")
    # Unsubscribed before the DELETE: nothing is kept, CREATE gives an unsubscribed mailbox.
    w.cmd("b9 CREATE Sub1")
    w.cmd('c1 LIST "" Sub* RETURN (SUBSCRIBED)').expect(
        ['* LIST (\\HasNoChildren) "/" "Sub1"'], "c1 OK LIST completed"
    )


def test_deleted_subscribed_child_and_its_missing_parent_rfc5258(env: Env) -> None:
    """A subscribed ``Par/Child`` whose mailboxes are both deleted: LIST (SUBSCRIBED) shows it
    \\NonExistent; "%" hides it, so LSUB lists ``Par`` \\Noselect (RFC 3501 §6.3.9) and LIST
    (SUBSCRIBED RECURSIVEMATCH) lists ``Par`` \\NonExistent with CHILDINFO (RFC 5258 §3.5);
    re-creating the child subscribes it again, not the parent created with it."""
    w = env.session(env.user())
    w.cmd("a1 CREATE Par/Child")
    w.cmd("a2 SUBSCRIBE Par/Child")
    w.cmd("a3 DELETE Par/Child").expect([], "a3 OK DELETE completed")
    w.cmd("a4 DELETE Par").expect([], "a4 OK DELETE completed")
    w.cmd('a5 LIST (SUBSCRIBED) "" Par*').expect(
        ['* LIST (\\Subscribed \\NonExistent) "/" "Par/Child"'], "a5 OK LIST completed"
    )
    w.cmd('a6 LSUB "" Par%').expect(['* LSUB (\\Noselect) "/" "Par"'], "a6 OK LSUB completed")
    w.cmd('a7 LIST (SUBSCRIBED RECURSIVEMATCH) "" Par%').expect(
        ['* LIST (\\NonExistent) "/" "Par" ("CHILDINFO" ("SUBSCRIBED"))'], "a7 OK LIST completed"
    )
    w.cmd('a8 LIST (SUBSCRIBED) "" Par%').expect([], "a8 OK LIST completed")
    w.cmd("a9 CREATE Par/Child")
    w.cmd('b1 LIST "" Par* RETURN (SUBSCRIBED)').expect(
        [
            '* LIST (\\HasChildren) "/" "Par"',
            '* LIST (\\HasNoChildren \\Subscribed) "/" "Par/Child"',
        ],
        "b1 OK LIST completed",
    )


def test_rename_onto_a_subscribed_name_subscribes_it(env: Env) -> None:
    """RENAME moves a mailbox with its own subscription (the old name is not left behind),
    and a new name still on the subscription list (RFC 3501 §6.3.6) subscribes it."""
    w = env.session(env.user())
    w.cmd("a1 CREATE Old")
    w.cmd("a2 SUBSCRIBE Old")
    w.cmd("a3 DELETE Old")
    w.cmd("a4 CREATE Fresh")
    w.cmd("a5 RENAME Fresh Old").expect([], "a5 OK RENAME completed")
    w.cmd('a6 LIST (SUBSCRIBED) "" Old').expect(
        ['* LIST (\\HasNoChildren \\Subscribed) "/" "Old"'], "a6 OK LIST completed"
    )
    w.cmd("a7 RENAME Old Newer").expect([], "a7 OK RENAME completed")
    w.cmd('a8 LIST (SUBSCRIBED) "" (Old Newer)').expect(
        ['* LIST (\\HasNoChildren \\Subscribed) "/" "Newer"'], "a8 OK LIST completed"
    )


def test_delete_and_the_kept_subscription_are_one_write(env: Env) -> None:
    """RFC 3501 §6.3.6 again, against crashes: the mailbox's removal and the kept name are one
    batch (one atomic LevelDB write), so no crash between two writes can lose the
    subscription."""
    user = env.user()
    w = env.session(user)
    w.cmd("a1 CREATE Atomic")
    w.cmd("a2 SUBSCRIBE Atomic")
    store = env.srv.store
    before = store.batches_written
    w.cmd("a3 DELETE Atomic").expect([], "a3 OK DELETE completed")
    assert store.batches_written == before + 1
    w.cmd('a4 LSUB "" Atomic').expect(['* LSUB (\\Noselect) "/" "Atomic"'], "a4 OK LSUB completed")
