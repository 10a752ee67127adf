"""How far one SGD step moves each layer's virtual weights, MFH against HashedNets (issue 25).

    python scripts/step_size.py [--out results/health] [--seeds 8] [--lr 0.1]

At initialisation, on one batch of 50 mnist5k training images, for each model and layer l:
the norm of layer l's share of the gradient of the compression space(s) w (dL/dV_l pulled
back through layer l's hashes and g), and the relative change ||dV_l|| / ||V_l|| of its virtual
weights after one plain SGD step of `lr` on w (g, biases fixed), mean over seeds. Writes
<out>/step_size.md. No dropout (eval mode), native numerics; a one-batch probe, not training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mfh.data import load_splits  # noqa: E402
from mfh.harness.config import compose_config, data_spec, model_specs  # noqa: E402
from mfh.harness.models import build_model  # noqa: E402
from mfh.method.space import CompressionSpace  # noqa: E402

MODELS = {"HashedNets": ["model=hashednets"], "U1-G3": ["model=mfh", "hashes=1"],
          "U4-G3": ["model=mfh"], "U16-G3": ["model=mfh", "hashes=16"],
          "U4-G3-D": ["model=mfh", "model.dual=true"],
          "U4-G3 step_scale=layer": ["model=mfh", "model.step_scale=layer"]}


def probe(arch: str, overrides: list[str], seed: int, lr: float, x: torch.Tensor,
          y: torch.Tensor) -> tuple[list[float], list[float]]:
    """(per-layer norm of its share of grad w, per-layer relative change of V) of one seed."""
    spec_arch, hashing = model_specs(compose_config([*overrides, f"arch={arch}"]))
    torch.manual_seed(seed)
    net = build_model(spec_arch, hashing, (1, 28, 28), 10).eval()
    layers = [m for m in net if hasattr(m, "source")]
    spaces = list(dict.fromkeys(m for m in net.modules() if isinstance(m, CompressionSpace)))
    ws = [s.w for s in spaces]
    weights = [m.source() for m in layers]
    loss = F.cross_entropy(_forward(net, weights, x), y)
    grads_v = torch.autograd.grad(loss, weights, retain_graph=True)
    shares = []
    for v, g in zip(weights, grads_v, strict=True):
        parts = torch.autograd.grad(v, ws, g, retain_graph=True, allow_unused=True)
        shares.append(sum(float(p.square().sum()) for p in parts if p is not None) ** 0.5)
    total = torch.autograd.grad(loss, ws, allow_unused=True)
    with torch.no_grad():
        for w, g in zip(ws, total, strict=True):
            if g is not None:
                w -= lr * g
        changes = [float((m.source() - v).norm() / v.norm()) for m, v in zip(layers, weights,
                                                                                 strict=True)]
    return shares, changes


def _forward(net: torch.nn.Sequential, weights: list[torch.Tensor],
             x: torch.Tensor) -> torch.Tensor:
    """`net(x)` with each hashed layer's virtual weight given (the graph reaches them)."""
    it = iter(weights)
    for module in net:
        if hasattr(module, "source"):
            x = F.linear(x, next(it), module.bias)
        else:
            x = module(x)
    return x


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/health")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    splits = load_splits(data_spec(compose_config(["dataset=mnist5k"])))
    x, y = splits.train.x[:50], splits.train.y[:50]
    lines = [f"One SGD step of lr {args.lr} on w at initialisation, one batch of 50 mnist5k "
             f"images, mean over seeds 0-{args.seeds - 1} (scripts/step_size.py): per layer, "
             "the norm of its share of the gradient of w, and the relative change of its "
             "virtual weights ||dV|| / ||V||.", "",
             "| arch | model | grad w share per layer | ||dV|| / ||V|| per layer |",
             "|---|---|---|---|"]
    for arch in ("mlp3", "mlp5_100"):
        for name, overrides in MODELS.items():
            runs = [probe(arch, overrides, s, args.lr, x, y) for s in range(args.seeds)]
            shares = [sum(c) / len(c) for c in zip(*(r[0] for r in runs), strict=True)]
            changes = [sum(c) / len(c) for c in zip(*(r[1] for r in runs), strict=True)]
            lines.append(f"| {arch} | {name} | " + " ".join(f"{v:.3g}" for v in shares)
                         + " | " + " ".join(f"{v:.4f}" for v in changes) + " |")
            print(lines[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "step_size.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'step_size.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
