"""What is computed from the models and the solver: thresholds, ensemble sweeps,
lattice entropy maps and collars, the ED comparison, and rare avalanches.

Submodules: :mod:`~jaxmf.analysis.thresholds`, :mod:`~jaxmf.analysis.ensemble`,
:mod:`~jaxmf.analysis.lattice_maps`, :mod:`~jaxmf.analysis.ed_compare`,
:mod:`~jaxmf.analysis.rare`.
"""
