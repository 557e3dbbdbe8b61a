"""One status enum for every result of jaxmf that can end in more than one way."""

from __future__ import annotations

import enum

import numpy as np

_MESSAGES = {
    0: "ok",
    1: "no avalanche at any W of the scan",
    2: "avalanches at the top of the scan (W_max)",
    3: "the mean-field solver did not converge",
}


class Status(enum.IntEnum):
    """Outcome of a search or solve, stored as small integers in result arrays.

    ``Status(code).message`` says what a code means; :func:`status_words` maps an array
    of codes to words.
    """

    OK = 0
    NO_AVALANCHE = 1
    AVALANCHE_AT_MAX = 2
    NOT_CONVERGED = 3

    @property
    def message(self) -> str:
        return _MESSAGES[int(self)]


def status_words(codes) -> np.ndarray:
    """Array of status codes -> array of their messages (same shape)."""
    codes = np.asarray(codes)
    return np.vectorize(lambda c: Status(int(c)).message, otypes=[object])(codes)
