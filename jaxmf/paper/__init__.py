"""Reproduction of the paper's figures (``jaxmf reproduce``): one module per figure group,
each with ``compute(quick, workdir)``, ``plot(data)`` and its QUICK / FULL sizes."""

from .reproduce import REGISTRY, run

__all__ = ["REGISTRY", "run"]
