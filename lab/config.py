"""RunConfig: one frozen, validated description of a training run.

The config is deliberately flat (one level of fields, grouped by comments and by
`group` metadata) so that it maps one-to-one onto URL query parameters, CLI
`--set key=value` pairs and UI controls. Every field is typed, defaulted and
commented; every named option is a key of `lab.registry.CHOICES`.

URL encoding writes only the fields that differ from the defaults, plus `seed`
always, so links stay short and still restore a run exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from lab import registry


class ConfigError(ValueError):
    """Invalid configuration: the message names the field, the value and what is allowed."""

    def __init__(self, field_name: str, value: Any, allowed: str):
        self.field = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field_name}={value!r} is invalid: {allowed}")

    def __reduce__(self):
        # Keep the three parts when the error crosses a process boundary (workers report it).
        return (ConfigError, (self.field, self.value, self.allowed))


def _f(default: Any, group: str, help: str, lo: float | None = None, hi: float | None = None) -> Any:
    """A dataclass field carrying its UI group, help text and numeric range."""
    return field(default=default, metadata={"group": group, "help": help, "lo": lo, "hi": hi})


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; same config + same seed = same loss curve on CPU."""

    # --- Data ---
    dataset: str = _f("digits", "Data", "Which data to learn from; the embedded ones work offline.")
    noise: float = _f(0.1, "Data", "Noise level of the 2D toy sets (ignored for images).", 0.0, 2.0)
    toy_samples: int = _f(1000, "Data", "How many points the 2D toy sets generate.", 40, 20000)
    subset: int = _f(0, "Data", "Train on only this many examples (0 = all); small subsets overfit.", 0, 1_000_000)
    val_fraction: float = _f(0.2, "Data", "Share of the data held out for validation.", 0.05, 0.5)
    preprocess: str = _f("standardize", "Data", "How inputs are centred and scaled before training.")

    # --- Model ---
    model: str = _f("mlp", "Model", "Fully connected network or convolutional network.")
    depth: int = _f(2, "Model", "MLP hidden layers (0 = linear classifier).", 0, 20)
    width: int = _f(64, "Model", "Units per MLP hidden layer.", 1, 2048)
    cnn_stages: int = _f(2, "Model", "CNN stages; each ends with 2x2 pooling and doubles the channels.", 1, 4)
    convs_per_stage: int = _f(1, "Model", "3x3 convolutions per CNN stage.", 1, 4)
    base_channels: int = _f(16, "Model", "Channels of the first stage (then x2 per stage).", 2, 128)
    fc_layers: int = _f(1, "Model", "Fully connected layers after the CNN stages (the last is the classifier).", 1, 3)
    fc_width: int = _f(64, "Model", "Units of the hidden fully connected CNN layers.", 4, 1024)
    pool: str = _f("max", "Model", "Pooling between CNN stages.")
    batch_norm: bool = _f(False, "Model", "Batch norm after each conv/linear layer, before the activation.")
    residual: bool = _f(False, "Model", "Wrap layers in residual blocks (skip connections).")
    zero_init_residual: bool = _f(
        False, "Model", "Zero the last layer of each residual block so it starts as identity."
    )

    # --- Activation and init ---
    activation: str = _f("relu", "Activation and init", "Non-linearity of every hidden layer.")
    leaky_slope: float = _f(
        0.01, "Activation and init", "Negative slope of Leaky ReLU (start value for PReLU).", 0.0, 1.0
    )
    elu_alpha: float = _f(
        1.0, "Activation and init", "ELU's alpha: the value approached for very negative inputs.", 0.0, 10.0
    )
    swish_beta: float = _f(
        1.0, "Activation and init", "Swish's beta; 1 is SiLU, large beta approaches ReLU.", 0.0, 20.0
    )
    maxout_k: int = _f(2, "Activation and init", "Maxout pieces per unit.", 2, 8)
    init: str = _f("default", "Activation and init", "How weights start out.")
    init_constant: float = _f(0.1, "Activation and init", "Value used by the 'constant' init.", -10.0, 10.0)

    # --- Optimizer and schedule ---
    loss: str = _f("cross_entropy", "Optimizer and schedule", "What is minimized.")
    optimizer: str = _f("adam", "Optimizer and schedule", "The update rule.")
    lr: float = _f(3e-3, "Optimizer and schedule", "Base learning rate.", 1e-7, 10.0)
    momentum: float = _f(0.9, "Optimizer and schedule", "Velocity decay of SGD + momentum and Nesterov.", 0.0, 0.999)
    beta1: float = _f(0.9, "Optimizer and schedule", "Adam's first-moment decay.", 0.0, 0.9999)
    beta2: float = _f(0.999, "Optimizer and schedule", "Adam's second-moment decay.", 0.0, 0.99999)
    rms_alpha: float = _f(
        0.99, "Optimizer and schedule", "RMSprop's decay of the squared-gradient average.", 0.0, 0.99999
    )
    eps: float = _f(1e-8, "Optimizer and schedule", "Added to denominators of adaptive optimizers.", 1e-12, 1.0)
    weight_decay: float = _f(
        0.0, "Optimizer and schedule", "Optimizer weight decay (L2 for SGD/Adam, decoupled for AdamW).", 0.0, 1.0
    )
    schedule: str = _f("constant", "Optimizer and schedule", "How the learning rate changes over the run.")
    warmup_steps: int = _f(
        0, "Optimizer and schedule", "Linear warmup from near zero over this many steps.", 0, 100_000
    )
    step_size: int = _f(
        200, "Optimizer and schedule", "Step schedule: steps between decays; cyclic: half-cycle length.", 1, 1_000_000
    )
    gamma: float = _f(0.5, "Optimizer and schedule", "Step schedule: factor applied at each decay.", 0.0, 1.0)
    min_lr_ratio: float = _f(
        0.01, "Optimizer and schedule", "Cosine/linear/cyclic: lowest rate as a fraction of lr.", 0.0, 1.0
    )
    plateau_patience: int = _f(
        2, "Optimizer and schedule", "Reduce-on-plateau: evaluations without improvement before a cut.", 0, 1000
    )
    scale_lr_with_batch: bool = _f(
        False, "Optimizer and schedule", "Linear scaling rule: lr x batch_size / lr_reference_batch."
    )
    lr_reference_batch: int = _f(64, "Optimizer and schedule", "Batch size at which lr applies unscaled.", 1, 65536)
    clip_value: float = _f(0.0, "Optimizer and schedule", "Clip each gradient entry to +-value (0 = off).", 0.0, 1e6)
    clip_norm: float = _f(
        0.0, "Optimizer and schedule", "Rescale the whole gradient to at most this norm (0 = off).", 0.0, 1e6
    )

    # --- Regularization ---
    l1: float = _f(0.0, "Regularization", "L1 penalty added to the loss (with l2: elastic net).", 0.0, 1.0)
    l2: float = _f(0.0, "Regularization", "L2 penalty added to the loss.", 0.0, 1.0)
    dropout: float = _f(0.0, "Regularization", "Probability of zeroing each hidden unit while training.", 0.0, 0.95)
    dropconnect: float = _f(0.0, "Regularization", "Probability of zeroing each weight while training.", 0.0, 0.95)
    stochastic_depth: float = _f(
        0.0, "Regularization", "Probability of skipping a residual block while training.", 0.0, 0.95
    )
    label_smoothing: float = _f(0.0, "Regularization", "Spread this much target mass over the other classes.", 0.0, 0.5)
    aug_crop: int = _f(0, "Regularization", "Random crop after padding by this many pixels (0 = off).", 0, 8)
    aug_flip: bool = _f(False, "Regularization", "Random horizontal flips.")
    aug_rotate: float = _f(0.0, "Regularization", "Random rotation up to +-degrees.", 0.0, 180.0)
    aug_translate: float = _f(0.0, "Regularization", "Random shift up to this fraction of the size.", 0.0, 0.5)
    aug_scale: float = _f(0.0, "Regularization", "Random zoom by up to +-this fraction.", 0.0, 0.5)
    aug_shear: float = _f(0.0, "Regularization", "Random shear up to +-degrees.", 0.0, 45.0)
    aug_jitter: float = _f(
        0.0, "Regularization", "Colour jitter strength (brightness, contrast, saturation).", 0.0, 1.0
    )
    aug_noise: float = _f(0.0, "Regularization", "Std of Gaussian noise added to inputs.", 0.0, 2.0)
    cutout: float = _f(
        0.0, "Regularization", "Erase a random square of this fraction of the image side (0 = off).", 0.0, 0.9
    )
    mixup: float = _f(0.0, "Regularization", "Mixup alpha: blend pairs of examples and labels (0 = off).", 0.0, 5.0)
    cutmix: float = _f(0.0, "Regularization", "CutMix alpha: paste patches and mix labels by area (0 = off).", 0.0, 5.0)
    early_stopping: int = _f(
        0, "Regularization", "Stop after this many evaluations without a better val loss (0 = off).", 0, 1000
    )
    restore_best: bool = _f(True, "Regularization", "With early stopping, restore the weights of the best evaluation.")

    # --- Run ---
    epochs: int = _f(10, "Run", "Passes over the training data.", 1, 10_000)
    max_steps: int = _f(0, "Run", "Stop after this many steps (0 = run all epochs).", 0, 10_000_000)
    batch_size: int = _f(64, "Run", "Examples per step.", 1, 65536)
    seed: int = _f(0, "Run", "Seeds data split, init, dropout and shuffling.", 0, 2**31 - 1)
    overfit_batches: int = _f(0, "Run", "Train on only this many batches with regularization off (0 = off).", 0, 1000)
    eval_every: int = _f(
        0, "Run", "Evaluate every this many steps (0 = about 20 times per run, at least each epoch).", 0, 1_000_000
    )
    record_every: int = _f(0, "Run", "Record layer statistics every this many steps (0 = automatic).", 0, 1_000_000)
    device: str = _f("auto", "Run", "Where to train.")
    # Full speed unless asked: the CLI, the workflows and every Trainer() call keep today's pace; the Train
    # page asks for `watch` (lab/ui/dashboard.py). The pace changes when steps happen, never what they compute.
    speed: str = _f("max", "Run", "watch: paced to follow (about 20 s for a default run); fast: 4x watch; max: full.")
    until_paused: bool = _f(
        False, "Run", "Keep training epoch after epoch until Pause or Stop (up to the server's step limit)."
    )

    def __post_init__(self) -> None:
        # Python callers write lr=1 or aug_rotate=15; store such ints as the float the field declares.
        for f in fields(self):
            value = getattr(self, f.name)
            if type(f.default) is float and type(value) is int:
                object.__setattr__(self, f.name, float(value))

    # ---- conversions -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """JSON text with every field (sorted keys for stable diffs)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], limits: Limits | None = None) -> RunConfig:
        """Build and validate from a dict of typed values; unknown keys are rejected."""
        kwargs = {}
        for key, raw in data.items():
            if key not in FIELDS:
                raise ConfigError(key, raw, f"unknown setting; known settings: {', '.join(sorted(FIELDS))}")
            kwargs[key] = _coerce(key, raw)
        cfg = cls(**kwargs)
        cfg.validate(limits)
        return cfg

    @classmethod
    def from_json(cls, text: str, limits: Limits | None = None) -> RunConfig:
        """Parse JSON text (an object of settings) into a validated config."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError("config", text[:40], f"valid JSON ({e.msg} at line {e.lineno})") from None
        if not isinstance(data, dict):
            raise ConfigError("config", data, "a JSON object of settings")
        return cls.from_dict(data, limits)

    def to_query(self) -> dict[str, str]:
        """Query parameters: fields that differ from the defaults, plus the seed."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != f.default or f.name == "seed":
                out[f.name] = _to_text(value)
        return out

    @classmethod
    def from_query(
        cls, params: Mapping[str, Any], limits: Limits | None = None, ignore: tuple[str, ...] = ()
    ) -> RunConfig:
        """Parse query parameters (strings); keys in `ignore` (e.g. `run`) are skipped."""
        data = {}
        for key, raw in params.items():
            if key in ignore:
                continue
            if isinstance(raw, list):  # st.query_params.to_dict() gives the last value; be lenient
                raw = raw[-1] if raw else ""
            data[key] = parse_text(key, str(raw)) if key in FIELDS else raw
        return cls.from_dict(data, limits)

    def replace(self, **changes: Any) -> RunConfig:
        """A validated copy with some fields changed."""
        data = self.to_dict()
        data.update(changes)
        return RunConfig.from_dict(data)

    # ---- validation --------------------------------------------------------------

    def validate(self, limits: Limits | None = None) -> None:
        """Raise ConfigError for the first invalid field (names, ranges, server limits)."""
        for f in fields(self):
            value = getattr(self, f.name)
            _check_type(f.name, value)
            if f.name in registry.CHOICES:
                options = registry.CHOICES[f.name]
                if value not in options:
                    raise ConfigError(f.name, value, f"choose one of: {', '.join(options)}")
            lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f.name, value, "a finite number")
            if lo is not None and value < lo or hi is not None and value > hi:
                raise ConfigError(f.name, value, f"a value from {_num(lo)} to {_num(hi)}")
        if self.activation == "maxout" and self.model == "cnn" and self.residual:
            raise ConfigError(
                "activation",
                "maxout",
                "maxout is not available in residual CNN blocks; pick another activation or turn residual off",
            )
        if self.stochastic_depth > 0 and not self.residual:
            raise ConfigError(
                "stochastic_depth", self.stochastic_depth, "0 unless residual blocks are on (it skips blocks)"
            )
        if self.mixup > 0 and self.cutmix > 0:
            raise ConfigError("cutmix", self.cutmix, "0 when mixup is on (pick one of the two)")
        (limits or Limits()).check(self)

    @property
    def is_image(self) -> bool:
        """True for image datasets (digits, shapes, torchvision ones), False for 2D toys."""
        return self.dataset not in registry.TOY_2D_DATASETS


