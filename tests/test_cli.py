"""The CLI as a user runs it: a real subprocess, real store, exit codes."""

import itertools
import json
import math
import subprocess
import sys

import pytest

from lab.cli import main


def _cli(*args, store=None, timeout=240):
    extra = ["--store", str(store)] if store and args[0] in ("train", "list", "export", "delete") else []
    return subprocess.run([sys.executable, "-m", "lab", *args, *extra], capture_output=True, text=True, timeout=timeout)


def test_train_json_summary_and_store(tmp_path):
    db = tmp_path / "runs.db"
    r = _cli("train", "--set", "subset=300", "--set", "epochs=3", "--set", "seed=3", "--json", store=db)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in (
        "run_id",
        "status",
        "steps",
        "initial_loss",
        "train_loss",
        "val_loss",
        "train_acc",
        "val_acc",
        "best_val_acc",
        "hints",
    ):
        assert key in out
    assert out["status"] == "completed" and out["steps"] == 3 * (300 // 64)
    assert abs(out["initial_loss"] - math.log(10)) < 0.5
    assert "[" in r.stderr  # the progress bar went to stderr
    listed = _cli("list", "--json", store=db)
    assert json.loads(listed.stdout)[0]["id"] == out["run_id"]
    exported = _cli("export", out["run_id"], "--format", "csv", store=db)
    assert exported.returncode == 0 and exported.stdout, (exported.returncode, exported.stderr)  # say why if not
    csv_text = exported.stdout
    assert csv_text.splitlines()[0].startswith("step,epoch,train_loss")
    exported = json.loads(_cli("export", out["run_id"], store=db).stdout)
    assert exported["status"] == "completed" and exported["val"]


def test_train_from_config_file(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"dataset": "xor", "depth": 1, "width": 8, "epochs": 2}))
    assert (
        main(
            ["train", "--config", str(cfg), "--set", "lr=0.01", "--json", "--quiet", "--store", str(tmp_path / "r.db")]
        )
        == 0
    )


def test_overfit_batches_from_cli(tmp_path, capsys):
    code = main(
        [
            "train",
            "--set",
            "overfit_batches=5",
            "--set",
            "batch_size=32",
            "--set",
            "epochs=60",
            "--set",
            "width=128",
            "--json",
            "--quiet",
            "--store",
            str(tmp_path / "r.db"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["train_acc"] == 1.0


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "--set", "activation=relux"], "activation='relux'"),
        (["train", "--set", "lr=fast"], "lr='fast'"),
        (["train", "--set", "lr"], "KEY=VALUE"),
        (["train", "--set", "colour=red"], "unknown setting"),
        (["train", "--config", "/nonexistent.json"], "cannot read"),
        (["init-stats", "--init", "magic"], "init='magic'"),
        (["init-stats", "--depth", "0"], "depth=0"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, words, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


def test_bad_input_subprocess_has_no_traceback():
    r = _cli("train", "--set", "optimizer=lbfgs")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "choose one of: sgd" in r.stderr


def test_offline_dataset_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TRAINING_LAB_DATA_DIR", str(tmp_path / "empty"))
    assert main(["train", "--set", "dataset=mnist", "--quiet", "--store", str(tmp_path / "r.db")]) == 2
    err = capsys.readouterr().err
    assert "mnist" in err and "digits" in err


def test_init_stats_json():
    r = _cli("init-stats", "--depth", "4", "--width", "100", "--activation", "tanh", "--init", "small_normal", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    stds = [row["std"] for row in out["layers"]]
    assert len(stds) == 4 and all(b < a for a, b in itertools.pairwise(stds))
