"""Rare avalanches of random lattices: f_aval(W) by subset simulation on the critical
grain coupling."""

from .estimate import (SubsetEstimate, calm_profile, critical_log_g0, f_aval_tail, fit_tail,
                       lattice_moves, plain_estimate, reliable, subset_estimate)

__all__ = ["SubsetEstimate", "calm_profile", "critical_log_g0", "f_aval_tail", "fit_tail",
           "lattice_moves", "plain_estimate", "reliable", "subset_estimate"]
