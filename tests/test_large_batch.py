"""Large-batch planning: the four arms, the training-set arithmetic, and the effect the page describes."""

import pytest

from lab.config import ConfigError, Limits, RunConfig
from lab.engine.data import load_data
from lab.engine.optim import preview_schedule
from lab.engine.trainer import Trainer
from lab.workflows import large_batch as lb


@pytest.mark.parametrize(
    "cfg",
    [
        RunConfig(),
        RunConfig(dataset="shapes", val_fraction=0.3),
        RunConfig(subset=500),
        RunConfig(dataset="spiral", toy_samples=333),
    ],
)
def test_train_size_matches_load_data(cfg):
    assert lb.train_size(cfg) == len(load_data(cfg).x_train)


def test_plan_builds_the_four_arms():
    arms = lb.plan(lb.DEMO, small=32, factor=8, warmup_epochs=2)
    assert [a.key for a in arms] == list(lb.ARMS)
    assert [a.cfg.batch_size for a in arms] == [32, 256, 256, 256]
    assert [a.cfg.lr for a in arms] == pytest.approx([0.05, 0.05, 0.4, 0.4])
    n_train = len(load_data(lb.DEMO).x_train)  # 1437 digits: 5 steps of 256 per epoch
    assert [a.steps_per_epoch() for a in arms] == [n_train // 32] + [n_train // 256] * 3
    assert [a.cfg.warmup_steps for a in arms] == [0, 0, 0, 2 * (n_train // 256)]
    assert {a.cfg.epochs for a in arms} == {lb.DEMO.epochs}
    lrs = preview_schedule(arms[3].cfg, 20)
    assert lrs[0] == pytest.approx(0.4 / 10) and lrs[10] == pytest.approx(0.4)  # the ramp reaches k x lr


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"factor": 1}, "factor"),
        ({"small": 256, "factor": 8}, "batch_size"),
        ({"warmup_epochs": 0}, "warmup_epochs"),
        ({"factor": 64}, "batch_size"),
    ],
)
def test_plan_rejects_bad_values_by_name(kwargs, field):
    with pytest.raises(ConfigError) as e:
        lb.plan(lb.DEMO, **kwargs, limits=Limits(max_batch=1024))
    assert e.value.field == field


def test_warmup_rescues_the_scaled_rate_on_the_demo():
    """What the page claims, on its demo setup: scaling without warmup fails, with warmup it works."""
    data = load_data(lb.DEMO)
    acc = {}
    for arm in lb.plan(lb.DEMO):
        tr = Trainer(arm.cfg, data=data, record=False).fit()
        acc[arm.key] = tr.last_eval["val_acc"]
    assert acc["small"] > acc["large"]  # same rate, 8x fewer steps: behind after the same epochs
    assert acc["large_warmup"] > acc["large_scaled"] + 0.2  # 8x rate from random weights: stuck without warmup
    assert acc["large_warmup"] > acc["large"]


def test_epoch_series_and_summary_rows():
    rows = [
        {"step": 5, "epoch": 1.0, "val_loss": 0.5},
        {"step": 10, "epoch": 2.0},
        {"step": 15, "epoch": 3.0, "val_loss": 0.25},
    ]
    assert lb.epoch_series(rows, "val_loss") == ([1.0, 3.0], [0.5, 0.25])
    arm = lb.plan(lb.DEMO)[0]
    waiting = lb.arm_summary(arm, None)
    assert waiting["status"] == "waiting" and waiting["batch"] == 32
    done = lb.arm_summary(arm, {"status": "completed", "summary": {"val_acc": 0.9, "steps": 660}})
    assert done["val acc"] == 0.9 and done["steps"] == 660


class FakeJobs:
    """A job manager with room for `room` runs that refuses rates above max_lr as invalid."""

    def __init__(self, room, max_lr=10.0):
        self.room, self.max_lr, self.submitted = room, max_lr, []

    def submit(self, cfg, owner="", label=""):
        from lab.serving.jobs import CapacityError

        if cfg.lr > self.max_lr:  # validation comes first, as in JobManager.submit
            raise ConfigError("lr", cfg.lr, f"at most {self.max_lr} here")
        if len(self.submitted) >= self.room:
            raise CapacityError("full")
        self.submitted.append((cfg.batch_size, owner, label))
        return f"run{len(self.submitted)}"


def test_comparison_submits_as_room_frees_and_reports_refusals():
    comp = lb.Comparison(lb.plan(lb.DEMO))
    jobs = FakeJobs(room=2)
    comp.submit_waiting(jobs, "tok:large-batch")
    assert comp.runs == {"small": "run1", "large": "run2"} and comp.waiting
    jobs.room, jobs.max_lr = 10, 0.3
    comp.submit_waiting(jobs, "tok:large-batch")
    # the scaled arms (lr 0.4) are refused with the reason, and nothing waits any more
    assert comp.runs == {"small": "run1", "large": "run2", "large_scaled": None, "large_warmup": None}
    assert not comp.waiting and len(comp.errors) == 2 and "lr=0.4" in comp.errors[0]
    assert jobs.submitted[0] == (32, "tok:large-batch", "large batch: batch 32, lr 0.05")


# ---- reading the runs (what the page shows) ---------------------------------------------------------------------


def _rows():
    return {
        "small": {"status": "completed", "summary": {"val_acc": 0.9, "val_loss": 0.3, "steps": 100}},
        "large": {"status": "diverged", "summary": {}},
        "large_scaled": {"status": "running", "summary": {}},
    }


def test_results_table_counts_and_words_the_arms():
    arms = lb.plan(lb.DEMO)
    table = lb.results_table(arms, _rows())
    assert [r["arm"] for r in table] == [a.label for a in arms]
    assert [r["status"] for r in table] == ["completed", "diverged", "running", "waiting"]
    assert lb.ended(table) == 2
    lines = lb.results_text(table).split("  \n")
    assert lines[0] == f"**{arms[0].label}**: 90.0% validation accuracy, loss 0.300, 100 steps"
    assert lines[1] == f"**{arms[1].label}**: diverged (diverged)"


def test_arm_series_gives_every_arm_its_epochs_and_values():
    arms = lb.plan(lb.DEMO)
    rows = {"small": [{"epoch": 1, "val_loss": 1.0}, {"epoch": 2, "val_loss": None}, {"epoch": 2.0, "val_loss": 0.5}]}
    series = lb.arm_series(arms, rows, "val_loss")
    assert series[0] == (arms[0].label, [1, 2.0], [1.0, 0.5])
    assert series[1:] == [(a.label, [], []) for a in arms[1:]]
