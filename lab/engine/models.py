"""The lab's networks: an MLP and a small CNN, both built from `lab.engine.layers.Layer`, from one RunConfig.

Layers are direct attributes with short readable names (fc1, fc2, conv1, pool1, out), so
parameters read `fc1.lin.weight` and charts can say `fc1.weight`. `Net.taps` tells the recorder
which module's output is each hidden layer's post-activation tensor.

Residual networks: the first layer of an MLP (and of each CNN stage) changes the width, so it is a
plain projection; the layers after it form blocks of two (a lone last layer is a one-layer block)
whose second layer adds the block's input before its activation: act(x + bn(op(...))).
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from lab.config import ConfigError, RunConfig
from lab.engine.activations import activation_from_config, width_multiplier
from lab.engine.init import init_weights
from lab.engine.layers import Layer, conv3x3, linear, pool_layer, residual_block


def _groups(n: int, residual: bool) -> list[tuple[int, ...]]:
    """Split layer indices 0..n-1 into steps: singles, or a projection then residual blocks of two."""
    if not residual or n < 2:
        return [(i,) for i in range(n)]
    return [(0,)] + [tuple(range(i, min(i + 2, n))) for i in range(1, n, 2)]


class Net(nn.Module):
    """An MLP or CNN classifier with readable layer names and recorder taps."""

    def __init__(self, cfg: RunConfig, input_shape: tuple[int, ...], n_classes: int):
        super().__init__()
        self.cfg = cfg
        self.taps: dict[str, nn.Module] = {}  # layer name -> module whose output is the post-activation
        self.tap_kinds: dict[str, str] = {}  # layer name -> activation key
        self._steps: list[tuple[tuple[str, ...], bool]] = []  # (module names, is a residual block), in order
        self._mult = width_multiplier(cfg.activation, cfg.maxout_k)
        if cfg.model == "mlp":
            self._build_mlp(math.prod(input_shape), n_classes)
        elif cfg.model == "cnn":
            if len(input_shape) != 3:
                raise ConfigError("model", "cnn", f"'mlp' for inputs of shape {tuple(input_shape)} "
                                  "(a CNN needs images: channels x height x width)")
            self._build_cnn(tuple(input_shape), n_classes)
        else:
            raise ConfigError("model", cfg.model, "mlp or cnn")

    # ---- construction --------------------------------------------------------------

    def _add(self, name: str, module: nn.Module) -> None:
        """Register a plain (non-residual) step."""
        self.add_module(name, module)
        self._steps.append(((name,), False))

    def _layer(self, name: str, op: nn.Module, block_end: bool) -> Layer:
        """A hidden layer with the config's BN, activation and dropout; registered and tapped."""
        cfg = self.cfg
        layer = Layer(op, activation_from_config(cfg), batch_norm=cfg.batch_norm, dropout=cfg.dropout,
                      stochastic_depth=cfg.stochastic_depth if block_end else 0.0,
                      skip_repeat=self._mult if block_end else 1)
        self.add_module(name, layer)
        self.taps[name] = layer.act
        self.tap_kinds[name] = cfg.activation
        return layer

    def _stack(self, names: list[str], make_op) -> None:
        """Build hidden layers `names` (make_op(i) gives layer i's linear/conv) as singles or residual blocks."""
        for group in _groups(len(names), self.cfg.residual):
            block = self.cfg.residual and len(names) >= 2 and group != (0,)
            for i in group:
                self._layer(names[i], make_op(i), block_end=block and i == group[-1])
            self._steps.append((tuple(names[i] for i in group), block))

    def _build_mlp(self, n_in: int, n_classes: int) -> None:
        """Flatten, depth hidden layers of width units, then the output layer."""
        cfg = self.cfg
        self._add("flat", nn.Flatten())
        # Batch norm's shift makes a bias before it redundant, so those layers go without one.
        self._stack([f"fc{i + 1}" for i in range(cfg.depth)],
                    lambda i: linear(n_in if i == 0 else cfg.width, cfg.width * self._mult,
                                     cfg.dropconnect, bias=not cfg.batch_norm))
        self._add("out", nn.Linear(cfg.width if cfg.depth else n_in, n_classes))

    def _build_cnn(self, shape: tuple[int, int, int], n_classes: int) -> None:
        """Stages of 3x3 convs (channels doubling) each ending in pooling, flatten, FC layers, output."""
        cfg = self.cfg
        c_in, size = shape[0], (shape[1], shape[2])
        n = 0
        for s in range(cfg.cnn_stages):
            c = cfg.base_channels * 2**s
            names = [f"conv{n + j + 1}" for j in range(cfg.convs_per_stage)]
            self._stack(names, lambda j, c=c, c_in=c_in: conv3x3(c_in if j == 0 else c, c * self._mult,
                                                                  cfg.dropconnect, bias=not cfg.batch_norm))
            n, c_in = n + cfg.convs_per_stage, c
            pool, size = pool_layer(cfg.pool, size)
            if pool is not None:  # tiny inputs (8x8 digits, 3+ stages) reach 1x1 and stop pooling
                self._add(f"pool{s + 1}", pool)
        self._add("flat", nn.Flatten())
        # Flatten rather than global pooling: the maps are small here and where things are still matters.
        n_feat = c_in * size[0] * size[1]
        for i in range(cfg.fc_layers - 1):
            name = f"fc{i + 1}"
            op = linear(n_feat if i == 0 else cfg.fc_width, cfg.fc_width * self._mult, cfg.dropconnect,
                        bias=not cfg.batch_norm)
            self._layer(name, op, block_end=False)
            self._steps.append(((name,), False))
        self._add("out", nn.Linear(cfg.fc_width if cfg.fc_layers > 1 else n_feat, n_classes))

    # ---- use ---------------------------------------------------------------------------

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape (N, n_classes)."""
        for names, block in self._steps:
            if block:
                x = residual_block([getattr(self, n) for n in names], x)
            else:
                x = getattr(self, names[0])(x)
        return x

    def residual_blocks(self) -> list[tuple[str, ...]]:
        """Names of the hidden layers forming each residual block, in order (empty without residual)."""
        return [names for names, block in self._steps if block]

    def apply_zero_init_residual(self) -> None:
        """Zero the last BN gamma (or weight and bias without BN) of each block, so blocks start as act(x)."""
        for names in self.residual_blocks():
            getattr(self, names[-1]).zero_last()

    def param_groups_readable(self) -> dict[str, str]:
        """Full parameter name -> readable name: 'fc1.lin.weight' -> 'fc1.weight', 'conv2.bn.weight' stays."""
        out = {}
        for name, _ in self.named_parameters():
            parts = name.split(".")
            if len(parts) > 2 and parts[1] in ("lin", "conv"):
                del parts[1]
            out[name] = ".".join(parts)
        return out


def build_model(cfg: RunConfig, input_shape: tuple[int, ...], n_classes: int) -> Net:
    """A ready-to-train Net: built, initialized by cfg.init, residual blocks zeroed if asked.

    Uses the global torch RNG; seed it before calling for a repeatable model.
    """
    net = Net(cfg, input_shape, n_classes)
    init_weights(net, cfg)
    if cfg.residual and cfg.zero_init_residual:
        net.apply_zero_init_residual()
    return net
