from __future__ import annotations

import os
import stat

import pytest
import torch
from ignite.engine import Engine, Events

from monai_genmed.handlers import AtomicDiskSaver, BestModelSaver, TrainingCheckpointer


def test_atomic_saver_writes_readable_whole_files(tmp_path):
    saver = AtomicDiskSaver(str(tmp_path))
    saver({"w": torch.arange(3)}, "ckpt.pt")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]
    mode = stat.S_IMODE(os.stat(tmp_path / "ckpt.pt").st_mode)
    assert mode & stat.S_IRGRP  # readable by colleagues, unlike ignite's 0600 temporary file
    assert torch.equal(torch.load(tmp_path / "ckpt.pt")["w"], torch.arange(3))


def test_best_model_saver_keeps_the_best_weights_as_a_bare_state_dict(tmp_path):
    net = torch.nn.Linear(2, 1)
    nmse_per_validation = iter([0.5, 0.3, 0.4])
    validator = Engine(lambda e, b: None)
    saver = BestModelSaver(net, str(tmp_path), metric_name="val_nmse", mode="min")
    saver.attach(validator)
    runs = []

    @validator.on(Events.EPOCH_COMPLETED)
    def set_metric_and_perturb(engine):
        runs.append(len(runs) + 1)
        engine.state.metrics["val_nmse"] = next(nmse_per_validation)
        with torch.no_grad():
            net.weight.fill_(float(len(runs)))  # weights of validation run k are all k

    for _ in range(3):  # as ValidationHandler does: one validator run per trainer epoch
        validator.run([0], max_epochs=1)
    state = torch.load(tmp_path / "model.pt")
    assert set(state) == {"weight", "bias"}  # loadable with net.load_state_dict
    torch.testing.assert_close(state["weight"], torch.full((1, 2), 2.0))  # run 2 had the lowest NMSE
    assert saver.best_score == pytest.approx(0.3)
    assert os.listdir(tmp_path) == ["model.pt"]


def _validate_in_turn(saver, net, metrics_per_validation):
    """Run a validator once per dict of metrics; the weights of validation k are all k."""
    validator = Engine(lambda e, b: None)
    saver.attach(validator)
    rows = iter(metrics_per_validation)

    @validator.on(Events.EPOCH_COMPLETED)
    def set_metrics(engine):
        engine.state.metrics.update(next(rows))
        with torch.no_grad():
            net.weight.fill_(float(engine.state.metrics["k"]))

    for _ in metrics_per_validation:
        validator.run([0], max_epochs=1)


def test_best_model_saver_limits_keep_the_best_fd_among_diverse_validations(tmp_path):
    net = torch.nn.Linear(2, 1)
    saver = BestModelSaver(net, str(tmp_path), metric_name="val_fd", limits={"val_diversity_gap": 0.05})
    rows = [
        {"k": 1, "val_fd": 40.0, "val_diversity_gap": 0.20},  # kept until a diverse validation comes: a run
        {"k": 2, "val_fd": 14.0, "val_diversity_gap": 0.08},  # always leaves a model
        {"k": 3, "val_fd": 15.1, "val_diversity_gap": 0.04},  # within the limit: beats 14.0 outside it
        {"k": 4, "val_fd": 12.0, "val_diversity_gap": 0.09},  # better FD, not diverse enough: not kept
        {"k": 5, "val_fd": 16.0, "val_diversity_gap": 0.01},  # diverse, worse FD than k=3: not kept
    ]
    seen = []
    for row in rows:
        _validate_in_turn(saver, net, [row])
        seen.append(float(torch.load(tmp_path / "model.pt")["weight"][0, 0]))
    assert seen == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert saver.best_score == pytest.approx(15.1)  # the metric's own value, not the ranking's offset
    state = saver.state_dict()
    again = BestModelSaver(net, str(tmp_path), metric_name="val_fd", limits={"val_diversity_gap": 0.05})
    again.load_state_dict(state)  # resumed: the ranking carries over
    _validate_in_turn(again, net, [{"k": 6, "val_fd": 13.0, "val_diversity_gap": 0.06}])
    assert float(torch.load(tmp_path / "model.pt")["weight"][0, 0]) == 3.0


