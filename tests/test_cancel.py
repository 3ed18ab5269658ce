"""CancelToken: a flag shared by threads, and child tokens a job hands to its pieces."""

from __future__ import annotations

import gc
import threading

import pytest

from langflix.cancel import CancelToken
from langflix.errors import CancelledError


def test_a_token_cancels_once_with_its_first_reason() -> None:
    token = CancelToken()
    assert not token.cancelled and not token.wait(0)
    token.raise_if_cancelled()
    token.cancel("stopped by the user")
    token.cancel("a later reason")
    assert token.cancelled and token.wait(0) and token.reason == "stopped by the user"
    with pytest.raises(CancelledError, match="stopped by the user"):
        token.raise_if_cancelled()


def test_a_child_is_cancelled_with_its_parent_and_wakes_its_waiters() -> None:
    parent = CancelToken()
    child = parent.child()
    woke = threading.Event()

    def waiter() -> None:
        if child.wait(10):
            woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    parent.cancel("the job was cancelled")
    thread.join(5)
    assert woke.is_set() and child.reason == "the job was cancelled"


def test_a_child_cancelled_alone_leaves_its_parent_running() -> None:
    parent = CancelToken()
    child = parent.child()
    child.cancel("a sibling failed")
    assert child.cancelled and not parent.cancelled
    assert parent.child().cancelled is False


def test_a_child_of_a_cancelled_token_starts_cancelled() -> None:
    parent = CancelToken()
    parent.cancel("too late")
    child = parent.child()
    assert child.cancelled and child.reason == "too late"
    assert child.child().reason == "too late", "grandchildren too"


def test_children_are_not_kept_alive_by_their_parent() -> None:
    parent = CancelToken()
    for _ in range(100):
        parent.child()
    gc.collect()
    parent.cancel()  # nothing to reach: the children are gone, and this must not fail
    assert parent.cancelled
