"""Transfer learning in a worker: pretrain, ship, load and validate the backbone; train each strategy on the target.

The task and the strategies are described in `lab.workflows.transfer_info` (torch-free,
for the page). Every strategy trains through the one `Trainer`:

- scratch: a Trainer as usual, same architecture and input normalization as the backbone;
- frozen (and resnet18): the frozen network's features are computed once, then a linear
  classifier (an MLP of depth 0) is trained on them, which is exactly "frozen layers plus
  a new head" without paying for the frozen forward pass at every step;
- finetune / finetune_top: a Trainer whose model gets the pretrained weights (all but the
  classifier) and whose optimizer gets two parameter groups, the pretrained layers at
  `lr x lr_factor` and the new head at `lr`. The Trainer has no parameter-group option, so
  the optimizer and schedule are replaced before the first step (nothing has used them yet).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lab.config import ConfigError, RunConfig
from lab.engine.callbacks import Callback
from lab.engine.data import SHAPE_NAMES, DataBundle, shapes_raw
from lab.engine.models import Net, build_model
from lab.engine.optim import LRSchedule, make_optimizer
from lab.engine.preprocess import Preprocessor, fit_preprocessor
from lab.engine.trainer import Trainer
from lab.workflows.transfer_info import (
    ASSET_DIR,
    MAX_PER_CLASS,
    META_FILE,
    OWN_BACKBONE,
    SOURCE_CLASSES,
    SOURCE_GENERATOR_SEEDS,
    STRATEGIES,
    TARGET_CLASSES,
    TARGET_GENERATOR_SEED,
    TARGET_VAL_PER_CLASS,
    WEIGHTS_FILE,
    resnet18_weights,
)

FORMAT = 1  # metadata format version; bump when the fields change
# The backbone: two conv stages (16 and 32 channels), one hidden FC layer of 64, no batch norm or dropout
# (frozen layers then behave the same in train and eval mode). About 38k parameters, 150 kB on disk.
BACKBONE_CONFIG = RunConfig(
    dataset="shapes",
    model="cnn",
    base_channels=16,
    cnn_stages=2,
    convs_per_stage=1,
    fc_layers=2,
    fc_width=64,
    preprocess="standardize",
    optimizer="adam",
    lr=3e-3,
    epochs=10,
    batch_size=64,
    seed=0,
)
PRETRAIN_EPOCHS = 10
SOURCE_VAL_FRACTION = 0.2
HEAD = "out"  # the classifier layer of lab.engine.models.Net; everything before it is the backbone
LOWER_LAYERS = ("conv1",)  # what finetune_top keeps frozen: the first convolution stage
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
REBUILD = "rebuild it with: python scripts/pretrain_backbone.py"
RESNET_SIZE = 64  # shapes are 16x16; ResNet-18's stem divides by 4, so upscale to keep a 2x2 map at the end


class BackboneError(ValueError):
    """The shipped backbone is missing, corrupt or does not match its metadata (the message says which)."""


@dataclass
class Backbone:
    """Validated pretrained weights plus what is needed to use them: architecture and input normalization."""

    state: dict[str, torch.Tensor]
    meta: dict
    config: RunConfig
    preprocessor: Preprocessor

    def model(self, n_classes: int) -> Net:
        """The backbone's architecture with a fresh `n_classes` head and the pretrained weights everywhere else."""
        net = build_model(self.config, tuple(self.meta["input_shape"]), n_classes)
        own = net.state_dict()
        net.load_state_dict({k: own[k] if k.startswith(HEAD + ".") else self.state[k] for k in own})
        return net


# ---- data ------------------------------------------------------------------------------------------------------


def _class_rows(y: np.ndarray, classes: tuple[int, ...], rng: np.random.Generator) -> list[np.ndarray]:
    """For each class, its row indices in a random order."""
    return [rng.permutation(np.flatnonzero(y == c)) for c in classes]


def _bundle(
    x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray, classes: tuple[int, ...], pre: Preprocessor
) -> DataBundle:
    """A DataBundle with labels renumbered 0..k-1 in the order of `classes`."""
    lookup = np.full(max(classes) + 1, -1)
    lookup[list(classes)] = np.arange(len(classes))
    raw_train = torch.from_numpy(np.array(x, dtype=np.float32))
    raw_val = torch.from_numpy(np.array(xv, dtype=np.float32))
    x_train = pre.apply(raw_train)
    return DataBundle(
        x_train=x_train,
        y_train=torch.from_numpy(lookup[y].astype(np.int64)),
        x_val=pre.apply(raw_val),
        y_val=torch.from_numpy(lookup[yv].astype(np.int64)),
        n_classes=len(classes),
        input_shape=tuple(x_train.shape[1:]),
        class_names=[SHAPE_NAMES[c] for c in classes],
        name="shapes",
        raw_train=raw_train,
        preprocessor=pre,
    )