def test_best_model_saver_names_a_limit_the_validator_does_not_compute(tmp_path):
    net = torch.nn.Linear(2, 1)
    saver = BestModelSaver(net, str(tmp_path), metric_name="val_fd", limits={"val_diversity_gap": 0.05})
    with pytest.raises(KeyError, match="val_diversity_gap.*additional_metrics"):
        _validate_in_turn(saver, net, [{"k": 1, "val_fd": 3.0}])


def test_best_model_saver_names_a_missing_metric(tmp_path):
    validator = Engine(lambda e, b: None)
    BestModelSaver(torch.nn.Linear(1, 1), str(tmp_path), metric_name="val_nmse").attach(validator)
    with pytest.raises(KeyError, match="val_nmse"):
        validator.run([0])


def _counting_trainer(handlers=()) -> Engine:
    """A tiny trainer whose network's weight counts the iterations it ran."""
    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(net.weight)

    def step(engine, batch):
        with torch.no_grad():
            net.weight.add_(1.0)

    engine = Engine(step)
    engine.network = net
    for handler in handlers:
        handler.attach(engine)
    return engine


def test_a_damaged_newest_checkpoint_is_named_and_the_one_before_it_resumed(tmp_path, caplog):
    first = _counting_trainer([TrainingCheckpointer(str(tmp_path), n_saved=2)])
    first.run([0, 1], max_epochs=2)
    (tmp_path / "checkpoint_epoch=2.pt").write_bytes(b"damaged by a copy that was cut short")
    checkpointer = TrainingCheckpointer(str(tmp_path), n_saved=2)
    again = _counting_trainer([checkpointer])
    with caplog.at_level("WARNING"):
        again.run([0, 1], max_epochs=3)
    assert checkpointer.resumed_from.endswith("checkpoint_epoch=1.pt")
    assert "checkpoint_epoch=2.pt" in caplog.text and "trying the one before it" in caplog.text
    assert float(again.network.weight) == 6.0  # epochs 2 and 3 trained again on top of epoch 1's 2 iterations
    assert torch.load(tmp_path / "checkpoint_epoch=2.pt", weights_only=True)["trainer"]["iteration"] == 4  # rewritten


def test_no_readable_checkpoint_is_an_error_that_names_them(tmp_path):
    (tmp_path / "checkpoint_epoch=1.pt").write_bytes(b"junk")
    run = _counting_trainer([TrainingCheckpointer(str(tmp_path))])
    with pytest.raises(RuntimeError, match=r"no checkpoint in .* can be read: .*checkpoint_epoch=1.pt.*Delete"):
        run.run([0], max_epochs=1)


def test_the_checkpoint_is_written_after_every_other_epoch_end_handler(tmp_path, monkeypatch):
    """A handler attached after the checkpointer, even one that registers itself at STARTED (as the metrics CSV
    does), has run when the epoch's checkpoint is written: a checkpoint of epoch N implies epoch N's row."""
    import monai_genmed.handlers.checkpoint as module

    order = []
    real_save = module._save

    def save(obj, path):
        order.append(os.path.basename(path).split(".tmp")[0])
        real_save(obj, path)

    monkeypatch.setattr(module, "_save", save)
    run = _counting_trainer([TrainingCheckpointer(str(tmp_path))])

    @run.on(Events.STARTED)
    def register_late(engine):
        engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: order.append(f"row {e.state.epoch}"))

    run.add_event_handler(Events.EPOCH_COMPLETED, lambda e: order.append(f"validation {e.state.epoch}"))
    run.run([0], max_epochs=2)
    assert order == ["validation 1", "row 1", "checkpoint_epoch=1.pt", "validation 2", "row 2", "checkpoint_epoch=2.pt"]


def test_the_previous_checkpoint_is_deleted_only_after_the_new_one_is_in_place(tmp_path, monkeypatch):
    import monai_genmed.handlers.checkpoint as module

    seen = []
    real_save = module._save

    def save(obj, path):
        seen.append(sorted(p.name for p in tmp_path.glob("*.pt")))  # what is on disk while the new file is written
        real_save(obj, path)

    monkeypatch.setattr(module, "_save", save)
    _counting_trainer([TrainingCheckpointer(str(tmp_path))]).run([0], max_epochs=3)
    assert seen == [[], ["checkpoint_epoch=1.pt"], ["checkpoint_epoch=2.pt"]]
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["checkpoint_epoch=3.pt"]
