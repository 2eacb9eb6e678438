"""MailError is raised through trio and chained like any exception, and compares as a value."""

from __future__ import annotations

import pickle

import pytest
import trio

from store import ErrorKind, MailError


async def test_mail_error_raised_from_a_task_before_it_started_reaches_the_caller() -> None:
    """trio's ``nursery.start`` assigns ``__context__`` to an exception a task raises before
    ``task_status.started()``; a frozen slotted dataclass refused that with a TypeError that
    hid the real error."""

    async def fails(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        raise MailError(ErrorKind.IN_USE, "held")

    async with trio.open_nursery() as nursery:
        with pytest.raises(MailError) as info:
            await nursery.start(fails)
    assert info.value.kind is ErrorKind.IN_USE and info.value.detail == "held"


def test_mail_error_is_a_value() -> None:
    err = MailError(ErrorKind.NOT_FOUND, "x")
    assert err == MailError(ErrorKind.NOT_FOUND, "x") != MailError(ErrorKind.NOT_FOUND, "y")
    assert hash(err) == hash(MailError(ErrorKind.NOT_FOUND, "x"))
    assert pickle.loads(pickle.dumps(err)) == err
    assert str(err) == "not_found: x"
    try:
        raise err from ValueError("cause")
    except MailError as caught:
        assert isinstance(caught.__cause__, ValueError)
