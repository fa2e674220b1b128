"""Fault rules: matching, skip/times, seeded probability, garbling, bad specs."""

import pytest

from sim_instruments.faults import Fault, FaultInjector, FaultKind


def test_skip_and_times_select_which_matches_fire():
    inj = FaultInjector(faults=[Fault("timeout", match=r"^READ", skip=2, times=2)])
    fired = [
        inj.check(cmd) is not None for cmd in ["READ?", "*IDN?", "READ?", "READ?", "READ?", "READ?"]
    ]
    assert fired == [False, False, False, True, True, False]


def test_first_matching_rule_wins_and_unlimited_times():
    inj = FaultInjector()
    inj.add({"kind": "garble", "match": "MEAS", "times": -1})
    inj.add(Fault(FaultKind.DROP))
    assert all(inj.check("MEAS:VOLT?").kind is FaultKind.GARBLE for _ in range(5))
    assert inj.check("OUTP?").kind is FaultKind.DROP
    assert inj.check("OUTP?") is None  # the drop rule fired its one time


def test_probabilistic_faults_repeat_exactly_under_a_seed():
    def sequence(seed):
        inj = FaultInjector(seed, [Fault("spike", probability=0.3, times=-1)])
        return [inj.check("READ?") is not None for _ in range(200)]

    assert sequence(5) == sequence(5)
    assert sequence(5) != sequence(6)
    assert 30 < sum(sequence(5)) < 90


def test_garble_is_reproducible_and_keeps_length():
    a, b = FaultInjector(1), FaultInjector(1)
    reply = "+1.234567E-03,+2.000000E+00"
    assert a.garble(reply) == b.garble(reply) != reply
    assert len(a.garble(reply)) == len(reply)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"kind": "melt"}, "melt"),
        ({"kind": "slow", "probability": 2}, "probability"),
        ({"kind": "slow", "match": "("}, "not a valid regex"),
        ({"kind": "slow", "colour": "red"}, "unknown fault field"),
    ],
)
def test_bad_fault_specs_are_refused_clearly(spec, fragment):
    with pytest.raises(ValueError, match=fragment):
        Fault.from_dict(spec)