def source_bundle(generator_seeds: tuple[int, ...] = SOURCE_GENERATOR_SEEDS, seed: int = 0) -> DataBundle:
    """The source task: every image of the source classes from the given generator seeds, split 80/20."""
    xs, ys = [], []
    for g in generator_seeds:
        raw = shapes_raw(g)
        keep = np.isin(raw.y, SOURCE_CLASSES)
        xs.append(raw.x[keep])
        ys.append(raw.y[keep])
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = np.random.default_rng([seed, 11]).permutation(len(y))
    n_val = round(SOURCE_VAL_FRACTION * len(y))
    val, train = order[:n_val], order[n_val:]
    pre = fit_preprocessor("standardize", torch.from_numpy(np.array(x[train], dtype=np.float32)))
    return _bundle(x[train], y[train], x[val], y[val], SOURCE_CLASSES, pre)


def target_bundle(per_class: int, sample_seed: int, pre: Preprocessor) -> DataBundle:
    """The target task: `per_class` labelled images per target class, scored on TARGET_VAL_PER_CLASS others each.

    `sample_seed` picks which images are labelled; the validation images depend on it only
    through the labelled ones they exclude. Inputs use the backbone's normalization `pre`.
    """
    if not 1 <= per_class <= MAX_PER_CLASS:
        raise ConfigError("per_class", per_class, f"a whole number of labelled images from 1 to {MAX_PER_CLASS}")
    raw = shapes_raw(TARGET_GENERATOR_SEED)
    # The validation rows come from a fixed order (seed 0), the labelled rows from the rest in a sample_seed order,
    # so different labelled samples are always scored on the same validation images.
    val_rows = [r[:TARGET_VAL_PER_CLASS] for r in _class_rows(raw.y, TARGET_CLASSES, np.random.default_rng(0))]
    held = np.concatenate(val_rows)
    rest = np.setdiff1d(np.flatnonzero(np.isin(raw.y, TARGET_CLASSES)), held)
    rng = np.random.default_rng([sample_seed, 29])
    train = np.concatenate([rng.permutation(rest[raw.y[rest] == c])[:per_class] for c in TARGET_CLASSES])
    return _bundle(raw.x[train], raw.y[train], raw.x[held], raw.y[held], TARGET_CLASSES, pre)


# ---- pretraining, saving, loading ------------------------------------------------------------------------------


def pretrain(
    epochs: int = PRETRAIN_EPOCHS, generator_seeds: tuple[int, ...] = SOURCE_GENERATOR_SEEDS, seed: int = 0
) -> tuple[dict[str, torch.Tensor], dict]:
    """Train the backbone on the source task; returns (state_dict, metadata). Deterministic for a fixed torch build."""
    data = source_bundle(generator_seeds, seed)
    cfg = BACKBONE_CONFIG.replace(epochs=epochs, seed=seed)
    tr = Trainer(cfg, data=data, record=False).fit()
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tr.model.state_dict().items()}
    pre = data.preprocessor
    meta = {
        "format": FORMAT,
        "architecture": "lab.engine.models.Net (cnn)",
        "config": cfg.to_dict(),
        "input_shape": list(data.input_shape),
        "n_classes": data.n_classes,
        "source": {
            "dataset": "shapes",
            "classes": [SHAPE_NAMES[c] for c in SOURCE_CLASSES],
            "generator_seeds": list(generator_seeds),
            "n_train": len(data.x_train),
            "n_val": len(data.x_val),
            "val_acc": tr.last_eval.get("val_acc"),
        },
        "target": {"classes": [SHAPE_NAMES[c] for c in TARGET_CLASSES], "generator_seed": TARGET_GENERATOR_SEED},
        "normalization": {"mean": pre.mean.flatten().tolist(), "std": pre.std.flatten().tolist()},
        "keys": {k: list(v.shape) for k, v in state.items()},
        "n_params": sum(v.numel() for v in state.values()),
        "epochs": epochs,
        "seed": seed,
        "torch": torch.__version__,
    }
    return state, meta


