"""The HashedNets paper's baselines: equal-size NN, LRD, RER and dark knowledge (DK)."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT, run_py
from test_tables import search_folder
from torch import nn

from mfh.harness import sweep
from mfh.harness.config import ConfigError, compose_config, to_dict, validate
from mfh.harness.models import build_model, count_parameters
from mfh.harness.signature import signature
from mfh.harness.specs import ArchSpec
from mfh.harness.teacher import teacher_command, teacher_config
from mfh.harness.train import distillation_loss
from mfh.method import HashingSpec, LayerSpec
from mfh.method.baselines import (
    LowRankLayer,
    SparseLayer,
    equal_size_layers,
    lrd_ranks,
    rer_counts,
)
from mfh.report.tables import layout_families, load_layout, resolve_rows

ARCHS = {"mlp3": ArchSpec("mlp3", (1000,)), "mlp5": ArchSpec("mlp5", (100, 100, 100)),
         "cnn": ArchSpec("cnn", (1000,), conv=((64, 5, 2), (128, 5, 2)))}
VIRTUAL = {"mlp3": 795010, "mlp5": 99710, "cnn": 6489602}


@pytest.mark.parametrize("model", ["equal_nn", "lrd", "rer"])
@pytest.mark.parametrize("arch", ["mlp3", "mlp5", "cnn"])
def test_stored_parameters_are_within_one_percent_of_the_budget(model, arch):
    net = build_model(ARCHS[arch], HashingSpec(model=model, compression=0.125), (1, 28, 28), 10)
    target = round(0.125 * VIRTUAL[arch])
    assert abs(count_parameters(net) - target) <= 0.01 * target
    dense = build_model(ARCHS[arch], HashingSpec(model="dense"), (1, 28, 28), 10)
    assert count_parameters(dense) == VIRTUAL[arch]


def test_equal_size_nn_shrinks_the_hidden_widths_only():
    layers = [LayerSpec("linear", 784, 1000), LayerSpec("linear", 1000, 10)]
    assert [(s.in_features, s.out_features) for s in equal_size_layers(layers, 0.125)] == [
        (784, 125), (125, 10)]   # 785 * 125 + 126 * 10 = 99,385 against 99,376
    convs = [LayerSpec("conv", 1, 64, (5, 5), 1, 2), LayerSpec("conv", 64, 128, (5, 5), 1, 2),
             LayerSpec("linear", 128 * 49, 1000), LayerSpec("linear", 1000, 10)]
    small = equal_size_layers(convs, 0.125)
    channels = small[1].out_features
    assert small[2].in_features == channels * 49 and small[0].in_features == 1


def test_lrd_keeps_the_output_layer_dense_when_the_budget_allows():
    layers = [LayerSpec("linear", 784, 1000), LayerSpec("linear", 1000, 10)]
    assert lrd_ranks(layers, 0.125) == [50, None]   # 50 * 1784 + 1000 + 10,010 = 100,210
    assert None not in lrd_ranks(layers, 1 / 128)    # too small: every layer is factored


def test_rer_keeps_the_budget_exactly_and_every_layer_the_same_fraction():
    layers = [LayerSpec("linear", 784, 1000), LayerSpec("linear", 1000, 10)]
    counts = rer_counts(layers, 0.125)
    assert sum(counts) + 1010 == round(0.125 * 795010)
    assert abs(counts[0] / 784000 - counts[1] / 10000) < 1e-3


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_lrd_and_rer_layers_are_the_dense_layer_with_the_reconstructed_weight(kind):
    torch.manual_seed(0)
    spec = (LayerSpec("linear", 30, 20) if kind == "linear"
            else LayerSpec("conv", 3, 8, (3, 3), 1, 1))
    x = torch.randn(4, 30) if kind == "linear" else torch.randn(4, 3, 9, 9)
    for layer in (LowRankLayer(spec, 3), SparseLayer(spec, 50, seed=7)):
        dense = (nn.Linear(30, 20) if kind == "linear" else nn.Conv2d(3, 8, 3, 1, 1))
        with torch.no_grad():
            dense.weight.copy_(layer.matrix().view_as(dense.weight))
            dense.bias.copy_(layer.bias)
        assert torch.equal(layer(x), dense(x))
    sparse = SparseLayer(spec, 50, seed=7)
    matrix = sparse.matrix()
    assert int((matrix != 0).sum()) == 50 and sparse.values.numel() == 50
    assert torch.equal(SparseLayer(spec, 50, seed=7).positions, sparse.positions)
    assert not torch.equal(SparseLayer(spec, 50, seed=8).positions, sparse.positions)
    # only the kept connections learn: the gradient of the values is the dense gradient there
    w = matrix.detach().clone().requires_grad_(True)
    out = (F.linear(x, w, sparse.bias) if kind == "linear" else
           F.conv2d(x, w.view(8, 3, 3, 3), sparse.bias, 1, 1))
    out.square().sum().backward()
    sparse(x).square().sum().backward()
    assert torch.allclose(sparse.values.grad, w.grad.flatten()[sparse.positions])


def test_distillation_loss_against_a_hand_computed_value():
    logits = torch.tensor([[1.0, 0.0, -1.0]], dtype=torch.float64)
    teacher = torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64)
    y, t, w = torch.tensor([0]), 2.0, 0.75

    def softmax(v):
        e = [math.exp(a) for a in v]
        return [a / sum(e) for a in e]

    p_student, p_teacher = softmax([0.5, 0.0, -0.5]), softmax([1.0, 0.5, 0.0])
    kl = sum(q * math.log(q / p) for q, p in zip(p_teacher, p_student, strict=True))
    ce = -math.log(softmax([1.0, 0.0, -1.0])[0])
    expected = (1 - w) * ce + w * t * t * kl
    assert distillation_loss(logits, teacher, y, t, w).item() == pytest.approx(expected, 1e-12)


def test_labels_of_the_baselines():
    def label(*overrides):
        return validate(compose_config(list(overrides))).label

    assert label("model=equal_nn") == "NN" and label("model=lrd") == "LRD"
    assert label("model=rer") == "RER" and label("model=equal_nn", "+distill=dk") == "NN+DK"
    assert label("model=hashednets", "+distill=dk") == "HashedNets+DK"


def test_dark_knowledge_needs_its_dense_teacher_and_says_how_to_train_it(tmp_path, quick):
    args = ["model=equal_nn", "+distill=dk", *quick, "checkpoint=false",
            f"results_dir={tmp_path}"]
    proc = run_py(*args, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    command = proc.stderr.split("train it first: ")[1].strip()
    assert command.startswith("python run.py model=dense ") and "+distill" not in command
    run_py(*command.split()[2:])
    student = run_py(*args)
    assert "NN+DK seed=0" in student.stdout
    record = json.loads(_record(tmp_path, "NN+DK"))
    assert record["teacher"]["record"].startswith(str(tmp_path))
    assert record["compression"]["stored_params"] == 99385


def _record(results, label: str) -> str:
    for path in results.glob("runs/*/seed=0.json"):
        if json.loads(path.read_text())["label"] == label:
            return path.read_text()
    raise AssertionError(f"no record of {label}")


def test_the_baselines_layout_sweeps_the_teacher_first_and_composes_its_rows(tmp_path):
    tuned = load_layout(ROOT / "experiments" / "baselines.yaml")
    assert layout_families(tuned) == ["dense", "equal_nn", "equal_nn_dk", "lrd", "rer",
                                      "hashednets", "hashednets_dk", "mfh"]
    layout = load_layout(ROOT / "results" / "archive" / "baselines_fixed_recipe" /
                         "baselines.yaml")   # one recipe: its rows resolve without tuning
    resolved = resolve_rows(layout)
    assert [r.label for r in resolved] == ["dense", "NN", "NN+DK", "LRD", "RER", "HashedNets",
                                           "HashedNets+DK", "U4-G3"]
    _, argv = sweep.sweep_command(layout, tmp_path, [])
    folder = search_folder(argv)
    for k, row in enumerate(resolved, 1):
        cfg = compose_config([f"hydra.searchpath=[file://{folder}]", f"+row=r{k}",
                              *layout.common, "dataset=mnist5k"])
        assert signature(to_dict(cfg)) == signature(row.configs["mnist5k"]), row.label


def test_a_tuned_student_names_its_teachers_optimiser_and_older_records_keep_their_signature():
    base = ["model=equal_nn", "+distill=dk", "optim.lr=0.05"]
    student = to_dict(compose_config(base))
    assert student["distill"]["teacher_optim"] is None
    old = copy.deepcopy(student)
    del old["distill"]["teacher_optim"]   # a record made before the key
    assert signature(old) == signature(student)
    assert teacher_config(student)["optim"]["lr"] == 0.05
    tuned = to_dict(compose_config([*base, "distill.teacher_optim={lr: 0.02, momentum: 0.5}"]))
    assert signature(tuned) != signature(student)
    teacher = teacher_config(tuned)
    dense = to_dict(compose_config(["model=dense", "optim.lr=0.02", "optim.momentum=0.5"]))
    assert signature(teacher) == signature(dense)
    command = teacher_command(["model=equal_nn", "+distill=dk", "+recipe=r", "seed=3"], 3,
                              {"lr": 0.02, "momentum": 0.5})
    assert command == "python run.py model=dense optim.lr=0.02 optim.momentum=0.5 seed=3"
    with pytest.raises(ConfigError, match="teacher_optim"):
        validate(compose_config([*base, "distill.teacher_optim={rate: 0.1}"]))


def test_a_teacher_without_its_checkpoint_is_trained_again_and_must_match_its_record(tmp_path,
                                                                                      quick):
    common = [*quick, f"results_dir={tmp_path}"]
    run_py("model=dense", *common, "checkpoint=false")   # e.g. one of Table 1's dense records
    teacher = next(tmp_path.glob("runs/*/seed=0.json"))
    before = teacher.read_text()
    student = run_py("model=equal_nn", "+distill=dk", *common, "checkpoint=false")
    assert "no checkpoint on disk; training it again" in student.stdout
    assert teacher.read_text() == before   # the committed record is left as it was
    kept = tmp_path / "checkpoints" / teacher.parent.name / "seed=0.pt"
    assert kept.exists()
    record = json.loads(_record(tmp_path, "NN+DK"))
    assert record["status"] == "ok" and record["teacher"]["checkpoint"] == str(kept)
    changed = json.loads(before)
    changed["metrics"]["test_error"] += 1.0   # a record the rerun cannot reproduce
    teacher.write_text(json.dumps(changed))
    kept.unlink()
    proc = run_py("model=hashednets", "+distill=dk", *common, "checkpoint=false", check=False)
    assert proc.returncode == 2 and "did not give its record's errors" in proc.stderr
