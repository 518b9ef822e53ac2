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
from collections.abc import Callable, Collection, Mapping
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


# The Train page's control groups, in order (field metadata, shown as expanders).
DATA, MODEL, ACT, OPT, REG, RUN = (
    "Data",
    "Model",
    "Activation and init",
    "Optimizer and schedule",
    "Regularization",
    "Run",
)


def _f(
    default: Any,
    group: str,
    help: str,
    lo: float | None = None,
    hi: float | None = None,
    when: Callable[[Mapping[str, Any]], bool] | None = None,
    regularizer: bool | None = None,
) -> Any:
    """A dataclass field carrying its UI group, help text and numeric range, and two facts the code derives
    from: `when` it matters (the Train page shows its control only then) and whether it is a `regularizer`
    (overfit_batches turns those back to their defaults, which are off); by default every field of the
    Regularization group is one."""
    regularizer = group == REG if regularizer is None else regularizer
    meta = {"group": group, "help": help, "lo": lo, "hi": hi, "when": when, "regularizer": regularizer}
    return field(default=default, metadata=meta)


def _if(name: str, *values: Any) -> Callable[[Mapping[str, Any]], bool]:
    """A field matters only while field `name` has one of `values`."""
    return lambda c: c[name] in values


_TOYS = _if("dataset", *registry.TOY_2D_DATASETS)
_MLP, _CNN, _RESIDUAL, _ADAM = (
    _if("model", "mlp"),
    _if("model", "cnn"),
    _if("residual", True),
    _if("optimizer", "adam", "adamw"),
)


def _images(c: Mapping[str, Any]) -> bool:
    """Augmentations apply to images, not to the 2D toy sets."""
    return c["dataset"] not in registry.TOY_2D_DATASETS


def _cnn_hidden_fc(c: Mapping[str, Any]) -> bool:
    """The CNN has a hidden fully connected layer (more than the classifier)."""
    return c["model"] == "cnn" and c["fc_layers"] > 1