def save_backbone(state: dict[str, torch.Tensor], meta: dict, folder: Path = ASSET_DIR) -> Path:
    """Write the weights (plain tensors, loadable with weights_only=True) and the metadata with the file's SHA-256."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WEIGHTS_FILE
    torch.save(state, path)
    meta = dict(meta, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), bytes=path.stat().st_size)
    (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return path


def load_backbone(folder: Path = ASSET_DIR) -> Backbone:
    """Load the shipped backbone with torch.load(weights_only=True) and check it against its metadata.

    Checks, in order: the metadata is readable, the file's SHA-256 matches it, the file holds
    a dict of tensors, its keys and shapes are exactly those of the architecture the metadata
    describes, and every value is finite. Any failure raises BackboneError naming the problem.
    """
    folder = Path(folder)
    try:
        meta = json.loads((folder / META_FILE).read_text())
        cfg = RunConfig.from_dict(meta["config"])
        shape, n_classes = tuple(meta["input_shape"]), int(meta["n_classes"])
        norm = meta["normalization"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BackboneError(f"backbone metadata {folder / META_FILE} is unusable ({e}); {REBUILD}") from None
    path = folder / WEIGHTS_FILE
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise BackboneError(f"backbone weights {path} cannot be read ({e.strerror}); {REBUILD}") from None
    if meta.get("sha256") and hashlib.sha256(blob).hexdigest() != meta["sha256"]:
        raise BackboneError(
            f"backbone weights {path} do not match the SHA-256 in {META_FILE} (changed or truncated); {REBUILD}"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unpickling problem: the file is not a plain tensor dict
        raise BackboneError(
            f"backbone weights {path} cannot be loaded with weights_only=True ({type(e).__name__}); {REBUILD}"
        ) from None
    validate_state(state, build_model(cfg, shape, n_classes).state_dict(), str(path))
    c = shape[0]
    pre = Preprocessor(
        "standardize",
        shape,
        mean=torch.tensor(norm["mean"], dtype=torch.float32).view(1, c, 1, 1),
        std=torch.tensor(norm["std"], dtype=torch.float32).view(1, c, 1, 1),
    )
    return Backbone(state, meta, cfg, pre)


def validate_state(state: object, expected: dict[str, torch.Tensor], where: str = "state") -> None:
    """Raise BackboneError unless `state` is a dict of finite tensors with exactly the expected keys and shapes."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BackboneError(f"{where} is invalid: expected a dict of tensors (a state_dict)")
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        raise BackboneError(
            f"{where} does not fit the architecture: missing keys {missing[:5]}, unexpected keys {extra[:5]}"
        )
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise BackboneError(
                f"{where} key {k} has shape {tuple(state[k].shape)}; the architecture needs {tuple(v.shape)}"
            )
        if state[k].is_floating_point() and not torch.isfinite(state[k]).all():
            raise BackboneError(f"{where} key {k} holds NaN or infinite values")


# ---- strategies on the target task ---------------------------------------------------------------------------------


class EvalLog(Callback):
    """Collects every evaluation (step, val_loss, val_acc, train_acc) for the learning curves."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_eval_end(self, trainer: Trainer) -> None:
        """Append the evaluation just made."""
        ev = trainer.last_eval
        self.rows.append({k: ev[k] for k in ("step", "val_loss", "val_acc", "train_loss", "train_acc")})


@torch.no_grad()
def features(model: nn.Module, x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """The model's outputs for x in eval mode, in chunks (the model's head already replaced by Identity)."""
    model.eval()
    return torch.cat([model(x[i : i + chunk]) for i in range(0, len(x), chunk)])


def _feature_bundle(f_train: torch.Tensor, f_val: torch.Tensor, data: DataBundle) -> DataBundle:
    return DataBundle(
        x_train=f_train,
        y_train=data.y_train,
        x_val=f_val,
        y_val=data.y_val,
        n_classes=data.n_classes,
        input_shape=tuple(f_train.shape[1:]),
        class_names=data.class_names,
        name=data.name,
        raw_train=data.raw_train,
        preprocessor=None,
    )


def _head_config(cfg: RunConfig) -> RunConfig:
    """A linear classifier (MLP of depth 0) trained like the other strategies."""
    return cfg.replace(model="mlp", depth=0, preprocess="none", dropout=0.0)


def resnet18_features(weights: Path) -> nn.Module:
    """torchvision's ResNet-18 with the given ImageNet weights (checked) and its classifier removed."""
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:
        raise BackboneError(
            f"ResNet-18 weights {weights} cannot be loaded with weights_only=True ({type(e).__name__})"
        ) from None
    validate_state(state, net.state_dict(), str(weights))
    net.load_state_dict(state)
    net.fc = nn.Identity()
    return net