@dataclass(frozen=True)
class Limits:
    """Caps that protect a shared server; the defaults suit one laptop or a classroom."""

    max_params: int = 5_000_000  # trainable parameters of the built model
    max_steps: int = 200_000  # optimizer steps in one run
    max_samples: int = 60_000  # training examples after subsetting
    max_batch: int = 1024  # examples per step

    def check(self, cfg: RunConfig) -> None:
        """Raise ConfigError when the config asks for more than the server allows."""
        if cfg.batch_size > self.max_batch:
            raise ConfigError("batch_size", cfg.batch_size, f"at most {self.max_batch} on this server")
        if cfg.max_steps > self.max_steps:
            raise ConfigError("max_steps", cfg.max_steps, f"at most {self.max_steps} on this server")
        if cfg.subset > self.max_samples:
            raise ConfigError("subset", cfg.subset, f"at most {self.max_samples} on this server")
        if cfg.toy_samples > self.max_samples:
            raise ConfigError("toy_samples", cfg.toy_samples, f"at most {self.max_samples} on this server")

    def check_steps(self, total_steps: int) -> None:
        """Raise when epochs x steps per epoch exceeds the step cap."""
        if total_steps > self.max_steps:
            raise ConfigError(
                "epochs",
                total_steps,
                f"at most {self.max_steps} steps in total on this server; lower epochs or set max_steps",
            )

    def check_samples(self, n_train: int) -> None:
        """Raise when the training set is larger than allowed (set `subset`)."""
        if n_train > self.max_samples:
            raise ConfigError(
                "subset", n_train, f"at most {self.max_samples} training examples on this server; set subset"
            )

    def check_params(self, n_params: int) -> None:
        """Raise when the built model has too many parameters."""
        if n_params > self.max_params:
            raise ConfigError(
                "width",
                n_params,
                f"models of at most {self.max_params:,} parameters on this server (this one has {n_params:,}); "
                "make it narrower or shallower",
            )


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in fields(RunConfig)}
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(f.metadata["group"] for f in fields(RunConfig)))


