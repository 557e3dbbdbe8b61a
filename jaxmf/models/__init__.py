"""Physical models: bare couplings g_{n,0} and Hamiltonians, never the solver.

Submodules: :mod:`~jaxmf.models.symmetric`, :mod:`~jaxmf.models.chain` (DRH chain),
:mod:`~jaxmf.models.lattice` (2D, eq. 15-18), :mod:`~jaxmf.models.ed` (exact
diagonalization of the central-grain chain).
"""
