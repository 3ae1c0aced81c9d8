"""Failed FTP logins (issue 17, item 6): a growing delay before the 530, a
per-address budget past which the address is refused with 421, each failure
logged at a bounded rate. Sessions are fed lines; the guard runs on a clock
the test moves."""

from __future__ import annotations

import logging

import pytest

from ftplab import accounts, ftp, logins
from ftplab.accounts import Account, Accounts
from ftplab.logins import LoginGuard
from support.ftp_loop import FakeLoop, make_session


@pytest.fixture
def root(tmp_path):
    return tmp_path


@pytest.fixture
def guard(clock):
    return LoginGuard(clock)


def codes(replies):
    return [int(r[:3]) for r in replies]


def connect(root, guard, peer=("127.0.0.1", 40000), **loop_options) -> FakeLoop:
    loop = FakeLoop(make_session(root, password="clave", logins=guard, peer=peer), **loop_options)
    loop.run()
    return loop


def test_the_530_waits_for_the_delay_and_so_do_pipelined_guesses(root, guard):
    loop = connect(root, guard, hold_delays=True)
    replies = loop.feed(b"USER ana\r\nPASS 1\r\nUSER ana\r\nPASS 2\r\n")
    assert codes(replies) == [331]
    assert loop.delays == [logins.FIRST_DELAY_SECONDS]
    assert not loop.session.has_work and not loop.session.wants_data  # the next guess waits unread
    replies = loop.event(ftp.DelayOver())
    assert codes(replies) == [530, 331]
    assert loop.delays == [logins.FIRST_DELAY_SECONDS, 2 * logins.FIRST_DELAY_SECONDS]


def test_delays_grow_per_address_across_connections(root, guard):
    delays = []
    for _ in range(6):
        loop = connect(root, guard)
        assert codes(loop.feed(b"USER ana\r\nPASS mala\r\n")) == [331, 530]
        delays += loop.delays
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, logins.MAX_DELAY_SECONDS]


def test_past_the_budget_the_address_is_refused_and_others_are_not(root, guard, clock):
    for attempt in range(logins.BUDGET):
        loop = connect(root, guard)
        replies = loop.feed(b"USER ana\r\nPASS mala\r\n")
        expected = 421 if attempt == logins.BUDGET - 1 else 530
        assert codes(replies) == [331, expected]
    refused = connect(root, guard)
    replies = refused.feed(b"USER ana\r\nPASS clave\r\n")
    assert codes(replies) == [421]  # the right password is not even looked at
    assert "5 min" in replies[0] and refused.session.closed
    other = connect(root, guard, peer=("127.0.0.2", 40000))
    assert codes(other.feed(b"USER eva\r\nPASS clave\r\n")) == [331, 230]
    clock.now += logins.BLOCK_SECONDS + 1
    again = connect(root, guard)
    assert codes(again.feed(b"USER ana\r\nPASS clave\r\n")) == [331, 230]


def test_a_block_reaches_a_connection_waiting_between_user_and_pass(root, guard):
    waiting = connect(root, guard)
    assert codes(waiting.feed(b"USER ana\r\n")) == [331]
    for _ in range(logins.BUDGET):
        guard.failed("127.0.0.1", "x")
    assert codes(waiting.feed(b"PASS clave\r\n")) == [421]


def test_failures_older_than_the_window_are_forgotten(root, guard, clock):
    for _ in range(logins.BUDGET - 1):
        guard.failed("127.0.0.1", "ana")
    clock.now += logins.WINDOW_SECONDS + 1
    assert guard.failed("127.0.0.1", "ana") == logins.FIRST_DELAY_SECONDS
    assert guard.blocked_for("127.0.0.1") == 0


def test_a_right_password_forgives_its_address(root, guard):
    for _ in range(logins.BUDGET - 1):
        guard.failed("127.0.0.1", "ana")
    loop = connect(root, guard)
    assert codes(loop.feed(b"USER ana\r\nPASS clave\r\n")) == [331, 230]
    assert guard.failed("127.0.0.1", "ana") == logins.FIRST_DELAY_SECONDS


def test_no_password_means_no_failures(root, guard):
    loop = FakeLoop(make_session(root, logins=guard))
    loop.run()
    assert codes(loop.feed(b"USER ana\r\nPASS cualquiera\r\n")) == [331, 230]
    assert loop.delays == []


def test_failures_are_logged_at_a_bounded_rate(guard, clock, caplog):
    caplog.set_level(logging.INFO, logger="ftplab.server")
    for _ in range(logins.BUDGET + 5):
        guard.failed("127.0.0.1", "ana\x1b[2J")
        clock.now += 0.1
    failed = [r.getMessage() for r in caplog.records if "failed FTP login from" in r.getMessage()]
    refused = [r.getMessage() for r in caplog.records if "refused for" in r.getMessage()]
    first = "failed FTP login from 127.0.0.1 as ana\\x1b[2J (1 in the last 600 s; 0 more not logged)"
    assert failed == [first]
    assert len(refused) == 1
    clock.now += logins.LOG_EVERY_SECONDS
    guard.failed("127.0.0.1", "ana")
    last = caplog.records[-1].getMessage()
    assert last.endswith(f"({logins.BUDGET} in the last 600 s; 14 more not logged)")


def test_the_addresses_remembered_are_bounded(guard):
    for number in range(logins.MAX_ADDRESSES + 10):
        guard.failed(f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}", "x")
    assert len(guard._addresses) == logins.MAX_ADDRESSES
    assert guard.failed("10.0.0.0", "x") == logins.FIRST_DELAY_SECONDS  # the oldest was forgotten


def test_password_checks_are_rationed_per_address_and_for_everyone(guard, clock):
    """Each check is one scrypt in the loop's thread: right or wrong, they wait their turn."""
    for _ in range(logins.ADDRESS_CHECK_BURST):
        assert guard.check_wait("127.0.0.1") == 0.0
    wait = guard.check_wait("127.0.0.1")
    assert wait == pytest.approx(1 / logins.ADDRESS_CHECKS_PER_SECOND)
    assert guard.check_wait("127.0.0.2") == 0.0  # another address has its own
    clock.now += wait
    assert guard.check_wait("127.0.0.1") == 0.0
    addresses = (f"10.0.{n // 200}.{n % 200}" for n in range(10_000))
    granted = 0
    while guard.check_wait(next(addresses)) == 0.0:
        granted += 1
    refilled = round(wait * logins.CHECKS_PER_SECOND)
    assert granted == logins.CHECK_BURST - logins.ADDRESS_CHECK_BURST - 2 + refilled  # the global ration


def test_a_pass_over_the_ration_waits_for_it_then_logs_in(root, clock):
    guard = LoginGuard(clock=clock)
    while guard.check_wait("127.0.0.1") == 0.0:
        pass
    known = Accounts([Account("ana", frozenset({"download"}), accounts.hash_password("pw", n=16, r=1, p=1))])
    session = make_session(root, logins=guard, accounts=known, allow_clear_passwords=True)
    loop = FakeLoop(session, hold_delays=True)
    loop.run()
    assert codes(loop.feed(b"USER ana\r\nPASS pw\r\n")) == [331]
    assert loop.delays == [pytest.approx(1 / logins.ADDRESS_CHECKS_PER_SECOND)]
    clock.now += loop.delays[0]
    assert codes(loop.event(ftp.DelayOver())) == [230]
