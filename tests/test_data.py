"""Datasets, splits, limits, torchvision loading on real-format files, preprocessing."""

from __future__ import annotations

import pickle
import socket
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets
import torchvision.datasets.mnist

from lab import registry
from lab.config import ConfigError, Limits, RunConfig
from lab.engine import data
from lab.engine.data import DatasetUnavailable, default_cache_dir, load_data
from lab.engine.preprocess import fit_preprocessor

EXPECTED_CLASSES = {"digits": 10, "shapes": 8, "spiral": 3, "circles": 2, "xor": 2, "moons": 2, "gaussians": 4}


def cfg(**kw) -> RunConfig:
    """A validated config with the given changes (preprocess none unless asked, so raw values are visible)."""
    return RunConfig.from_dict({"preprocess": "none", **kw})


# ---- builders and embedded datasets ------------------------------------------------------------------------


def test_builders_cover_exactly_the_registry():
    assert set(data.BUILDERS) == set(registry.DATASETS)
    assert set(EXPECTED_CLASSES) == set(registry.EMBEDDED_DATASETS)


@pytest.mark.parametrize("name", registry.EMBEDDED_DATASETS)
def test_embedded_dataset_shapes_dtypes_and_classes(name):
    b = load_data(cfg(dataset=name, toy_samples=200))
    n = len(b.x_train) + len(b.x_val)
    image = name not in registry.TOY_2D_DATASETS
    assert b.x_train.dtype == b.x_val.dtype == b.raw_train.dtype == torch.float32
    assert b.y_train.dtype == b.y_val.dtype == torch.int64
    assert b.n_classes == EXPECTED_CLASSES[name] == len(b.class_names)
    assert set(b.y_train.tolist()) == set(range(b.n_classes))
    assert b.input_shape == tuple(b.x_train.shape[1:]) == tuple(b.x_val.shape[1:])
    assert b.input_shape == {"digits": (1, 8, 8), "shapes": (3, 16, 16)}.get(name, (2,))
    assert b.raw_train.shape == b.x_train.shape and len(b.y_train) == len(b.x_train)
    assert len(b.x_val) == round(0.2 * n)
    assert b.name == name
    if image:
        assert 0.0 <= b.raw_train.min() and b.raw_train.max() <= 1.0
    else:
        assert n == 200


def test_digits_are_sklearn_digits_scaled_to_unit_range():
    from sklearn.datasets import load_digits

    ref = load_digits()
    b = load_data(cfg(dataset="digits"))
    x = torch.cat([b.raw_train, b.x_val]).flatten(1).double().numpy()
    y = torch.cat([b.y_train, b.y_val]).numpy()
    expected = ref.data / 16.0
    # same examples in another order: compare the multiset of (label, row) pairs
    assert pairs(x, y) == pairs(expected, ref.target)


def pairs(rows: np.ndarray, labels: np.ndarray) -> list:
    """The sorted (label, row) pairs of a dataset: equal for the same examples in any order."""
    return sorted(zip(labels.tolist(), map(tuple, np.round(rows, 6).tolist()), strict=True))


@pytest.mark.parametrize("name", ["digits", "shapes", "spiral", "moons"])
def test_load_is_deterministic_in_seed(name):
    a, b, c = (load_data(cfg(dataset=name, seed=s)) for s in (3, 3, 4))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train) and torch.equal(a.x_val, b.x_val)
    assert not torch.equal(a.x_train, c.x_train)


def test_split_is_stratified_and_disjoint():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    train, val = data.split_indices(y, 0.2, seed=0)
    assert len(set(train.tolist()) | set(val.tolist())) == len(y) == len(train) + len(val)
    assert np.bincount(y[val]).tolist() == [20, 10, 6, 4]


def test_subset_size_stratified_nested_and_val_unchanged():
    full = load_data(cfg(dataset="digits", seed=1))
    small = load_data(cfg(dataset="digits", seed=1, subset=100))
    smaller = load_data(cfg(dataset="digits", seed=1, subset=40))
    assert len(small.x_train) == len(small.raw_train) == 100
    counts = torch.bincount(small.y_train, minlength=10)
    assert counts.min() >= 9 and counts.max() <= 11  # 10 classes of nearly equal size
    assert torch.equal(smaller.raw_train, small.raw_train[:40])  # a smaller subset is part of a larger one
    assert torch.equal(small.x_val, full.x_val)
    assert len(load_data(cfg(dataset="digits", subset=5000)).x_train) == len(full.x_train)  # capped at all


