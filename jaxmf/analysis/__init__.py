"""What is computed from the models and the solver: thresholds, ensemble sweeps,
lattice entropy maps and collars, the ED comparison, fits, and rare avalanches.

Submodules: :mod:`~jaxmf.analysis.thresholds`, :mod:`~jaxmf.analysis.ensemble`,
:mod:`~jaxmf.analysis.lattice_maps`, :mod:`~jaxmf.analysis.ed_compare` (ED of the chain
vs mean field), :mod:`~jaxmf.analysis.ed_statistics` (averages and densities of the ED
entropies), :mod:`~jaxmf.analysis.symmetric_fold` (g_c(N) of the symmetric model),
:mod:`~jaxmf.analysis.single_spin` (the N = 1 check),
:mod:`~jaxmf.analysis.entropy_distance` (entropy distributions and their distances),
:mod:`~jaxmf.analysis.fits` (least squares on optax), :mod:`~jaxmf.analysis.rare`.
"""
