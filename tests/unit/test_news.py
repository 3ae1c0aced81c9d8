"""news: which joins and departures are named, per address, and how the rest are counted."""

from __future__ import annotations

from ftplab.news import MAX_ADDRESSES, NAMED_BURST, NAMED_PER_SECOND, SUMMARY_SECONDS, NewsBudget


def test_an_address_has_a_burst_named_then_one_a_second_and_other_addresses_are_untouched():
    budget = NewsBudget()
    assert all(budget.may_name("10.0.0.1", 0.0) for _ in range(NAMED_BURST))
    assert not budget.may_name("10.0.0.1", 0.0)
    assert budget.may_name("10.0.0.2", 0.0), "another computer is not held back"
    assert budget.may_name("10.0.0.1", 1.0 / NAMED_PER_SECOND)
    assert not budget.may_name("10.0.0.1", 1.0 / NAMED_PER_SECOND)


def test_a_class_behind_one_address_joining_over_half_a_minute_is_named_person_by_person():
    budget = NewsBudget()
    assert all(budget.may_name("nat", second) for second in range(30))


def test_what_is_not_named_is_counted_and_told_once_when_the_window_ends():
    budget = NewsBudget()
    for _ in range(700):
        budget.count("joined", 1.0)
    budget.count("left", 2.0)
    assert budget.due_summaries(1.0 + SUMMARY_SECONDS - 0.01) == []
    assert budget.due_summaries(1.0 + SUMMARY_SECONDS) == [("left", 1), ("joined", 700)]
    assert budget.due_summaries(100.0) == [], "told once"
    budget.count("left", 100.0)
    assert budget.due_summaries(100.0 + SUMMARY_SECONDS) == [("left", 1)], "a new window"


def test_the_addresses_remembered_are_bounded_and_idle_ones_forgotten():
    budget = NewsBudget()
    for number in range(MAX_ADDRESSES):
        assert budget.may_name(f"a{number}", 0.0)
    assert not budget.may_name("one too many", 0.0), "past the bound: counted, never named"
    later = NAMED_BURST / NAMED_PER_SECOND
    assert budget.may_name("one too many", later), "allowances that refilled are forgotten"
