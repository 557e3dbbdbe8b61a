"""Physical models that produce bare couplings g_{n,0} (and the exact check, ED).

Submodules: ``symmetric``, ``chain`` (DRH chain), ``lattice`` (2D), ``ed``
(exact diagonalization of the central-grain chain).
"""
