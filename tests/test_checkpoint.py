"""The compressed checkpoint stores only w, w', g, biases and seeds, and reloads exactly."""

import pytest
import torch

from mfh.harness.checkpoint import dense_bytes, load_checkpoint, save_checkpoint
from mfh.harness.config import compose_config, data_spec, model_specs, to_dict
from mfh.harness.models import count_parameters, model_from_config


@pytest.mark.parametrize("overrides", [["model=hashednets"], ["model=mfh"],
                                       ["model=mfh", "model.dual=true"],
                                       ["model=mfh", "arch=cnn", "compression=0.01"]])
def test_round_trip_gives_identical_predictions(tmp_path, overrides):
    shape = (3, 32, 32) if "arch=cnn" in overrides else (1, 28, 28)
    torch.manual_seed(0)
    cfg = compose_config(overrides)
    model = model_from_config(cfg, shape, 10).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # trained values, not the initialisation
    size = save_checkpoint(model, to_dict(cfg), shape, 10, tmp_path / "model.pt")
    torch.manual_seed(1)
    loaded = load_checkpoint(tmp_path / "model.pt")
    x = torch.rand(7, *shape)
    assert torch.equal(model(x), loaded(x))
    stored = count_parameters(model)
    assert stored * 4 < size < stored * 4 + 20_000  # float32 values plus a small header
    dense = dense_bytes(model_specs(cfg)[0], shape, 10)
    assert dense > size / cfg.compression * 0.9


def test_shared_space_is_saved_once(tmp_path):
    cfg = compose_config(["model=mfh"])
    model = model_from_config(cfg, (1, 28, 28), 10)
    save_checkpoint(model, to_dict(cfg), (1, 28, 28), 10, tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    spaces = [name for name in payload["tensors"] if name.endswith("space.w")]
    assert len(spaces) == 1
    assert sorted(payload["hash_seeds"].values()) == [1691, 1691]


def test_run_saves_best_epoch_checkpoint(tmp_path):
    import json

    from mfh.harness.runner import run

    cfg = compose_config(["model=mfh", "epochs=2", "train_limit=200", "logger=none",
                          f"results_dir={tmp_path}"])
    path, status = run(cfg)
    record = json.loads(path.read_text())
    assert status == "ok" and record["checkpoint"]["bytes"] < record["checkpoint"]["dense_bytes"]
    model = load_checkpoint(record["checkpoint"]["path"])
    from mfh.data import load_splits
    from mfh.harness.train import error_rate

    assert error_rate(model, load_splits(data_spec(cfg)).test) == record["metrics"]["test_error"]


def test_committed_checkpoint_reproduces_its_recorded_test_error():
    """tests/golden: a U4-G3 record and its checkpoint made by commit 38c19f7 (before the
    layout moved); loading it today must give the recorded test error."""
    import json

    from conftest import ROOT

    from mfh.data import load_splits
    from mfh.harness.train import error_rate

    golden = ROOT / "tests" / "golden"
    record = json.loads((golden / "u4g3_record.json").read_text())
    model = load_checkpoint(golden / "u4g3_checkpoint.pt")
    test = load_splits(data_spec(record["config"])).test
    assert record["label"] == "U4-G3" and record["provenance"]["commit"].startswith("38c19f7")
    assert error_rate(model, test) == record["metrics"]["test_error"]
