"""lab.charts.panels and the concept figures: layout helpers, image encoding, and what a figure carries."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from lab.charts import concepts, concepts_data, panels
from lab.concepts import optim_paths as op
from lab.concepts import regularization as reg


def test_panels_are_side_by_side_and_do_not_overlap() -> None:
    fig = panels.panels(["a", "b", "c"], gap=0.1)
    domains = [fig.layout[f"xaxis{s}"].domain for s in ("", "2", "3")]
    assert domains[0][0] == 0.0 and domains[-1][1] == pytest.approx(1.0)
    assert all(left[1] + 0.1 == pytest.approx(right[0]) for left, right in zip(domains, domains[1:], strict=False))
    assert fig.layout.yaxis3.anchor == "x3" and [a.text for a in fig.layout.annotations] == ["a", "b", "c"]


def test_png_round_trip_and_grey_to_rgb() -> None:
    """A grey (1, H, W) image becomes three equal channels; the PNG decodes to exactly those pixels."""
    img = np.array([[[0.0, 0.5], [1.0, 2.0]]])  # 2.0 is clipped to 1
    rgb = panels.to_rgb(img)
    assert rgb.shape == (2, 2, 3) and rgb[..., 0].tolist() == [[0, 128], [255, 255]]
    assert (rgb[..., 0] == rgb[..., 2]).all()
    uri = panels.png(rgb)
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert np.array_equal(decoded, rgb)


def test_f32_turns_gaps_into_nan() -> None:
    a = panels.f32([1, None, float("inf"), 2.5])
    assert a.dtype == np.float32 and np.isnan(a[1]) and np.isnan(a[2]) and a[3] == 2.5


def test_optimizer_animation_frames_replay_the_paths() -> None:
    """The last frame holds every path's points up to its end; the first holds only the start."""
    cfgs = [op.optimizer_config(n, op.SURFACES["saddle"].suggested_lr(n)) for n in ("sgd", "adam")]
    paths = op.trajectories("saddle", cfgs, 40)
    xs, ys, z = op.grid("saddle", n=20)
    fig = concepts.optimizer_paths_figure(xs, ys, z, paths, {}, op.minimum("saddle"), (-2.5, 1e-3), "t")
    first, last = fig.frames[0].data[0], fig.frames[-1].data[0]
    assert len(first.x) == 2 and list(first.x) == pytest.approx([-2.5, -2.5])
    ends = {(float(x), float(y)) for x, y in zip(last.x, last.y, strict=True)}
    for p in paths:
        assert tuple(np.float32(v) for v in p.xy[-1]) in ends


def test_gallery_mosaic_has_a_column_per_row_of_the_gallery() -> None:
    g = reg.gallery("digits", {"flip": 1, "mixup": 1.0}, n=3)
    fig = concepts_data.gallery_figure(g, {"flip": "Flip", "mixup": "Mixup"})
    assert list(fig.layout.xaxis.ticktext) == ["original", "Flip", "Mixup"]
    assert fig.data[0].source.startswith("data:image/png;base64,")
    assert len(fig.layout.annotations) == 9  # a caption under every tile