def field_type(name: str) -> type:
    """The Python type of a config field (bool, int, float or str)."""
    return type(FIELDS[name].default)


def _num(x: float | None) -> str:
    return "-inf" if x is None else f"{x:g}"


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def parse_text(key: str, text: str) -> Any:
    """Turn the text of a URL/CLI value into the field's type or raise ConfigError."""
    if key not in FIELDS:
        raise ConfigError(key, text, f"unknown setting; known settings: {', '.join(sorted(FIELDS))}")
    kind = field_type(key)
    t = text.strip()
    if kind is bool:
        low = t.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(key, text, "true or false")
    if kind is int:
        try:
            return int(t)
        except ValueError:
            raise ConfigError(key, text, "a whole number") from None
    if kind is float:
        try:
            return float(t)
        except ValueError:
            raise ConfigError(key, text, "a number") from None
    return t


def _coerce(key: str, raw: Any) -> Any:
    """Accept JSON values of the right type (ints for floats too); reject the rest."""
    kind = field_type(key)
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    _check_type(key, raw)
    return raw


def _check_type(key: str, value: Any) -> None:
    kind = field_type(key)
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if not ok:
        names = {bool: "true or false", int: "a whole number", float: "a number", str: "a text value"}
        raise ConfigError(key, value, names[kind])
