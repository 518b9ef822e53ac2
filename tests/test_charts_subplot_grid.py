"""`style.subplot_grid` lays out panels exactly as plotly's make_subplots does, for the options the charts use."""

import pytest
from plotly.subplots import make_subplots

from lab.charts.style import SUBPLOT_TITLE_FONT, subplot_grid


@pytest.mark.parametrize(
    "n, cols, kwargs",
    [
        (1, 1, {}),
        (3, 1, {"v_spacing": 0.06, "shared_x": True}),  # histogram_grid: one row per layer, shared step axis
        (6, 1, {"v_spacing": 0.06, "shared_x": True}),
        (3, 3, {"h_spacing": 0.08, "v_spacing": 0.5}),  # histogram_at: up to three panels a row, titled
        (6, 3, {"h_spacing": 0.08, "v_spacing": 0.15}),
        (4, 2, {}),  # make_subplots' default spacing
    ],
)
def test_domains_titles_and_shared_axes_match_make_subplots(n, cols, kwargs):
    rows = -(-n // cols)
    titles = [f"panel {i}" for i in range(n)]
    layout, suffixes = subplot_grid(n, cols, titles, **kwargs)
    ref = make_subplots(rows=rows, cols=cols, subplot_titles=titles, shared_xaxes=kwargs.get("shared_x", False),
                        horizontal_spacing=kwargs.get("h_spacing"), vertical_spacing=kwargs.get("v_spacing"))
    assert suffixes == ["" if i == 0 else str(i + 1) for i in range(n)]
    for s in suffixes:
        for axis in (f"xaxis{s}", f"yaxis{s}"):
            want = ref.layout[axis]
            got = layout[axis]
            assert got["domain"] == pytest.approx(list(want.domain)), axis
            assert got["anchor"] == want.anchor, axis
            assert got.get("matches") == want.matches and got.get("showticklabels") == want.showticklabels, axis
    for got, want in zip(layout["annotations"], ref.layout.annotations, strict=True):
        assert got["text"] == want.text and got["font"]["size"] == want.font.size == SUBPLOT_TITLE_FONT
        assert (got["x"], got["y"]) == pytest.approx((want.x, want.y))
        assert (got["xanchor"], got["yanchor"], got["xref"], got["yref"]) == ("center", "bottom", "paper", "paper")


def test_unused_cells_get_no_axes_and_no_titles_means_no_annotations():
    layout, suffixes = subplot_grid(4, 3)
    assert suffixes == ["", "2", "3", "4"]
    assert sorted(layout) == ["xaxis", "xaxis2", "xaxis3", "xaxis4", "yaxis", "yaxis2", "yaxis3", "yaxis4"]
    # The lone panel of the second row sits in the first column, under panel 1.
    assert layout["xaxis4"]["domain"] == layout["xaxis"]["domain"]
    assert layout["yaxis4"]["domain"][1] < layout["yaxis"]["domain"][0]
