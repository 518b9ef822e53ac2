"""The recorder's cadence and the pace rule: pure Python, tested without torch."""

import subprocess
import sys

import pytest

from lab.engine import pace
from lab.engine.pace import Pacer, steps_per_second
from lab.engine.recording.cadence import Cadence


def test_modules_import_without_torch():
    """The cadence scheduler and the pace rule are plain Python: importing them loads no torch."""
    code = (
        "import sys, lab.engine.recording.cadence, lab.engine.pace; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_fixed_cadence_records_every_k_steps_and_doubles_when_thinned():
    c = Cadence(every=5)
    steps = []
    for done in range(20):  # `done` steps finished before the step that may record
        if c.due(done):
            steps.append(done + 1)
            c.recorded(done + 1, cost=1.0)
    assert steps == [1, 6, 11, 16]
    c.thinned()
    assert c.gap() == 10


def test_adaptive_gap_keeps_records_within_the_budget():
    c = Cadence(budget=0.25)  # binary-exact figures: the gap is a ceiling
    c.planned_steps = 100_000
    c.step_cost = 0.5
    c.recorded(1, cost=99.0)  # the first record only sets the probe gap
    assert c.next_record == 1 - 1 + c.probe_gap
    c.recorded(11, cost=2.5)
    # a record worth 5 steps, paid for by steps that may spend a quarter of their time on it: 20 steps
    assert c.gap() == 20 and c.next_record == 11 - 1 + 20


def test_adaptive_gap_never_gives_fewer_than_min_snapshots():
    c = Cadence(budget=0.005, min_snapshots=30)
    c.planned_steps = 3000
    c.step_cost = 0.001
    c.recorded(1, 0.0)
    c.recorded(11, cost=1.0)  # a record that costs 1,000 steps would mean a gap of 200,000
    assert c.gap() == 3000 // 30


def test_a_pace_raises_the_budget_to_dense_recording():
    c = Cadence(budget=0.005, max_snapshots=300)
    c.planned_steps = 220
    c.step_cost = 0.0005
    c.recorded(1, 0.0)
    c.recorded(11, cost=0.001)
    assert c.gap() == c.probe_gap  # unpaced: the budget alone would want 400, min_snapshots caps it
    c.set_period(1 / 11)  # watch: 11 steps a second, 90 ms per step of which 0.5 ms trains
    assert c.gap() == 1 and c.next_record == 11  # rescheduled at once: the next step records
    c.set_period(0.0)
    assert c.gap() == c.probe_gap


def test_dense_recording_stays_within_what_the_history_keeps():
    c = Cadence(max_snapshots=300, dense_cpu=1.0)  # the idle-time rule alone
    c.planned_steps = 3000
    c.step_cost = 0.0005
    c.period = 1 / 100
    c.recorded(1, 0.0)
    c.recorded(2, cost=0.001)
    assert c.gap() == 10  # 3,000 steps / 300 snapshots: recording more would only be thinned away
    c.period = 1 / 1000  # a pace with little idle time left: the time budget decides
    c.recorded(12, cost=0.002)
    assert c.gap() == 10  # the time budget would allow every 8th step; the history's floor of 10 holds
    c.record_cost = 0.02
    assert c.gap() == 80  # 20 ms within half of the 0.5 ms idle time per step


def test_dense_recording_stays_within_a_twentieth_of_a_core_per_worker():
    c = Cadence(max_snapshots=300)
    c.planned_steps = 220
    c.step_cost = 0.0005
    c.recorded(1, 0.0)
    c.recorded(2, cost=0.0019)
    c.set_period(0.1)  # 10 steps a second: 50 ms of idle time a step, but a twentieth of a core is 5 ms
    assert c.gap() == 1
    c.set_period(0.1, share=1 / 15)  # fifteen paced runs on this worker: 0.33 ms each per step
    assert c.gap() == 6 and c.next_record == 2 - 1 + 6


def test_pace_rule():
    assert steps_per_second("max", 220) == 0.0
    assert steps_per_second("watch", 220) == pytest.approx(220 / pace.WATCH_SECONDS)  # the default digits MLP
    assert steps_per_second("watch", 720) == pytest.approx(36.0)  # the spiral 3x32 demo: 20 s as well
    assert steps_per_second("watch", 10) == pace.MIN_RATE
    assert steps_per_second("watch", 1_000_000) == pace.MAX_RATE
    assert steps_per_second("fast", 220) == pytest.approx(4 * 11.0)
    with pytest.raises(ValueError, match="speed"):
        steps_per_second("slow", 220)


def test_pacer_owes_steps_at_its_rate_and_never_bursts():
    p = Pacer(10.0, now=100.0)
    assert p.owed(100.0) == 1 and p.wait(100.0) == 0.0
    p.took(1, 100.0)
    assert p.owed(100.05) == 0 and p.wait(100.05) == pytest.approx(0.05)
    assert p.owed(100.1) == 1
    assert p.owed(100.25) == 2  # a late turn makes up the steps it missed...
    assert p.owed(150.0) == 1 + int(pace.MAX_LAG * 10)  # ...but not those of a long stall
    p.took(1, 150.0)
    assert p.next_due == pytest.approx(150.0 - pace.MAX_LAG + 0.1)
    p.restart(200.0)
    assert p.owed(200.0) == 1
    p.set_rate(0.0, 200.0)
    assert p.wait(200.0) == 0.0 and p.owed(200.0) >= 10**6  # unpaced: never limited
