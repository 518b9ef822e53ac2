"""lab.concepts.preprocessing: each view of the cloud has the statistics theory says; image means; the race."""

import math

import numpy as np
import pytest

from lab.concepts import preprocessing as pre
from lab.config import RunConfig
from lab.engine.data import load_data


@pytest.fixture(scope="module")
def cloud():
    return pre.point_cloud(2000, seed=1, angle=35.0, stretch=4.0, offset=(3.0, -2.0))


@pytest.fixture(scope="module")
def views(cloud):
    return {v.kind: v for v in pre.cloud_views(cloud)}


def test_cloud_has_the_requested_shape(cloud) -> None:
    """Covariance R diag(16, 1) R^T and mean (3, -2), within the sampling error of 2,000 points (~3%)."""
    a = math.radians(35.0)
    r = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    want = r.T @ np.diag([16.0, 1.0]) @ r
    x = cloud.numpy()
    assert np.cov(x.T, bias=True) == pytest.approx(want, rel=0.08, abs=0.3)
    assert x.mean(0) == pytest.approx([3.0, -2.0], abs=0.15)


def test_whitened_cloud_has_identity_covariance(views) -> None:
    """Whitening divides by sqrt(eigenvalue + 1e-5): the variance is lambda / (lambda + eps), 1 within 1e-4 here."""
    np.testing.assert_allclose(views["whiten"].cov, np.eye(2), atol=1e-4)
    np.testing.assert_allclose(views["whiten"].mean, [0, 0], atol=1e-6)  # float32 output


def test_pca_decorrelates_and_keeps_the_eigenvalues(views, cloud) -> None:
    """PCA's covariance is diagonal and holds the raw covariance's eigenvalues (numpy's, largest first)."""
    eig = np.linalg.eigvalsh(np.cov(cloud.numpy().T, bias=True))[::-1]
    c = np.array(views["pca"].cov)
    assert abs(c[0, 1]) < 1e-6 and np.diag(c) == pytest.approx(eig, rel=1e-5)


def test_centring_and_standardizing(views, cloud) -> None:
    """Zero-centre: mean 0, covariance unchanged. Standardize: unit variances, correlation unchanged."""
    raw = np.cov(cloud.numpy().T, bias=True)
    np.testing.assert_allclose(views["zero_center"].mean, [0, 0], atol=1e-6)
    np.testing.assert_allclose(views["zero_center"].cov, raw, rtol=1e-5)
    s = np.array(views["standardize"].cov)
    assert np.diag(s) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert s[0, 1] == pytest.approx(raw[0, 1] / math.sqrt(raw[0, 0] * raw[1, 1]), abs=1e-5)
    np.testing.assert_allclose(views["none"].cov, raw, rtol=1e-6)  # apply() returns float32


def test_view_rows_show_the_whitened_identity(views) -> None:
    rows = {r["transform"]: r for r in pre.view_rows(list(views.values()), {})}
    assert (rows["whiten"]["var x"], rows["whiten"]["cov xy"], rows["whiten"]["var y"]) == (1.0, 0.0, 1.0)


@pytest.mark.parametrize("dataset", ["digits", "shapes"])
def test_image_means_equal_numpy_on_the_raw_split(dataset: str) -> None:
    """Channel means, mean image and the two centred examples, recomputed with numpy on the same split."""
    s = pre.image_stats(dataset, index=5)
    x = load_data(RunConfig(dataset=dataset, preprocess="none")).raw_train.numpy().astype(np.float64)
    assert s.channel_means == pytest.approx(x.mean(axis=(0, 2, 3)).tolist(), abs=1e-9)
    assert s.channel_stds == pytest.approx(x.std(axis=(0, 2, 3)).tolist(), abs=1e-9)
    np.testing.assert_allclose(s.mean_image, x.mean(0), atol=1e-9)
    np.testing.assert_allclose(np.array(s.minus_mean_image) + np.array(s.mean_image), x[5], atol=1e-9)
    np.testing.assert_allclose(s.minus_channel_means, x[5] - x.mean(axis=(0, 2, 3))[:, None, None], atol=1e-9)
    assert len(s.channel_means) == (1 if dataset == "digits" else 3)


def test_smooth_is_a_trailing_mean() -> None:
    assert pre.smooth([2, 4, 6, 8], window=2) == [2, 3, 5, 7]
    assert pre.smooth([1.0], window=10) == [1.0]


def test_standardized_digits_train_faster_with_sgd() -> None:
    """Same model, seed and SGD rate: after 200 steps standardized inputs reach a clearly lower loss than raw ones."""
    losses = pre.race("digits", ("none", "standardize"), steps=200, optimizer="sgd", lr=0.05)
    assert [len(v) for v in losses.values()] == [200, 200]
    tail = {k: float(np.mean(v[-50:])) for k, v in losses.items()}
    assert tail["standardize"] < 0.6 * tail["none"]