def _early_stopping_on(c: Mapping[str, Any]) -> bool:
    """Early stopping is on."""
    return c["early_stopping"] > 0


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; same config + same seed = same loss curve on CPU."""

    # --- Data ---
    dataset: str = _f("digits", DATA, "Which data to learn from; the embedded ones work offline.")
    noise: float = _f(0.1, DATA, "Noise level of the 2D toy sets (ignored for images).", 0.0, 2.0, when=_TOYS)
    toy_samples: int = _f(1000, DATA, "How many points the 2D toy sets generate.", 40, 20000, when=_TOYS)
    subset: int = _f(0, DATA, "Train on only this many examples (0 = all); small subsets overfit.", 0, 1_000_000)
    val_fraction: float = _f(0.2, DATA, "Share of the data held out for validation.", 0.05, 0.5)
    preprocess: str = _f("standardize", DATA, "How inputs are centred and scaled before training.")

    # --- Model ---
    model: str = _f("mlp", MODEL, "Fully connected network or convolutional network.")
    depth: int = _f(2, MODEL, "MLP hidden layers (0 = linear classifier).", 0, 20, when=_MLP)
    width: int = _f(64, MODEL, "Units per MLP hidden layer.", 1, 2048, when=_MLP)
    cnn_stages: int = _f(2, MODEL, "CNN stages; each ends with 2x2 pooling and doubles the channels.", 1, 4, when=_CNN)
    convs_per_stage: int = _f(1, MODEL, "3x3 convolutions per CNN stage.", 1, 4, when=_CNN)
    base_channels: int = _f(16, MODEL, "Channels of the first stage (then x2 per stage).", 2, 128, when=_CNN)
    fc_layers: int = _f(
        1, MODEL, "Fully connected layers after the CNN stages (the last is the classifier).", 1, 3, when=_CNN
    )
    fc_width: int = _f(64, MODEL, "Units of the hidden fully connected CNN layers.", 4, 1024, when=_cnn_hidden_fc)
    pool: str = _f("max", MODEL, "Pooling between CNN stages.", when=_CNN)
    batch_norm: bool = _f(False, MODEL, "Batch norm after each conv/linear layer, before the activation.")
    residual: bool = _f(False, MODEL, "Wrap layers in residual blocks (skip connections).")
    zero_init_residual: bool = _f(
        False, MODEL, "Zero the last layer of each residual block so it starts as identity.", when=_RESIDUAL
    )

    # --- Activation and init ---
    activation: str = _f("relu", ACT, "Non-linearity of every hidden layer.")
    leaky_slope: float = _f(
        0.01,
        ACT,
        "Negative slope of Leaky ReLU (start value for PReLU).",
        0.0,
        1.0,
        when=_if("activation", "leaky_relu", "prelu"),
    )
    elu_alpha: float = _f(
        1.0,
        ACT,
        "ELU's alpha: the value approached for very negative inputs.",
        0.0,
        10.0,
        when=_if("activation", "elu"),
    )
    swish_beta: float = _f(
        1.0, ACT, "Swish's beta; 1 is SiLU, large beta approaches ReLU.", 0.0, 20.0, when=_if("activation", "silu")
    )
    maxout_k: int = _f(2, ACT, "Maxout pieces per unit.", 2, 8, when=_if("activation", "maxout"))
    init: str = _f("default", ACT, "How weights start out.")
    init_constant: float = _f(0.1, ACT, "Value used by the 'constant' init.", -10.0, 10.0, when=_if("init", "constant"))

    # --- Optimizer and schedule ---
    loss: str = _f("cross_entropy", OPT, "What is minimized.")
    optimizer: str = _f("adam", OPT, "The update rule.")
    lr: float = _f(3e-3, OPT, "Base learning rate.", 1e-7, 10.0)
    momentum: float = _f(
        0.9,
        OPT,
        "Velocity decay of SGD + momentum and Nesterov.",
        0.0,
        0.999,
        when=_if("optimizer", "momentum", "nesterov"),
    )
    beta1: float = _f(0.9, OPT, "Adam's first-moment decay.", 0.0, 0.9999, when=_ADAM)
    beta2: float = _f(0.999, OPT, "Adam's second-moment decay.", 0.0, 0.99999, when=_ADAM)
    rms_alpha: float = _f(
        0.99, OPT, "RMSprop's decay of the squared-gradient average.", 0.0, 0.99999, when=_if("optimizer", "rmsprop")
    )
    eps: float = _f(
        1e-8,
        OPT,
        "Added to denominators of adaptive optimizers.",
        1e-12,
        1.0,
        when=_if("optimizer", "adagrad", "rmsprop", "adam", "adamw"),
    )
    weight_decay: float = _f(
        0.0, OPT, "Optimizer weight decay (L2 for SGD/Adam, decoupled for AdamW).", 0.0, 1.0, regularizer=True
    )
    schedule: str = _f("constant", OPT, "How the learning rate changes over the run.")
    warmup_steps: int = _f(0, OPT, "Linear warmup from near zero over this many steps.", 0, 100_000)
    step_size: int = _f(
        200,
        OPT,
        "Step schedule: steps between decays; cyclic: half-cycle length.",
        1,
        1_000_000,
        when=_if("schedule", "step", "cyclic"),
    )
    gamma: float = _f(
        0.5, OPT, "Step schedule: factor applied at each decay.", 0.0, 1.0, when=_if("schedule", "step", "plateau")
    )
    min_lr_ratio: float = _f(
        0.01,
        OPT,
        "Cosine/linear/cyclic: lowest rate as a fraction of lr.",
        0.0,
        1.0,
        when=_if("schedule", "cosine", "linear", "cyclic"),
    )
    plateau_patience: int = _f(
        2,
        OPT,
        "Reduce-on-plateau: evaluations without improvement before a cut.",
        0,
        1000,
        when=_if("schedule", "plateau"),
    )
    scale_lr_with_batch: bool = _f(False, OPT, "Linear scaling rule: lr x batch_size / lr_reference_batch.")
    lr_reference_batch: int = _f(
        64, OPT, "Batch size at which lr applies unscaled.", 1, 65536, when=_if("scale_lr_with_batch", True)
    )
    clip_value: float = _f(0.0, OPT, "Clip each gradient entry to +-value (0 = off).", 0.0, 1e6)
    clip_norm: float = _f(0.0, OPT, "Rescale the whole gradient to at most this norm (0 = off).", 0.0, 1e6)

    # --- Regularization ---
    l1: float = _f(0.0, REG, "L1 penalty added to the loss (with l2: elastic net).", 0.0, 1.0)
    l2: float = _f(0.0, REG, "L2 penalty added to the loss.", 0.0, 1.0)
    dropout: float = _f(0.0, REG, "Probability of zeroing each hidden unit while training.", 0.0, 0.95)
    dropconnect: float = _f(0.0, REG, "Probability of zeroing each weight while training.", 0.0, 0.95)
    stochastic_depth: float = _f(
        0.0, REG, "Probability of skipping a residual block while training.", 0.0, 0.95, when=_RESIDUAL
    )
    label_smoothing: float = _f(0.0, REG, "Spread this much target mass over the other classes.", 0.0, 0.5)
    aug_crop: int = _f(0, REG, "Random crop after padding by this many pixels (0 = off).", 0, 8, when=_images)
    aug_flip: bool = _f(False, REG, "Random horizontal flips.", when=_images)
    aug_rotate: float = _f(0.0, REG, "Random rotation up to +-degrees.", 0.0, 180.0, when=_images)
    aug_translate: float = _f(0.0, REG, "Random shift up to this fraction of the size.", 0.0, 0.5, when=_images)
    aug_scale: float = _f(0.0, REG, "Random zoom by up to +-this fraction.", 0.0, 0.5, when=_images)
    aug_shear: float = _f(0.0, REG, "Random shear up to +-degrees.", 0.0, 45.0, when=_images)
    aug_jitter: float = _f(
        0.0, REG, "Colour jitter strength (brightness, contrast, saturation).", 0.0, 1.0, when=_images
    )
    aug_noise: float = _f(0.0, REG, "Std of Gaussian noise added to inputs.", 0.0, 2.0)
    cutout: float = _f(
        0.0, REG, "Erase a random square of this fraction of the image side (0 = off).", 0.0, 0.9, when=_images
    )
    mixup: float = _f(0.0, REG, "Mixup alpha: blend pairs of examples and labels (0 = off).", 0.0, 5.0, when=_images)
    cutmix: float = _f(
        0.0, REG, "CutMix alpha: paste patches and mix labels by area (0 = off).", 0.0, 5.0, when=_images
    )
    early_stopping: int = _f(0, REG, "Stop after this many evaluations without a better val loss (0 = off).", 0, 1000)
    restore_best: bool = _f(
        True,
        REG,
        "With early stopping, restore the weights of the best evaluation.",
        when=_early_stopping_on,
        regularizer=False,
    )

    # --- Run ---
    epochs: int = _f(10, RUN, "Passes over the training data.", 1, 10_000)
    max_steps: int = _f(0, RUN, "Stop after this many steps (0 = run all epochs).", 0, 10_000_000)
    batch_size: int = _f(64, RUN, "Examples per step.", 1, 65536)
    seed: int = _f(0, RUN, "Seeds data split, init, dropout and shuffling.", 0, 2**31 - 1)
    overfit_batches: int = _f(0, RUN, "Train on only this many batches with regularization off (0 = off).", 0, 1000)
    eval_every: int = _f(
        0, RUN, "Evaluate every this many steps (0 = about 20 times per run, at least each epoch).", 0, 1_000_000
    )
    record_every: int = _f(0, RUN, "Record layer statistics every this many steps (0 = automatic).", 0, 1_000_000)
    device: str = _f("auto", RUN, "Where to train.")
    # Full speed unless asked: the CLI, the workflows and every Trainer() call keep today's pace; the Train
    # page asks for `watch` (lab/ui/dashboard.py). The pace changes when steps happen, never what they compute.
    speed: str = _f("max", RUN, "watch: paced to follow (about 20 s for a default run); fast: 4x watch; max: full.")
    until_paused: bool = _f(
        False, RUN, "Keep training epoch after epoch until Pause or Stop (up to the server's step limit)."
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
        cls,
        params: Mapping[str, Any],
        limits: Limits | None = None,
        ignore: Collection[str] = (),
        errors: list[str] | None = None,
    ) -> RunConfig:
        """Parse query parameters (strings); keys in `ignore` (e.g. `run`) are skipped.

        Strict by default (the first bad parameter raises ConfigError). Given an `errors` list, as for a
        shared link, each bad parameter is dropped with its one-line message appended instead, and the
        rest still applies (all defaults if nothing valid is left).
        """
        data = {}
        for key, raw in params.items():
            if key in ignore:
                continue
            if isinstance(raw, list):  # st.query_params.to_dict() gives the last value; be lenient
                raw = raw[-1] if raw else ""
            try:
                data[key] = parse_text(key, str(raw))
            except ConfigError as e:
                if errors is None:
                    raise
                errors.append(str(e))
        if errors is None:
            return cls.from_dict(data, limits)
        for _ in range(len(data) + 1):  # drop one offending field at a time until the rest is valid
            try:
                return cls.from_dict(data, limits)
            except ConfigError as e:
                errors.append(str(e))
                if e.field not in data:
                    break
                data.pop(e.field)
        return cls()

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
