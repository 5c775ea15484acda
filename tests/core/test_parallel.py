"""`parallel.both`: two computations at once, errors waited for, no helper waiting for another."""

from __future__ import annotations

import threading
import time

import pytest

from server.core import parallel

pytestmark = pytest.mark.skipif(parallel.HELPERS < 2, reason="one core: `both` runs the two in turn")


def test_the_second_runs_on_a_helper_and_both_results_come_back_in_order() -> None:
    first, second = parallel.both(threading.get_ident, threading.get_ident)
    assert first == threading.get_ident()
    assert second != first


def test_when_the_first_fails_the_second_is_waited_for() -> None:
    finished = threading.Event()

    def fails() -> None:
        raise ValueError("cancelled")

    def slow() -> None:
        time.sleep(0.2)
        finished.set()

    with pytest.raises(ValueError, match="cancelled"):
        parallel.both(fails, slow)
    assert finished.is_set()


def test_an_error_of_the_second_is_raised() -> None:
    def fails() -> int:
        raise ValueError("second")

    with pytest.raises(ValueError, match="second"):
        parallel.both(lambda: 1, fails)


def test_with_every_core_busy_both_runs_the_two_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two cores, whatever this machine has: an outer `both` holds the one free core, so an inner one, on the caller
    # or on the helper, that handed work to a third thread would only share a core with it. (A helper must never
    # wait for another helper anyway.)
    monkeypatch.setattr(parallel, "_free_cores", threading.Semaphore(1))

    def inner() -> tuple[int, int]:
        return parallel.both(threading.get_ident, threading.get_ident)

    for _ in range(3):
        caller_done = threading.Event()

        def on_caller(caller_done: threading.Event = caller_done) -> tuple[int, int]:
            result = inner()
            caller_done.set()
            return result

        def on_helper(caller_done: threading.Event = caller_done) -> tuple[int, int]:
            result = inner()
            caller_done.wait(5)  # holds the core until the caller's inner `both` has run
            return result

        mine, helpers = parallel.both(on_caller, on_helper)
        assert helpers[0] == helpers[1]
        assert mine[0] == mine[1] == threading.get_ident()
    first, second = parallel.both(threading.get_ident, threading.get_ident)
    assert first != second  # the core is free again once a `both` returns, error or not


def test_the_core_is_given_back_when_the_second_fails() -> None:
    def fails() -> None:
        raise ValueError("second")

    with pytest.raises(ValueError, match="second"):
        parallel.both(lambda: None, fails)
    first, second = parallel.both(threading.get_ident, threading.get_ident)
    assert first != second


def test_the_core_comes_back_when_the_helper_is_done_while_the_caller_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The tariff cost finishes before the disruption's sweeps: these then get the core it had.
    monkeypatch.setattr(parallel, "_free_cores", threading.Semaphore(1))
    helper_done = threading.Event()

    def on_caller() -> tuple[int, int]:
        assert helper_done.wait(5)
        for _ in range(500):  # the helper frees its core just after its work returns
            first, second = parallel.both(threading.get_ident, threading.get_ident)
            if first != second:
                break
            time.sleep(0.01)
        return first, second

    (first, second), _ = parallel.both(on_caller, helper_done.set)
    assert first == threading.get_ident()
    assert second != first


def test_split_runs_both_shares_at_once_and_with_every_core_busy_one_share_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meeting = threading.Barrier(2, timeout=5)  # two shares run in turn would never meet: BrokenBarrierError

    def work(me: int, threads: int) -> tuple[int, int, int]:
        if threads == 2:
            meeting.wait()
        return me, threads, threading.get_ident()

    mine, theirs = parallel.split(work, abandon=meeting.abort)
    assert mine == (0, 2, threading.get_ident())
    assert theirs[:2] == (1, 2)
    assert theirs[2] != mine[2]
    monkeypatch.setattr(parallel, "_free_cores", threading.Semaphore(0))
    assert parallel.split(work, abandon=meeting.abort) == [(0, 1, threading.get_ident())]


@pytest.mark.parametrize("failing", [0, 1])
def test_split_abandons_the_other_share_when_one_fails_and_raises_its_error(failing: int) -> None:
    released = threading.Event()

    def work(me: int, threads: int) -> None:
        if me == failing:
            raise ValueError(f"share {me}")
        assert released.wait(5), "never released"  # the other share waits until abandoned

    with pytest.raises(ValueError, match=f"share {failing}"):
        parallel.split(work, abandon=released.set)
    assert released.is_set()
    first, second = parallel.both(threading.get_ident, threading.get_ident)
    assert first != second  # the core is free again
