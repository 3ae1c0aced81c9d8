from ftplab.session import Allowance


def test_allowance_gives_the_burst_at_once_then_refills_at_its_rate():
    allowance = Allowance(rate=5.0, burst=20, now=0.0)
    assert sum(allowance.take(0.0) for _ in range(30)) == 20
    assert not allowance.take(0.1)  # half a token
    assert allowance.take(0.2)
    assert not allowance.take(0.2)


def test_allowance_never_holds_more_than_its_burst():
    allowance = Allowance(rate=5.0, burst=20, now=0.0)
    assert sum(allowance.take(1000.0) for _ in range(30)) == 20


def test_allowance_warns_once_per_run_of_refusals():
    allowance = Allowance(rate=1.0, burst=1, now=0.0)
    assert allowance.take(0.0)
    assert not allowance.take(0.0)
    assert [allowance.should_warn() for _ in range(3)] == [True, False, False]
    assert allowance.take(1.0)
    assert not allowance.take(1.0)
    assert allowance.should_warn()
