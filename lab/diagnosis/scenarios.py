"""The diagnosis scenario suite: each pathology set up through the public config, plus healthy runs.

Plain data shared by `tests/test_diagnosis_scenarios.py` and `bench/diagnosis.py` (the runner that
trains them is `lab.workflows.diagnosis_suite`). Every config is one a user could type, at the length
the user would run it; none is shortened to make the suite faster than what a user sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scenario:
    """One run to diagnose: its config changes, the cause it must be named with ("healthy" for none)."""

    name: str
    pathology: str  # what the list calls it
    config: dict = field(default_factory=dict)
    cause: str = "healthy"
    fix_keys: tuple[str, ...] = ()  # the config fields the fix must change

    @property
    def healthy(self) -> bool:
        """True for a run that must get no warning at all."""
        return self.cause == "healthy"


PATHOLOGIES = (
    Scenario(
        "lr_far_too_high_collapse",
        "1. learning rate far too high (collapse)",
        {"optimizer": "sgd", "lr": 10.0},
        "lr_too_high",
        ("lr",),
    ),
    Scenario(
        "lr_far_too_high_diverges", "1. learning rate far too high (divergence)", {"lr": 0.3}, "lr_too_high", ("lr",)
    ),
    Scenario("lr_too_low", "2. learning rate too low", {"optimizer": "sgd", "lr": 1e-4}, "lr_too_low", ("lr",)),
    Scenario("zero_init", "3. zero init", {"init": "zeros"}, "zero_init", ("init",)),
    Scenario("constant_init", "3. constant init", {"init": "constant"}, "zero_init", ("init",)),
    Scenario(
        "init_too_large",
        "4. weights too large at init",
        {"init": "large_normal", "activation": "tanh"},
        "init_too_large",
        ("init",),
    ),
    Scenario(
        "init_too_small_deep",
        "5. weights too small in a deep net",
        {"init": "small_normal", "depth": 8, "activation": "tanh", "optimizer": "sgd", "lr": 0.05},
        "init_too_small",
        ("init",),
    ),
    Scenario(
        "vanishing_sigmoid",
        "6. vanishing gradients (saturating activations in depth)",
        {"activation": "sigmoid", "depth": 8, "init": "xavier_normal", "optimizer": "sgd", "lr": 0.1, "epochs": 15},
        "vanishing_gradients",
        ("activation", "init"),
    ),
    Scenario("dead_relu", "7. dead ReLUs", {"lr": 0.03, "batch_size": 8, "epochs": 3}, "dead_relu", ("lr",)),
    Scenario(
        "dead_relu_adam",
        "7. dead ReLUs (Adam at lr 0.1, the dead_relu lesson)",
        {"depth": 3, "width": 128, "activation": "relu", "init": "kaiming_normal", "optimizer": "adam", "lr": 0.1},
        "dead_relu",
        ("lr",),
    ),
    Scenario(
        "overfitting",
        "8. overfitting",
        {"subset": 120, "width": 256, "epochs": 150, "batch_size": 32},
        "overfitting",
        ("subset",),
    ),
    Scenario(
        "needs_hidden_layer",
        "9. underfitting: a linear model on XOR",
        {"dataset": "xor", "depth": 0, "epochs": 30, "lr": 0.03},
        "needs_hidden_layer",
        ("depth",),
    ),
    Scenario(
        "too_much_dropout",
        "9. underfitting: too much regularization",
        {"dropout": 0.9},
        "too_much_regularization",
        ("dropout",),
    ),
    Scenario("train_longer", "9. underfitting: training cut short", {"epochs": 1}, "train_longer", ("epochs",)),
    Scenario(
        "inputs_not_normalized",
        "10. inputs not normalized",
        {"preprocess": "none", "optimizer": "sgd", "lr": 0.1},
        "inputs_not_normalized",
        ("preprocess",),
    ),
    Scenario(
        "mse_loss",
        "11. squared error on a classifier",
        {"loss": "mse", "optimizer": "sgd", "lr": 0.1},
        "mse_loss",
        ("loss",),
    ),
    Scenario(
        "mse_loss_sigmoid",
        "11. squared error on a sigmoid classifier",
        {"loss": "mse", "activation": "sigmoid", "optimizer": "sgd", "lr": 0.1, "depth": 3},
        "mse_loss",
        ("loss", "activation"),
    ),
    Scenario(
        "oscillating_loss",
        "12. oscillating loss",
        {"optimizer": "momentum", "lr": 0.1, "batch_size": 8, "epochs": 3, "activation": "tanh"},
        "oscillating_loss",
        ("lr",),
    ),
    Scenario(
        "large_batch_no_warmup",
        "13. large batch, scaled lr, no warmup",
        {"optimizer": "momentum", "lr": 0.1, "batch_size": 512, "scale_lr_with_batch": True, "epochs": 40},
        "no_warmup",
        ("warmup_steps",),
    ),
)

HEALTHY = (
    Scenario("healthy_digits_mlp", "14. healthy: digits, MLP", {}),
    Scenario("healthy_digits_cnn", "14. healthy: digits, CNN", {"model": "cnn"}),
    Scenario("healthy_shapes_mlp", "14. healthy: shapes, MLP", {"dataset": "shapes"}),
    Scenario("healthy_shapes_cnn", "14. healthy: shapes, CNN", {"dataset": "shapes", "model": "cnn"}),
    Scenario("healthy_spiral", "14. healthy: spiral, MLP", {"dataset": "spiral", "epochs": 30}),
    Scenario("healthy_circles", "14. healthy: circles, MLP", {"dataset": "circles"}),
    Scenario("healthy_xor", "14. healthy: xor, MLP", {"dataset": "xor"}),
    Scenario("healthy_moons", "14. healthy: moons, MLP", {"dataset": "moons"}),
    Scenario("healthy_gaussians", "14. healthy: gaussians, MLP", {"dataset": "gaussians"}),
    # The ReLU comparison of the vanishing_sigmoid lesson: plain SGD spikes now and then, then settles.
    Scenario(
        "healthy_deep_relu_sgd",
        "14. healthy: digits, 8-layer ReLU MLP, SGD lr 0.1",
        {"depth": 8, "activation": "relu", "init": "xavier_normal", "optimizer": "sgd", "lr": 0.1, "epochs": 15},
    ),
    # The crops run of the dropout_augmentation lesson: a small gap, validation loss at its lowest at the end.
    Scenario(
        "healthy_small_shapes_crops",
        "14. healthy: 150 shapes, CNN with random crops",
        {
            "dataset": "shapes",
            "subset": 150,
            "model": "cnn",
            "cnn_stages": 2,
            "base_channels": 16,
            "fc_layers": 2,
            "fc_width": 128,
            "optimizer": "adam",
            "lr": 0.003,
            "epochs": 40,
            "batch_size": 32,
            "aug_crop": 2,
        },
    ),
)

SCENARIOS = PATHOLOGIES + HEALTHY