def test_limits_are_enforced_on_training_examples():
    with pytest.raises(ConfigError) as e:
        load_data(cfg(dataset="digits"), limits=Limits(max_samples=500))
    assert e.value.field == "subset"
    assert len(load_data(cfg(dataset="digits", subset=500), limits=Limits(max_samples=500)).x_train) == 500


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"dataset": "nope"}, "dataset"),
        ({"preprocess": "nope"}, "preprocess"),
        ({"preprocess": "pca", "model": "cnn"}, "preprocess"),
        ({"preprocess": "whiten", "model": "cnn"}, "preprocess"),
        ({"dataset": "spiral", "model": "cnn"}, "model"),
    ],
)
def test_invalid_names_and_combinations_raise_config_error(changes, field):
    with pytest.raises(ConfigError) as e:
        load_data(RunConfig(**changes))  # RunConfig() does not validate, so load_data must
    assert e.value.field == field


def test_cached_arrays_cannot_be_changed_through_a_bundle():
    a = load_data(cfg(dataset="shapes"))
    before = a.raw_train.clone()
    a.raw_train.mul_(0)
    a.x_train.add_(5)
    b = load_data(cfg(dataset="shapes"))
    assert torch.equal(b.raw_train, before) and torch.equal(b.x_train, before)
    assert not data.shapes_raw(0).x.flags.writeable


def test_shapes_are_balanced_and_learnable_by_a_small_cnn():
    b = load_data(RunConfig(dataset="shapes", model="cnn", preprocess="standardize", seed=0))
    assert torch.bincount(b.y_train).tolist() == [200] * 8
    assert b.class_names[4:6] == ["horizontal bar", "vertical bar"]
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: extra threads only add contention on a shared machine
    try:
        assert train_tiny_cnn(b) > 0.8
    finally:
        torch.set_num_threads(threads)


