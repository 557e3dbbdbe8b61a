"""Physical models: bare couplings g_{n,0} and Hamiltonians, never the solver.

The model contract (:mod:`~jaxmf.models.contract`): a model maps (W, g0, one
realization) to bare couplings (N,); every analysis takes one. Built from data:
:class:`TightBinding` (sites, bonds, grain, potential of a phase). Built in, one file
each: :func:`square` (the paper's 2D lattice, eq. 15-18), :func:`chain1d` (1D chain),
:func:`cubic` (3D octahedral lattice); coupling-only: :class:`DRHChainModel`,
:class:`SymmetricModel`. A user's own Hamiltonian:
:func:`couplings_from_hamiltonian`.

Submodules: :mod:`~jaxmf.models.contract`, :mod:`~jaxmf.models.tight_binding`,
:mod:`~jaxmf.models.potentials`, :mod:`~jaxmf.models.spectral` (eigh and banded
routes), :mod:`~jaxmf.models.square`, :mod:`~jaxmf.models.chain1d`,
:mod:`~jaxmf.models.cubic`, :mod:`~jaxmf.models.lattice` (the paper's functions of R),
:mod:`~jaxmf.models.symmetric`, :mod:`~jaxmf.models.chain` (DRH chain),
:mod:`~jaxmf.models.ed` (exact diagonalization of the central-grain chain),
:mod:`~jaxmf.models.registry` (models by name, the CLI's ``--model``).
"""

from .chain import DRHChainModel
from .chain1d import chain1d
from .contract import (
    KINDS,
    Geometry,
    Model,
    QPPhase,
    RandomKey,
    check_realization,
    kind_of,
    realization,
)
from .cubic import cubic
from .potentials import COSINE, POTENTIALS, TRIANGLE, Potential
from .registry import FAMILIES, as_model, family_from_name
from .spectral import banded_ordering, couplings_from_hamiltonian
from .square import square
from .symmetric import SymmetricModel
from .tight_binding import TightBinding, assign_orbitals, nearest_neighbour_bonds

__all__ = [
    "KINDS",
    "QPPhase",
    "RandomKey",
    "Geometry",
    "Model",
    "kind_of",
    "realization",
    "check_realization",
    "TightBinding",
    "nearest_neighbour_bonds",
    "assign_orbitals",
    "Potential",
    "TRIANGLE",
    "COSINE",
    "POTENTIALS",
    "banded_ordering",
    "couplings_from_hamiltonian",
    "square",
    "chain1d",
    "cubic",
    "DRHChainModel",
    "SymmetricModel",
    "FAMILIES",
    "as_model",
    "family_from_name",
]
