"""The starting scale of MFH's virtual weights per seed, g's old init against the new (issue 25).

    python scripts/init_scale.py [--out results/health] [--seeds 16] [--arch mlp3]

For each label and seed: the standard deviation of each layer's virtual weights at
initialisation times sqrt(fan_in) (HashedNets' scale is 1/sqrt(3) = 0.577), with
`g_init=sign` (before issue 25) and `orthogonal` (the default), compression 1/8, torch seed =
the seed, as `run.py` builds the model. Writes <out>/init_scale_<arch>.md: per label and init,
the first layer's value on every seed, and the range over all layers and seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

import torch  # noqa: E402

from mfh.harness.config import compose_config, model_specs  # noqa: E402
from mfh.harness.models import layer_specs  # noqa: E402
from mfh.method import HashingSpec, weight_layers  # noqa: E402
from mfh.method.specs import parse_label  # noqa: E402

LABELS = ["HashedNets", "U1-G3", "U2-G3", "U4-G2", "U4-G3", "U4-G4", "U8-G3", "U16-G3",
          "U4-G3-D", "U4-G3-H2"]


def scales(spec: HashingSpec, layers: list, seed: int) -> list[float]:
    """std x sqrt(fan_in) of each layer's virtual weights at initialisation."""
    torch.manual_seed(seed)
    with torch.no_grad():
        return [m.source().std().item() * math.sqrt(s.fan_in)
                for m, s in zip(weight_layers(spec, layers), layers, strict=True)]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/health")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--arch", default="mlp3")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    arch, _ = model_specs(compose_config([f"arch={args.arch}"]))
    layers = layer_specs(arch, (1, 28, 28), 10)
    lines = [f"Starting scale (std of the virtual weights x sqrt(fan_in); HashedNets' is "
             f"1/sqrt(3) = 0.577) on {args.arch}, compression 1/8, seeds 0-{args.seeds - 1} "
             "(scripts/init_scale.py): the first layer per seed, and the range over all layers "
             "and seeds.", "", "| label | g_init | first layer, seed by seed | all layers |",
             "|---|---|---|---|"]
    for label in LABELS:
        parts = parse_label(label)
        inits = ["-"] if parts is None else ["sign", "orthogonal"]
        for init in inits:
            spec = (HashingSpec(model="hashednets") if parts is None else
                    HashingSpec(hashes=parts.hashes, g_layers=parts.g_layers, dual=parts.dual,
                                hops=parts.hops, g_init=init))
            runs = [scales(spec, layers, s) for s in range(args.seeds)]
            values = [v for run in runs for v in run]
            lines.append(f"| {label} | {init} | " + " ".join(f"{r[0]:.2f}" for r in runs)
                         + f" | {min(values):.2f}-{max(values):.2f} |")
            print(lines[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"init_scale_{args.arch}.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
