"""The torch engine: data, models, optimizers, the one training loop, its callbacks and its recording."""
