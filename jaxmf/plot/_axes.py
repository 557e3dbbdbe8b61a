"""The one axes helper of :mod:`jaxmf.plot`."""

from __future__ import annotations

import os


def pyplot():
    """matplotlib.pyplot (imported on first use: jaxmf itself does not need matplotlib
    at import time; matplotlib picks Agg by itself where there is no display)."""
    import matplotlib.pyplot as plt

    return plt


def axes(ax=None, figsize=(4.2, 3.4)):
    """``ax`` itself, or the axes of a new figure of ``figsize`` (constrained layout)."""
    if ax is None:
        _, ax = pyplot().subplots(figsize=figsize, constrained_layout=True)
    return ax


def save(fig, out, name):
    """Write ``fig`` as ``out/name.png`` (150 dpi) and ``out/name.pdf``, then close it."""
    fig.savefig(os.path.join(out, f"{name}.png"), dpi=150)
    fig.savefig(os.path.join(out, f"{name}.pdf"))
    pyplot().close(fig)
