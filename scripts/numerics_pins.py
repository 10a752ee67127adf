"""What each pin of portable numerics costs a training step (issue 26).

    python scripts/numerics_pins.py [--rounds 5] [--out results/cost/pins.md]

Times one SGD step (zero_grad, forward, loss, backward, momentum step) of the 3-layer net
784-1000-10 at batch 50 and compression 1/8 (the benchmark's `mlp3` case) for dense,
HashedNets, U4-G3 and U4-G3-D, in one fresh process per arm, the arms in turn, `--rounds`
times (each round starts one arm later). Arms: `native` (no pin), each pin of
`mfh.numerics` alone on top of native (`aten` = ATEN_CPU_CAPABILITY=avx2, `mkl` = MKL_CBWR,
`onednn` = ONEDNN_MAX_CPU_ISA, `kernels` = the fused kernels built for `-march=x86-64-v3`,
portable mode's pin until issue 26 showed it gives the host build's bits), and `portable`
(every pin, the mode as runs use it).
Also times evaluation (cached inference at batch 1000, as the training loop evaluates). Prints,
per arm, model and measure, the median over rounds of the time over native's in the same
round; the thread count is 2 in every arm (portable's default).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

from mfh import numerics  # noqa: E402

PINS = {"aten": ["ATEN_CPU_CAPABILITY"], "mkl": ["MKL_CBWR"], "onednn": ["ONEDNN_MAX_CPU_ISA"],
        "kernels": []}
ARMS = ["native", *PINS, "portable"]
MEASURES = ("step", "eval")
KERNEL_PIN = "MFH_PIN_KERNELS"   # child only: build the kernels for KERNEL_MARCH
KERNEL_MARCH = "-march=x86-64-v3"
THREADS = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "GOMP_SPINCOUNT": "20000"}


def arm_env(arm: str) -> dict[str, str]:
    """The environment of one arm's process."""
    env = {k: v for k, v in os.environ.items()
           if k not in numerics.PORTABLE_ENV and k not in (numerics.ENV, KERNEL_PIN)}
    env.update(THREADS)
    if arm == "portable":
        env.update(numerics.PORTABLE_ENV)
        env[numerics.ENV] = "portable"
    elif arm == "kernels":
        env[KERNEL_PIN] = "1"
    elif arm != "native":
        env.update({k: numerics.PORTABLE_ENV[k] for k in PINS[arm]})
    return env


def child() -> None:
    """Time the four models' steps (batch 50) and evaluation (`inference_cached` at batch 1000,
    as the training loop evaluates) in this process's environment; print JSON."""
    numerics.apply([])
    from mfh.cost import cases, measure
    from mfh.method import kernels

    if os.environ.get(KERNEL_PIN):
        kernels.MARCH = KERNEL_MARCH
    import torch

    torch.set_num_threads(2)
    case = cases.CASES["mlp3"]
    specs = [cases.DENSE, cases.HASHEDNETS, cases.mfh_spec(4, 3), cases.mfh_spec(4, 3, True)]
    modules = {s.label: cases.build(case, s) for s in specs}
    result = {}
    for name, measured, batch in (("step", "step", 50), ("eval", "inference_cached", 1000)):
        runs = {}
        for label, module in modules.items():
            inputs = cases.make_inputs(case, module, batch)
            runs[label] = measure.runner(case, module, inputs, measured,
                                         measure.make_optimizer(module))
        samples = measure.time_interleaved(runs, rounds=3, budget_s=0.6, min_calls=5,
                                           max_calls=40, wrap=lambda _: kernels.use_backend("auto"))
        result[name] = {k: measure.median(v) for k, v in samples.items()}
    result["flags"] = " ".join(kernels.flags()) if kernels.library() else "reference"
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return 0
    times: dict[str, dict[str, list[float]]] = {arm: {} for arm in ARMS}   # (measure model)
    ratios: dict[str, dict[str, list[float]]] = {arm: {} for arm in ARMS}
    for round_ in range(args.rounds):
        shift = round_ % len(ARMS)
        results = {}
        for arm in ARMS[shift:] + ARMS[:shift]:
            out = subprocess.run([sys.executable, __file__, "--child"], env=arm_env(arm),
                                 check=True, capture_output=True, text=True)
            results[arm] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"round {round_ + 1} {arm:8s} " + "  ".join(
                f"{name} {model} {1e3 * s:.2f} ms" for name in MEASURES
                for model, s in results[arm][name].items())
                  + f"  [{results[arm]['flags'].split()[-1]}]", flush=True)
        for arm in ARMS:
            for name in MEASURES:
                for model, seconds in results[arm][name].items():
                    key = f"{name} {model}"
                    times[arm].setdefault(key, []).append(seconds)
                    ratios[arm].setdefault(key, []).append(
                        seconds / results["native"][name][model])
    keys = list(times["native"])
    lines = [f"3-layer net, 1/8, 2 threads: step at batch 50, eval (cached inference) at batch "
             f"1000. Per arm, the median over {args.rounds} rounds of (arm / native in the same "
             "round) [min-max]; first row native's median in ms.", "",
             "| arm | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    lines.append("| native (ms) | " + " | ".join(
        f"{1e3 * statistics.median(times['native'][k]):.2f}" for k in keys) + " |")
    for arm in ARMS[1:]:
        cells = [f"{statistics.median(r):.2f} [{min(r):.2f}-{max(r):.2f}]"
                 for r in (ratios[arm][k] for k in keys)]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(f"# What each pin of portable numerics costs\n\n`python "
                            f"scripts/numerics_pins.py --rounds {args.rounds}`; CPU: "
                            f"{_cpu()}\n\n{table}\n")
    return 0


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
