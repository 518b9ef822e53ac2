"""Speed, run until paused and dense recording: in the Trainer, and through real workers."""

import os
import time
from pathlib import Path

import pytest

from lab.config import ConfigError, Limits, RunConfig
from lab.engine.pace import steps_per_second
from lab.engine.recording.recorder import Recorder
from lab.engine.trainer import Trainer
from tests.conftest import job_manager, run_step, wait_until

SMALL = dict(dataset="digits", subset=256, depth=2, width=32, batch_size=32)  # 8 steps per epoch
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def test_speed_is_a_validated_config_field_in_the_url():
    cfg = RunConfig.from_query({"speed": "watch", "until_paused": "true"})
    assert cfg.speed == "watch" and cfg.until_paused
    assert RunConfig().speed == "max"  # the CLI, the workflows and plain Trainers keep full speed
    with pytest.raises(ConfigError, match="speed"):
        RunConfig.from_query({"speed": "slow"})


def test_dense_recording_when_paced_stays_bounded():
    cfg = RunConfig(**SMALL, epochs=25)  # 200 steps: watch paces them at 10 a second
    full = Trainer(cfg).fit()
    paced = Trainer(cfg.replace(speed="watch"))
    paced.advance(paced.total_steps)  # advance() never sleeps: the recorder still sees the pace's idle time
    assert paced.done and paced.step == full.step == 200
    n_full, n_paced = len(full.history.snapshots), len(paced.history.snapshots)
    # Up to every step (5 ms of recording a step: a twentieth of the pace's 100 ms; fewer on a busy machine); full speed
    # records within its 0.5% budget, about 20 snapshots here.
    assert n_paced >= 60 and n_paced >= 2 * n_full
    # Same curve: the pace changes when steps happen and what is recorded, never what they compute.
    assert [r["train_loss"] for r in paced.history.train] == [r["train_loss"] for r in full.history.train]
    small = Trainer(cfg.replace(speed="watch"), record=Recorder(max_snapshots=40))
    small.advance(small.total_steps)
    assert 10 <= len(small.history.snapshots) <= 40  # thinned as at full speed: the history stays bounded


def test_until_paused_trains_past_its_epochs_up_to_the_step_limit():
    tr = Trainer(RunConfig(**SMALL, epochs=1, until_paused=True), limits=Limits(max_steps=60)).fit()
    assert tr.status == "completed" and tr.step == 60 > tr.planned_steps == 8
    assert "step limit" in tr.reason
    assert len(tr.history.snapshots) <= tr.recorder.max_snapshots


def test_fit_keeps_the_pace():
    """`python -m lab train --set speed=fast` is paced too: fit() sleeps between steps."""
    cfg = RunConfig(**SMALL, max_steps=12, speed="fast")
    rate = steps_per_second("fast", 12)
    t0 = time.monotonic()
    tr = Trainer(cfg).fit()
    assert tr.step == 12 and time.monotonic() - t0 >= (12 - 1) / rate


@pytest.fixture(scope="module")
def jm(tmp_path_factory):
    with job_manager(tmp_path_factory.mktemp("pace"), workers=1, max_runs_per_session=4, max_active_runs=8) as manager:
        yield manager


def test_paced_run_takes_its_time_and_little_cpu(jm):
    cfg = RunConfig(**SMALL, max_steps=40, speed="fast")  # 20 steps a second: about 2 s
    pid = jm.worker_pids()[0]
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    rid = jm.submit(cfg, owner="pace")
    run = jm.wait(rid, 60)
    wall, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
    assert run["status"] == "completed" and run["summary"]["steps"] == 40
    assert wall >= (40 - 1) / steps_per_second("fast", 40)
    assert cpu < 0.5 * wall  # the worker slept through the pace (a busy loop would use all of it)
    assert len(jm.store.snapshots(rid)) >= 10  # and recorded densely meanwhile (about 4 at full speed)


def test_speed_change_and_pause_take_effect_mid_run(jm):
    rid = jm.submit(RunConfig(**SMALL, epochs=25, speed="watch"), owner="speed")  # 200 steps at 10 a second
    assert wait_until(lambda: run_step(jm, rid) >= 3)
    jm.pause(rid)
    assert wait_until(lambda: jm.store.get_run(rid)["status"] == "paused")
    held = run_step(jm, rid)
    time.sleep(0.5)
    assert run_step(jm, rid) == held < 200
    jm.step(rid, 1)
    assert wait_until(lambda: run_step(jm, rid) == held + 1)
    jm.resume(rid)
    jm.speed(rid, "max")
    assert jm.store.get_run(rid)["config"]["speed"] == "max"  # a Fork or a reload sees the Speed it has now
    run = jm.wait(rid, 60)  # at 10 steps a second the rest would take 20 s; at max it is done at once
    assert run["status"] == "completed" and run["summary"]["steps"] == 200
    with pytest.raises(ConfigError, match="speed='zoom'"):
        jm.speed(rid, "zoom")


def test_epoch_on_a_paused_watched_run_plays_at_its_pace_and_stays_paused(jm):
    rid = jm.submit(RunConfig(**SMALL, epochs=25, speed="watch"), owner="stepping", paused=True)  # 10 steps a second
    assert wait_until(lambda: jm.store.get_run(rid)["status"] == "paused")
    t0 = time.monotonic()
    jm.step(rid, "epoch")
    seen = []

    def settled() -> bool:
        row = jm.store.get_run(rid)
        seen.append((row["status"], row["reason"], row["meta"].get("step", 0)))
        return row["meta"].get("step", 0) == 8 and row["reason"] == ""

    assert wait_until(settled, timeout=30)
    assert time.monotonic() - t0 >= (8 - 1) / steps_per_second("watch", 200)  # played, not done in a blink
    assert {status for status, _, _ in seen} == {"paused"}  # the page keeps its Resume button all along
    assert ("paused", "stepping to step 8") in {(status, reason) for status, reason, _ in seen}
    time.sleep(0.5)
    assert run_step(jm, rid) == 8  # settled at the end of the epoch
    jm.step(rid, 1)  # one step needs no pace: it happens at once
    assert wait_until(lambda: run_step(jm, rid) == 9)
    jm.speed(rid, "max")
    jm.step(rid, "epoch")  # at full speed the epoch happens at once, as before
    assert wait_until(lambda: run_step(jm, rid) == 16)
    jm.stop(rid)
    assert jm.wait(rid, 30)["status"] == "stopped"


def test_until_paused_keeps_training_until_pause_and_stop(jm):
    rid = jm.submit(RunConfig(**SMALL, epochs=1, until_paused=True), owner="until")
    assert wait_until(lambda: run_step(jm, rid) > 5 * 8)  # past its one epoch
    jm.pause(rid)
    assert wait_until(lambda: jm.store.get_run(rid)["status"] == "paused")
    jm.stop(rid)
    run = jm.wait(rid, 30)
    assert run["status"] == "stopped" and run["summary"]["steps"] > 8
