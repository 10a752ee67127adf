"""The fixed-shape g of the kernels against their generic loops (a benchmark, not a test).

    python scripts/bench_fixed_shapes.py [--rounds 40] [U4-G3 U4-G3-D ...]

Builds each model of the cost benchmark's 3-layer net (784-1000-10, compression 1/8, batch 50;
`mfh.cost.cases`), checks that its output and gradients are the same bits with
`mfh.method.kernels.fixed_shapes(False)` (the generic loops) and without (the default), then
times a training step and the reconstruction alone in both modes, interleaved in one process,
and prints the medians and the ratio fixed / generic. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from mfh.cost import cases, measure  # noqa: E402
from mfh.method import kernels as native  # noqa: E402

MODES = ("generic", "fixed")


def mode(name: str):
    """The kernels in mode `name`: the generic loops, or the default fixed shapes."""
    return native.fixed_shapes(False) if name == "generic" else nullcontext()


def outputs(case: cases.Case, model: torch.nn.Module, inputs: cases.Inputs) -> list[torch.Tensor]:
    """The model's output on `inputs` and the gradients of its loss (train mode)."""
    model.zero_grad(set_to_none=True)
    model.train()
    torch.manual_seed(0)   # the same dropout masks in both modes
    out = model(inputs.x)
    cases.loss(case, out, inputs).backward()
    return [out.detach()] + [p.grad.clone() for p in model.parameters() if p.grad is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["U4-G3", "U4-G3-D", "U4-G2", "U8-G3"])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    if native.library() is None:
        sys.exit("bench_fixed_shapes: the native kernels are unavailable")
    torch.set_num_threads(2)
    case = cases.CASES["mlp3"]
    specs = {m.label: m for m in cases.grid_models()}
    for label in args.models:
        model = cases.build(case, specs[label])
        inputs = cases.make_inputs(case, model, 50)
        results = {}
        for name in MODES:
            with mode(name):
                results[name] = outputs(case, model, inputs)
        same = all(torch.equal(a, b) for a, b in zip(*results.values(), strict=True))
        optimizer = measure.make_optimizer(model)
        step = measure.runner(case, model, inputs, "step", optimizer)
        reconstruction = measure.reconstruction_runner(model)
        times = {(name, what): [] for name in MODES for what in ("step", "reconstruction")}
        for _ in range(args.rounds):
            for name in MODES:
                with mode(name):
                    step()   # warm-up
                    times[name, "step"].append(step())
                    times[name, "reconstruction"].append(reconstruction())
        med = {key: statistics.median(value) * 1e3 for key, value in times.items()}
        print(f"{label:8s} same bits: {same}; "
              + "; ".join(f"{what} generic {med['generic', what]:.3f} ms, fixed "
                          f"{med['fixed', what]:.3f} ms, ratio "
                          f"{med['fixed', what] / med['generic', what]:.3f}"
                          for what in ("step", "reconstruction")), flush=True)


if __name__ == "__main__":
    main()