def train_tiny_cnn(b) -> float:
    """Val accuracy of a 2-stage CNN after 150 Adam steps of batch 64."""
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 16, 32), nn.ReLU(), nn.Linear(32, 8),
    )
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(150):
        i = torch.randint(0, len(b.x_train), (64,))
        loss = nn.functional.cross_entropy(model(b.x_train[i]), b.y_train[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (model(b.x_val).argmax(1) == b.y_val).float().mean().item()


def test_toy_noise_is_gaussian_jitter_around_the_clean_shape():
    clean = load_data(cfg(dataset="circles", noise=0.0, toy_samples=400))
    pts = torch.cat([clean.raw_train, clean.x_val])
    labels = torch.cat([clean.y_train, clean.y_val])
    radius = pts.norm(dim=1)
    assert torch.allclose(radius[labels == 0], torch.tensor(1.0))
    assert torch.allclose(radius[labels == 1], torch.tensor(0.5))
    noisy = load_data(cfg(dataset="circles", noise=0.2, toy_samples=400))
    spread = (noisy.raw_train.norm(dim=1) - torch.where(noisy.y_train == 0, 1.0, 0.5)).std().item()
    assert 0.15 < spread < 0.25


def test_default_cache_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINING_LAB_DATA_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("TRAINING_LAB_DATA_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "training_lab" / "data"


# ---- torchvision datasets on tiny files in the real on-disk formats ------------------------------------------


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if torchvision tries to fetch anything (the files are meant to be found on disk)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected download: {args}")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", refuse)
    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", refuse)


@pytest.fixture
def short_socket_timeout():
    """Keep an attempted download from hanging on a network that drops packets instead of refusing."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(5)
    yield
    socket.setdefaulttimeout(old)


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    """An uncompressed idx file: big-endian magic, one big-endian int32 per dimension, then uint8 data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack(f">{1 + array.ndim}i", magic, *array.shape) + array.astype(np.uint8).tobytes())


def fake_images(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), rng.permutation(np.arange(n) % 10)


def write_mnist_like(root: Path, folder: str, n_train: int = 50) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    raw = root / folder / "raw"
    x, y = fake_images(rng, n_train, (28, 28))
    tx, ty = fake_images(rng, 10, (28, 28))
    write_idx(raw / "train-images-idx3-ubyte", x, 2051)
    write_idx(raw / "train-labels-idx1-ubyte", y, 2049)
    write_idx(raw / "t10k-images-idx3-ubyte", tx, 2051)
    write_idx(raw / "t10k-labels-idx1-ubyte", ty, 2049)
    return x, y


def assert_same_examples(b, x_uint8: np.ndarray, y: np.ndarray) -> None:
    """Train + val of a bundle loaded with preprocess=none hold exactly the written images (/255) and labels."""
    got_x = torch.cat([b.raw_train, b.x_val]).numpy()
    got_y = torch.cat([b.y_train, b.y_val]).numpy()
    want = x_uint8.astype(np.float32) / 255.0
    assert got_x.shape == want.shape
    order_got = np.lexsort(got_x.reshape(len(got_x), -1)[:, :8].T)
    order_want = np.lexsort(want.reshape(len(want), -1)[:, :8].T)
    np.testing.assert_array_equal(got_x[order_got], want[order_want])
    np.testing.assert_array_equal(got_y[order_got], y[order_want])


@pytest.mark.parametrize(
    ("name", "folder", "cls"), [("mnist", "MNIST", "MNIST"), ("fashion_mnist", "FashionMNIST", "FashionMNIST")]
)
def test_mnist_style_idx_files_load_through_torchvision(tmp_path, no_download, name, folder, cls):
    x, y = write_mnist_like(tmp_path, folder)
    b = load_data(cfg(dataset=name), cache_dir=tmp_path)
    assert b.input_shape == (1, 28, 28) and b.n_classes == 10
    assert b.class_names == list(getattr(torchvision.datasets, cls).classes)
    assert len(b.x_train) == 40 and len(b.x_val) == 10
    assert_same_examples(b, x[:, None], y)


class CIFAR10WithoutMD5(torchvision.datasets.CIFAR10):
    """CIFAR10 that still requires every file but skips only the md5 comparison.

    torchvision checks each CIFAR-10 batch against the md5 of the real download, which tiny test files can never
    match; clearing the expected checksums makes check_integrity() test for existence only, while the real
    constructor, unpickling and reshaping code runs unchanged.
    """

    train_list = [[name, None] for name, _ in torchvision.datasets.CIFAR10.train_list]
    test_list = [[name, None] for name, _ in torchvision.datasets.CIFAR10.test_list]
    meta = {**torchvision.datasets.CIFAR10.meta, "md5": None}


def write_cifar_like(root: Path, per_batch: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    xs, ys = [], []
    for i in range(1, 6):
        x = rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8)  # rows: 1024 red, 1024 green, 1024 blue
        y = rng.integers(0, 10, per_batch).tolist()
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps({"data": x, "labels": y}))
        xs.append(x)
        ys += y
    (folder / "test_batch").write_bytes(pickle.dumps({"data": xs[0], "labels": ys[:per_batch]}))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    return np.concatenate(xs).reshape(-1, 3, 32, 32), np.array(ys)


def test_cifar10_pickle_batches_load_through_torchvision(tmp_path, monkeypatch, no_download):
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", CIFAR10WithoutMD5)
    x, y = write_cifar_like(tmp_path)
    b = load_data(cfg(dataset="cifar10"), cache_dir=tmp_path)
    assert b.input_shape == (3, 32, 32) and b.n_classes == 10 and b.class_names[0] == "airplane"
    assert len(b.x_train) + len(b.x_val) == 30
    assert_same_examples(b, x, y)


def test_cifar10_with_wrong_checksums_is_unavailable(tmp_path, short_socket_timeout):
    write_cifar_like(tmp_path)  # real CIFAR10 class: md5 mismatch -> it tries to download -> offline here
    with pytest.raises(DatasetUnavailable, match="shapes"):
        load_data(cfg(dataset="cifar10"), cache_dir=tmp_path)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("name", "alternative"), [("mnist", "digits"), ("fashion_mnist", "digits"), ("cifar10", "shapes")]
)
def test_missing_torchvision_data_offline_is_unavailable(tmp_path, short_socket_timeout, name, alternative):
    with pytest.raises(DatasetUnavailable) as e:
        load_data(cfg(dataset=name), cache_dir=tmp_path / "empty")
    message = str(e.value)
    assert name in message and f"'{alternative}'" in message and "\n" not in message


