"""The one list of named options shared by the UI, the URL, the CLI and the tests.

Each option set maps a string key to a short label and a one-line help text in our
own words. Builder modules (`data.py`, `models.py`, `optim.py`, ...) keep their own
``name -> function`` tables; tests check that those tables cover exactly these keys,
so a name can never exist in the UI without a builder behind it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    """One named choice: its key, a human label and a one-line help text."""

    key: str
    label: str
    help: str


def _options(*rows: tuple[str, str, str]) -> dict[str, Option]:
    return {key: Option(key, label, help_) for key, label, help_ in rows}


DATASETS = _options(
    ("digits", "Digits 8x8", "Real handwritten digits shipped with scikit-learn (1,797 images, 10 classes)."),
    ("shapes", "Shapes (RGB)", "Generated coloured shapes, 8 classes; good for CNNs and augmentation."),
    ("spiral", "Spiral (2D)", "Interleaved spiral arms; needs a non-linear decision boundary."),
    ("circles", "Circles (2D)", "One ring inside another; a linear model cannot separate them."),
    ("xor", "XOR (2D)", "Four clusters in XOR layout; the classic case that needs a hidden layer."),
    ("moons", "Moons (2D)", "Two interleaving half moons."),
    ("gaussians", "Gaussians (2D)", "Several Gaussian blobs; nearly linearly separable."),
    ("mnist", "MNIST", "28x28 handwritten digits via torchvision (downloads when online)."),
    ("fashion_mnist", "Fashion-MNIST", "28x28 clothing images via torchvision (downloads when online)."),
    ("cifar10", "CIFAR-10", "32x32 colour photos in 10 classes via torchvision (downloads when online)."),
)
EMBEDDED_DATASETS = ("digits", "shapes", "spiral", "circles", "xor", "moons", "gaussians")
TOY_2D_DATASETS = ("spiral", "circles", "xor", "moons", "gaussians")

PREPROCESS = _options(
    ("none", "None", "Feed the raw values."),
    ("zero_center", "Zero-center", "Subtract the training mean (per channel for images)."),
    ("standardize", "Standardize", "Subtract the mean and divide by the std (per channel for images)."),
    ("pca", "PCA", "Rotate flat inputs onto their principal axes (decorrelated, not rescaled)."),
    ("whiten", "Whiten", "PCA then divide each axis by its std: identity covariance."),
)

MODELS = _options(
    ("mlp", "MLP", "Fully connected layers; depth 0 is a linear classifier."),
    ("cnn", "CNN", "Stages of convolutions and pooling, then 1 to 3 fully connected layers."),
)

POOLS = _options(
    ("max", "Max pool", "2x2 max pooling after each stage."),
    ("avg", "Average pool", "2x2 average pooling after each stage."),
    ("fractional", "Fractional max pool", "Random pooling regions that shrink by about 1/sqrt(2) (regularizes)."),
)

ACTIVATIONS = _options(
    ("sigmoid", "Sigmoid", "Squashes to (0, 1); saturates and is not zero-centred."),
    ("tanh", "Tanh", "Squashes to (-1, 1); zero-centred but saturates."),
    ("relu", "ReLU", "max(0, x); cheap and does not saturate for x > 0, but units can die."),
    ("leaky_relu", "Leaky ReLU", "A small slope for x < 0 keeps units alive."),
    ("prelu", "PReLU", "Leaky ReLU whose negative slope is learned."),
    ("elu", "ELU", "Smooth negative part alpha*(e^x - 1); mean closer to zero."),
    ("selu", "SELU", "Scaled ELU that keeps activations self-normalizing."),
    ("gelu", "GELU", "x times the Gaussian CDF; smooth ReLU used in transformers."),
    ("silu", "Swish / SiLU", "x * sigmoid(beta * x); beta = 1 is SiLU."),
    ("softplus", "Softplus", "log(1 + e^x); a smooth ReLU."),
    ("maxout", "Maxout", "The max of k linear pieces; generalizes ReLU at k times the parameters."),
)
RELU_FAMILY = ("relu", "leaky_relu", "prelu")  # dead-unit statistics make sense for these
SATURATING = ("sigmoid", "tanh")  # saturation statistics make sense for these

INITS = _options(
    ("default", "PyTorch default", "Whatever nn.Linear / nn.Conv2d do out of the box (Kaiming uniform, a=sqrt(5))."),
    ("zeros", "Zeros", "All weights zero: every unit of a layer stays identical (symmetry is never broken)."),
    ("constant", "Constant", "All weights the same value: the symmetry problem again."),
    ("small_normal", "Small normal (0.01)", "N(0, 0.01^2): signals shrink layer by layer in deep nets."),
    ("large_normal", "Large normal (1.0)", "N(0, 1): signals blow up and tanh/sigmoid saturate."),
    ("xavier_uniform", "Xavier uniform", "Glorot: variance 2/(fan_in + fan_out); right for tanh."),
    ("xavier_normal", "Xavier normal", "Glorot with a Gaussian."),
    ("kaiming_uniform", "Kaiming uniform", "He: variance 2/fan_in; right for ReLU."),
    ("kaiming_normal", "Kaiming normal", "He with a Gaussian."),
    ("orthogonal", "Orthogonal", "A random orthogonal matrix scaled by the activation's gain."),
)

LOSSES = _options(
    ("cross_entropy", "Cross-entropy", "Softmax and log-loss; supports label smoothing."),
    ("mse", "Mean squared error", "Squared error against one-hot targets; trains worse, on purpose."),
)

OPTIMIZERS = _options(
    ("sgd", "SGD", "Plain stochastic gradient descent."),
    ("momentum", "SGD + momentum", "Keeps a running velocity so steps build up along consistent directions."),
    ("nesterov", "Nesterov", "Momentum that looks ahead before taking the gradient."),
    ("adagrad", "Adagrad", "Per-parameter rates shrinking with the sum of squared gradients."),
    ("rmsprop", "RMSprop", "Per-parameter rates from a decaying average of squared gradients."),
    ("adam", "Adam", "Momentum plus RMSprop-style scaling, with bias correction."),
    ("adamw", "AdamW", "Adam with weight decay applied directly to the weights (decoupled)."),
)

SCHEDULES = _options(
    ("constant", "Constant", "The same learning rate throughout."),
    ("step", "Step", "Multiply the rate by gamma every step_size steps."),
    ("cosine", "Cosine", "Half a cosine from the base rate down to min_lr_ratio of it."),
    ("linear", "Linear", "A straight line from the base rate down to min_lr_ratio of it."),
    ("inv_sqrt", "Inverse square root", "Rate proportional to 1/sqrt(step)."),
    ("cyclic", "Cyclic (triangular)", "Bounces between a low and the base rate in triangles."),
    ("one_cycle", "One-cycle", "Up then down once over the run (Smith's super-convergence)."),
    ("plateau", "Reduce on plateau", "Cut the rate when validation loss stops improving."),
)

DEVICES = _options(
    ("auto", "Auto", "CUDA when available, else CPU."),
    ("cpu", "CPU", "Always the CPU."),
    ("cuda", "CUDA", "The first GPU (fails if there is none)."),
)

SPEEDS = _options(
    ("watch", "Watch", "Paced so a person can follow: a run of the default size takes about 20 s."),
    ("fast", "Fast", "Four times the watch pace."),
    ("max", "Max", "As fast as the machine allows."),
)

# Every option set by the config field that selects from it.
CHOICES: dict[str, dict[str, Option]] = {
    "dataset": DATASETS,
    "preprocess": PREPROCESS,
    "model": MODELS,
    "pool": POOLS,
    "activation": ACTIVATIONS,
    "init": INITS,
    "loss": LOSSES,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "device": DEVICES,
    "speed": SPEEDS,
}
