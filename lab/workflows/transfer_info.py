"""What the transfer-learning page needs to know without loading torch: the task, the strategies, the assets.

The task: a small CNN is pretrained on four of the eight generated shapes (circle,
square, triangle, cross) and reused for the other four (horizontal bar, vertical bar,
ring, diamond), drawn by a different generator seed, with only a handful of labels per
class. The new classes are made of the same parts as the old ones (a cross is two bars,
a ring is a circle's outline, a diamond is a square turned by 45 degrees), so edge and
stroke detectors learned on the source carry over, while a network starting from random
weights has too few examples to learn them. The training side is `lab.workflows.transfer`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parents[2] / "assets" / "backbone"
WEIGHTS_FILE = "shapes_cnn.pt"
META_FILE = "shapes_cnn.json"
PRETRAIN_SCRIPT = "scripts/pretrain_backbone.py"

SOURCE_CLASSES = (0, 1, 2, 3)  # circle, square, triangle, cross (indices into lab.engine.data.SHAPE_NAMES)
TARGET_CLASSES = (4, 5, 6, 7)  # horizontal bar, vertical bar, ring, diamond
SOURCE_GENERATOR_SEEDS = (1000, 1001)  # two batches of generated shapes: 2,000 source images
TARGET_GENERATOR_SEED = 7  # different images from the source ones, whatever the classes
TARGET_VAL_PER_CLASS = 100  # held-out target images per class the strategies are scored on
DEFAULT_PER_CLASS = 10  # labelled target images per class: "few labels"
MAX_PER_CLASS = 100
RESNET_WEIGHTS_GLOB = "resnet18-*.pth"  # the file name torchvision's ImageNet weights are cached under


@dataclass(frozen=True)
class Strategy:
    """One way of using (or not using) the pretrained network on the target task."""

    key: str
    label: str
    help: str


STRATEGIES: dict[str, Strategy] = {
    s.key: s
    for s in (
        Strategy(
            "scratch",
            "From scratch",
            "The same network with random weights; every layer learns from the few target labels at the full rate.",
        ),
        Strategy(
            "frozen",
            "Frozen features + new head",
            "The pretrained layers are fixed; only a new linear classifier "
            "on their output is trained. Cheapest, and hard to overfit.",
        ),
        Strategy(
            "finetune",
            "Fine-tune all (lower LR)",
            "Start from the pretrained weights and train everything: the new "
            "head at the full rate, the pretrained layers at a fraction of it so they adapt without being wiped.",
        ),
        Strategy(
            "finetune_top",
            "Fine-tune, lower layers frozen",
            "Keep the first convolution stage (generic edge "
            "detectors) fixed and fine-tune the later layers at the lower rate, the head at the full rate.",
        ),
        Strategy(
            "resnet18",
            "ResNet-18 features (ImageNet)",
            "torchvision's ImageNet-trained ResNet-18 as a frozen "
            "feature extractor (images upscaled to 64x64) with a new linear head.",
        ),
    )
}
OWN_BACKBONE = ("scratch", "frozen", "finetune", "finetune_top")
CHANCE = 1 / len(TARGET_CLASSES)  # the accuracy of guessing among the target classes


def torch_hub_dir() -> Path:
    """torch.hub's directory, found the way torch does it ($TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub)."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser() / "hub"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "torch" / "hub"


def resnet18_weights() -> tuple[Path | None, str]:
    """(path, "") of cached ImageNet ResNet-18 weights, or (None, the reason the option is unavailable)."""
    folder = torch_hub_dir() / "checkpoints"
    found = sorted(folder.glob(RESNET_WEIGHTS_GLOB)) if folder.is_dir() else []
    if found:
        return found[0], ""
    return None, (
        f"no ResNet-18 ImageNet weights on this machine (looked for {RESNET_WEIGHTS_GLOB} in {folder}); "
        "this server cannot download them. Copy the file there to enable the option."
    )


def backbone_meta(folder: Path = ASSET_DIR) -> dict | None:
    """The shipped backbone's metadata (source task, accuracy, size), or None when it is missing or unreadable."""
    try:
        return json.loads((Path(folder) / META_FILE).read_text())
    except (OSError, ValueError):
        return None


# ---- what the page shows ---------------------------------------------------------------------------------------------


def backbone_caption(meta: dict) -> str:
    """One line on the shipped backbone (size, source task, accuracy) from its metadata."""
    src = meta["source"]
    return (
        f"Shipped backbone: {meta['n_params']:,} parameters ({meta['bytes'] / 1024:.0f} kB, "
        f"`assets/backbone/{WEIGHTS_FILE}`), trained for {meta['epochs']} epochs on "
        f"{src['n_train']:,} images of {', '.join(src['classes'])} ({src['val_acc']:.1%} on "
        f"{src['n_val']} held-out ones). Rebuild it with `python {PRETRAIN_SCRIPT}`."
    )


def progress_text(states: dict[str, str], n_done: int) -> str:
    """'2 of 4 strategies done · training: ...' from each started strategy's task state."""
    running = [STRATEGIES[k].label for k, state in states.items() if state == "running"]
    return f"{n_done} of {len(states)} strategies done" + (f" · training: {', '.join(running)}" if running else "")


def gains_text(results: list[dict]) -> str:
    """Each strategy's accuracy against training from scratch; "" until scratch and another strategy are done."""
    by_key = {r["strategy"]: r for r in results}
    if "scratch" not in by_key or len(by_key) < 2:
        return ""
    base = by_key["scratch"]["val_acc"]
    lines = [
        f"**{r['label']}: {r['val_acc']:.1%}** ({(r['val_acc'] - base) * 100:+.1f} points against from scratch)"
        for k, r in by_key.items()
        if k != "scratch"
    ]
    return f"From scratch: **{base:.1%}** with {by_key['scratch']['n_train']} labelled images.  \n" + "  \n".join(lines)


def results_table(results: list[dict]) -> list[dict]:
    """One table row per finished strategy: accuracy, loss, what it trained and what it cost."""
    return [
        {
            "strategy": r["label"],
            "val acc": r["val_acc"],
            "best val acc": r["best_val_acc"],
            "val loss": r["val_loss"],
            "trained params": r["trainable"],
            "labels": r["n_train"],
            "val images": r["n_val"],
            "seconds": round(r["seconds"], 1),
        }
        for r in results
    ]
