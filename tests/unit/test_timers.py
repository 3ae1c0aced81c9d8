"""The loop's timer heap: what is due comes out in order, nothing else does."""

from __future__ import annotations

import gc
import math
import weakref

from ftplab.timers import STALE_SLACK, Timers


def test_only_what_is_due_comes_out_in_order_and_once():
    timers = Timers()
    for name, due in (("c", 30.0), ("a", 10.0), ("b", 20.0)):
        timers.schedule(name, due)
    assert timers.due(9.9) == []
    assert timers.due(20.0) == ["a", "b"]
    assert timers.due(20.0) == [], "taken items are unscheduled until scheduled again"
    assert timers.due(math.inf) == ["c"]


def test_an_earlier_time_replaces_a_later_one_and_its_old_entry_is_skipped():
    timers = Timers()
    timers.schedule("a", 50.0)
    timers.schedule("a", 10.0)
    assert timers.due(10.0) == ["a"]
    assert timers.due(50.0) == [], "the stale entry at 50 is skipped"


def test_a_later_time_leaves_the_earlier_one_standing():
    """The item is looked at at the earlier time and says its new one then."""
    timers = Timers()
    timers.schedule("a", 10.0)
    timers.schedule("a", 50.0)
    assert timers.due(10.0) == ["a"]
    timers.schedule("a", 50.0)
    assert timers.due(49.0) == []
    assert timers.due(50.0) == ["a"]


def test_rescheduled_at_the_time_of_a_stale_entry_it_comes_out_once():
    timers = Timers()
    timers.schedule("a", 20.0)
    timers.schedule("a", 10.0)
    assert timers.due(10.0) == ["a"]
    timers.schedule("a", 20.0)
    assert timers.due(20.0) == ["a"]
    assert len(timers) == 0


def test_cancelled_and_never_due_items_never_come_out():
    timers = Timers()
    timers.schedule("gone", 10.0)
    timers.cancel("gone")
    timers.schedule("never", math.inf)
    assert timers.due(math.inf) == []
    assert len(timers) == 0


class Item:
    """Something that can be scheduled and whose end a weak reference sees."""


def test_cancelled_items_are_not_kept_until_their_time():
    """A crowd of 1,000 that came and went: the heap lets go of (nearly) all of them at once."""
    timers = Timers()
    items = [Item() for _ in range(1000)]
    for index, item in enumerate(items):
        timers.schedule(item, 600.0 + index)
    alive = [weakref.ref(item) for item in items]
    for item in items:
        timers.cancel(item)
    del items, item
    gc.collect()
    assert sum(ref() is not None for ref in alive) <= STALE_SLACK
