"""Small building blocks shared by the concept-page figures: side-by-side panels, line shapes, image encoding.

`panels` lays out n panels in one layout update instead of `make_subplots` (which costs tens of milliseconds
per figure, and concept pages rebuild figures on every control change). `f32` turns data into float32 numpy
arrays, which Plotly validates in one step and sends as compact binary instead of text.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

DIVERGING = "RdBu"  # signed images (weights, centred pixels): white at zero


def f32(values) -> np.ndarray:
    """A float32 array (None and non-finite values become NaN, which Plotly draws as a gap)."""
    a = np.array(values, dtype=np.float64)  # None -> nan
    a[~np.isfinite(a)] = np.nan
    return a.astype(np.float32)


def ax(kind: str, i: int) -> str:
    """Axis reference of panel i (1-based): 'x', 'x2', ..."""
    return kind if i == 1 else f"{kind}{i}"


def panels(titles: Sequence[str], gap: float = 0.07) -> go.Figure:
    """An empty figure with len(titles) side-by-side panels; panel i uses axes ax('x', i), ax('y', i)."""
    n = len(titles)
    width = (1.0 - gap * (n - 1)) / n
    layout: dict = {"annotations": []}
    for i in range(1, n + 1):
        lo = (i - 1) * (width + gap)
        suffix = "" if i == 1 else str(i)
        layout[f"xaxis{suffix}"] = {"domain": [lo, lo + width], "anchor": ax("y", i)}
        layout[f"yaxis{suffix}"] = {"domain": [0.0, 1.0], "anchor": ax("x", i)}
        layout["annotations"].append(
            {
                "text": titles[i - 1],
                "x": lo + width / 2,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12},
            }
        )
    return go.Figure(layout=layout)


def axis(fig: go.Figure, kind: str, i: int, **props) -> None:
    """Update the x or y axis of panel i."""
    fig.layout[f"{kind}axis{'' if i == 1 else i}"].update(**props)


def vline(x: float, i: int, color: str, dash: str = "solid", width: float = 2) -> dict:
    """A vertical line shape across panel i."""
    return {
        "type": "line",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "xref": ax("x", i),
        "yref": f"{ax('y', i)} domain",
        "line": {"color": color, "dash": dash, "width": width},
    }


def hline(y: float, i: int, color: str, dash: str = "dash", width: float = 1) -> dict:
    """A horizontal line shape across panel i."""
    return {
        "type": "line",
        "y0": y,
        "y1": y,
        "x0": 0,
        "x1": 1,
        "yref": ax("y", i),
        "xref": f"{ax('x', i)} domain",
        "line": {"color": color, "dash": dash, "width": width},
    }


def png(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 image as a PNG data URI: small, and drawn pixel-sharp with zsmooth=False."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def to_rgb(img) -> np.ndarray:
    """(C, H, W) floats in [0, 1] -> (H, W, 3) uint8; grey images are repeated over the three channels."""
    a = np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0)
    if a.shape[0] == 1:
        a = np.repeat(a, 3, axis=0)
    return (a.transpose(1, 2, 0) * 255).round().astype(np.uint8)