# ---- preprocessing against references computed directly -----------------------------------------------------


def correlated_cloud(n: int = 2000, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    mixing = np.array([[2.0, 0.0], [1.5, 0.5]])  # correlated, unequal variances, off-centre
    return torch.from_numpy((rng.normal(size=(n, 2)) @ mixing + [3.0, -1.0]).astype(np.float32))


def test_standardized_images_have_zero_mean_unit_std_per_channel():
    b = load_data(RunConfig(dataset="shapes", preprocess="standardize"))
    x = b.x_train.double().numpy()
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=(0, 2, 3)), 1.0, atol=1e-5)
    # validation data uses the training statistics, not its own
    raw = b.raw_train.double().numpy()
    mean, std = raw.mean(axis=(0, 2, 3), keepdims=True), raw.std(axis=(0, 2, 3), keepdims=True)
    raw_val = load_data(RunConfig(dataset="shapes", preprocess="none")).x_val.double().numpy()
    np.testing.assert_allclose(b.x_val.numpy(), (raw_val - mean) / std, atol=1e-4)
    assert abs(b.x_val.double().mean().item()) > 1e-6  # its own mean would be exactly 0


def test_zero_center_and_standardize_flat_features_use_train_statistics():
    x, v = correlated_cloud(seed=1), correlated_cloud(n=300, seed=2)
    ref_mean, ref_std = x.double().numpy().mean(0), x.double().numpy().std(0)
    zc = fit_preprocessor("zero_center", x)
    np.testing.assert_allclose(zc.apply(v).numpy(), v.numpy() - ref_mean, atol=1e-5)
    st = fit_preprocessor("standardize", x)
    np.testing.assert_allclose(st.apply(x).numpy().std(0), 1.0, atol=1e-5)
    np.testing.assert_allclose(st.apply(v).numpy(), (v.numpy() - ref_mean) / ref_std, atol=1e-5)


def test_pca_output_covariance_is_diagonal_with_input_eigenvalues():
    x = correlated_cloud()
    xs = x.double().numpy()
    eigenvalues = np.linalg.eigh(np.cov(xs, rowvar=False, bias=True))[0][::-1]
    z = fit_preprocessor("pca", x).apply(x).double().numpy()
    np.testing.assert_allclose(np.cov(z, rowvar=False, bias=True), np.diag(eigenvalues), atol=1e-4)
    # a rotation about the mean: distances to the mean are unchanged
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), np.linalg.norm(xs - xs.mean(0), axis=1), atol=1e-4)


def test_whitened_cloud_has_identity_covariance_and_val_uses_train_fit():
    x, v = correlated_cloud(), correlated_cloud(n=500, seed=3)
    pre = fit_preprocessor("whiten", x)
    z = pre.apply(x).double().numpy()
    np.testing.assert_allclose(np.cov(z, rowvar=False, bias=True), np.eye(2), atol=1e-4)
    xs = x.double().numpy()
    evals, evecs = np.linalg.eigh(np.cov(xs, rowvar=False, bias=True))
    ref_val = (v.double().numpy() - xs.mean(0)) @ evecs / np.sqrt(evals + pre.eps)
    np.testing.assert_allclose(np.abs(pre.apply(v).numpy()), np.abs(ref_val[:, ::-1]), atol=1e-4)  # eigh signs vary


@pytest.mark.parametrize("kind", list(registry.PREPROCESS))
def test_invert_undoes_apply_on_images(kind):
    b = load_data(RunConfig(dataset="digits", preprocess=kind, subset=400))
    assert b.input_shape == ((64,) if kind in ("pca", "whiten") else (1, 8, 8))
    assert b.preprocessor.output_shape == b.input_shape
    torch.testing.assert_close(b.preprocessor.invert(b.x_train), b.raw_train, atol=1e-3, rtol=0)


def test_unknown_preprocess_kind_is_a_config_error():
    with pytest.raises(ConfigError):
        fit_preprocessor("zca", torch.zeros(4, 2))
