"""StoreWriter: the first step is written at once, later steps at most every `interval`, and on demand."""

from lab.config import RunConfig
from lab.engine.trainer import Trainer
from lab.serving.persist import StoreWriter
from lab.serving.store import RunStore


def test_writes_first_step_then_batches_until_due(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    rid = store.create_run({}, status="queued")
    writer = StoreWriter(store, rid, interval=3600.0)
    trainer = Trainer(RunConfig(dataset="spiral", epochs=5), callbacks=[writer])
    trainer.advance(1)
    assert store.get_run(rid)["meta"]["step"] == 1  # a Start shows progress after one step
    trainer.advance(20)
    assert store.get_run(rid)["meta"]["step"] == 1  # not due yet: nothing more written
    assert writer.flush_if_due(trainer) is False
    writer.interval = 0.0
    assert writer.flush_if_due(trainer) is True
    assert store.get_run(rid)["meta"]["step"] == 21
    steps = [r["step"] for r in store.metrics(rid)]
    assert steps == sorted(steps) and steps[-1] <= 21 and len(steps) > 1
    store.close()
