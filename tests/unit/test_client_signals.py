"""The client's leaving signals: noted and woken on, raised only inside `raising()`.

Real signals, sent to this process (each test gives the handlers back)."""

from __future__ import annotations

import selectors
import signal

import pytest

from ftplab.client.signals import LeaveNow, LeaveSignals


def test_a_signal_is_noted_and_wakes_a_selector_but_raises_nothing():
    with LeaveSignals() as signals, selectors.DefaultSelector() as selector:
        selector.register(signals, selectors.EVENT_READ)
        signal.raise_signal(signal.SIGTERM)
        assert selector.select(timeout=10), "the selector woke"
        signals.woken()
        assert signals.caught == signal.SIGTERM
        assert selector.select(timeout=0) == [], "what the signal wrote is taken"


def test_the_first_signal_is_the_one_that_counts():
    with LeaveSignals() as signals:
        signal.raise_signal(signal.SIGHUP)
        signal.raise_signal(signal.SIGINT)
        signals.woken()
        assert signals.caught == signal.SIGHUP


def test_inside_raising_a_signal_ends_the_wait_with_leave_now():
    with LeaveSignals() as signals:
        with pytest.raises(LeaveNow) as leave, signals.raising():
            signal.raise_signal(signal.SIGQUIT)
        assert leave.value.signum == signal.SIGQUIT
        signal.raise_signal(signal.SIGTERM)  # outside again: noted only
        assert signals.caught == signal.SIGQUIT


def test_a_signal_caught_before_ends_a_wait_as_soon_as_it_begins():
    with LeaveSignals() as signals:
        signal.raise_signal(signal.SIGTERM)
        with pytest.raises(LeaveNow) as leave, signals.raising():
            pytest.fail("the wait began")
    assert leave.value.signum == signal.SIGTERM


def test_closing_gives_the_signals_and_the_wakeup_descriptor_back():
    before = signal.getsignal(signal.SIGTERM)
    signals = LeaveSignals()
    signals.install()
    assert signal.getsignal(signal.SIGTERM) is not before
    signals.close()
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.set_wakeup_fd(-1) == -1


def test_a_signal_ignored_at_the_start_stays_ignored():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with LeaveSignals() as signals:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)
            signals.woken()
            assert signals.caught is None
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)
