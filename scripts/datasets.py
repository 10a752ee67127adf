"""Write one sheet of sample images per available dataset: <out>/datasets_<name>.png.

    python scripts/datasets.py [--data-dir data] [--out results/figures] [--rows 4] [--cols 8]
                               [--data-seed 0] [name ...]

Every option of conf/dataset/ is loaded through `mfh.data.load_splits` (generated sets are
built at full size and cached under <data-dir>/cache); sets whose files are not on this
machine are skipped with a message. Shows the first rows x cols training images, each titled
with its label.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mfh and conf/

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torchvision.datasets import FashionMNIST  # noqa: E402

from mfh.data import DatasetUnavailable, Splits, load_splits  # noqa: E402
from mfh.harness.config import compose_config, data_spec, group_options  # noqa: E402

CLASS_NAMES = {
    "fashion_mnist": FashionMNIST.classes,
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
    "rect": ["wide", "tall"],
    "convex": ["non-convex", "convex"],
}


def sample_sheet(splits: Splits, path: Path, rows: int, cols: int) -> None:
    """Save the first rows x cols training images of `splits` to `path`, labels as titles."""
    names = CLASS_NAMES.get(splits.name)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.45 * rows + 0.4))
    for ax, image, label in zip(axes.flat, splits.train.x, splits.train.y.tolist(), strict=False):
        if image.shape[0] == 3:
            ax.imshow(image.permute(1, 2, 0).numpy())
        else:
            ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(names[label] if names else str(label), fontsize=8)
        ax.axis("off")
    c, h, w = splits.shape
    fig.suptitle(f"{splits.name}: train {len(splits.train):,} / valid {len(splits.valid):,} / "
                 f"test {len(splits.test):,}, {c}x{h}x{w}, {splits.num_classes} classes",
                 fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="datasets (default: every conf/dataset option)")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--out", type=Path, default=Path("results/figures"))
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--cols", type=int, default=8)
    args = parser.parse_args(argv)
    names = args.names or group_options("dataset")
    for name in names:
        start = time.time()
        print(f"{name}: loading", flush=True)
        cfg = compose_config([f"dataset={name}", f"data_dir={args.data_dir}",
                              f"data_seed={args.data_seed}"])
        try:
            splits = load_splits(data_spec(cfg))
        except DatasetUnavailable as err:
            print(f"{name}: skipped, {err}", flush=True)
            continue
        path = args.out / f"datasets_{name}.png"
        sample_sheet(splits, path, args.rows, args.cols)
        print(f"{name}: wrote {path} ({time.time() - start:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
