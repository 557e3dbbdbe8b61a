"""Every figure function of jaxmf (matplotlib, imported on first use).

Each takes plain data (dicts of arrays, or the NamedTuples of :mod:`jaxmf.analysis`)
and an optional Axes and returns the Axes (or the Figure for multi-panel figures).
Entropies are in nats on every axis.
"""