def _resnet_inputs(raw: torch.Tensor) -> torch.Tensor:
    """Raw [0, 1] images upscaled to RESNET_SIZE and normalized with ImageNet's statistics."""
    x = F.interpolate(raw, size=(RESNET_SIZE, RESNET_SIZE), mode="bilinear", align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _two_rate_optimizer(tr: Trainer, cfg: RunConfig, frozen: tuple[str, ...], lr_factor: float) -> int:
    """Freeze layers named in `frozen`; pretrained layers at lr x lr_factor, the head at lr. Returns trainable count."""
    body, head = [], []
    for name, p in tr.model.named_parameters():
        layer = name.split(".")[0]
        if layer in frozen:
            p.requires_grad_(False)
        elif layer == HEAD:
            head.append(p)
        else:
            body.append(p)
    groups = [{"params": body, "lr": cfg.lr * lr_factor}, {"params": head, "lr": cfg.lr}]
    tr.opt = make_optimizer(groups, cfg)
    tr.sched = LRSchedule(tr.opt, cfg, tr.total_steps)
    return sum(p.numel() for p in body + head)


def run_strategy(
    strategy: str,
    per_class: int = 10,
    sample_seed: int = 0,
    epochs: int = 60,
    lr: float = 3e-3,
    lr_factor: float = 0.1,
    folder: str | None = None,
) -> dict:
    """Train one strategy on the target task; returns its final and best accuracy, its curve and its cost."""
    if strategy not in STRATEGIES:
        raise ConfigError("strategy", strategy, f"one of: {', '.join(STRATEGIES)}")
    if not 0 < lr_factor <= 1:
        raise ConfigError("lr_factor", lr_factor, "a fraction of the learning rate, above 0 and at most 1")
    t0 = time.perf_counter()
    backbone = load_backbone(Path(folder) if folder else ASSET_DIR)
    data = target_bundle(per_class, sample_seed, backbone.preprocessor)
    steps_per_epoch = max(1, len(data.x_train) // min(backbone.config.batch_size, len(data.x_train)))
    total = epochs * steps_per_epoch
    cfg = backbone.config.replace(
        epochs=epochs, lr=lr, seed=sample_seed, eval_every=max(1, total // 12), max_steps=0, early_stopping=0
    )
    log = EvalLog()
    n_total = sum(v.numel() for v in backbone.state.values())
    if strategy in ("frozen", "resnet18"):
        if strategy == "frozen":
            body = backbone.model(data.n_classes)
            body.out = nn.Identity()
            f_train, f_val = features(body, data.x_train), features(body, data.x_val)
        else:
            weights, reason = resnet18_weights()
            if weights is None:
                raise BackboneError(reason)
            body = resnet18_features(weights)
            n_total = sum(p.numel() for p in body.parameters())
            f_train = features(body, _resnet_inputs(data.raw_train))
            f_val = features(body, _resnet_inputs(backbone.preprocessor.invert(data.x_val)))
        tr = Trainer(_head_config(cfg), data=_feature_bundle(f_train, f_val, data), record=False, callbacks=[log])
        trainable = sum(p.numel() for p in tr.model.parameters())
        n_total += trainable
    else:
        tr = Trainer(cfg, data=data, record=False, callbacks=[log])
        trainable = sum(p.numel() for p in tr.model.parameters())
        if strategy in ("finetune", "finetune_top"):
            tr.model.load_state_dict(backbone.model(data.n_classes).state_dict())
            trainable = _two_rate_optimizer(tr, cfg, LOWER_LAYERS if strategy == "finetune_top" else (), lr_factor)
    tr.fit()
    return {
        "strategy": strategy,
        "label": STRATEGIES[strategy].label,
        "val_acc": tr.last_eval.get("val_acc", math.nan),
        "val_loss": tr.last_eval.get("val_loss", math.nan),
        "best_val_acc": tr.best_val_acc,
        "curve": log.rows,
        "trainable": trainable,
        "params": n_total,
        "n_train": len(data.x_train),
        "n_val": len(data.x_val),
        "steps": tr.step,
        "status": tr.status,
        "reason": tr.reason,
        "seconds": time.perf_counter() - t0,
        "own_backbone": strategy in OWN_BACKBONE,
    }
