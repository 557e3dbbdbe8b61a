"""Models by name: the built-in families and ``package.module:function`` user models.

A *family* is a callable R -> model (:mod:`jaxmf.models.contract`). The CLI's
``--model`` takes a name of :data:`FAMILIES` or ``package.module:function``, a user's
family (called as ``function(R)``, or ``function(R, potential=...)`` when
``--potential`` is given).
"""

from __future__ import annotations

import functools
import importlib

from .._checks import check_int
from .chain1d import chain1d
from .contract import Model
from .cubic import cubic
from .square import square

__all__ = ["FAMILIES", "family_from_name", "as_model", "models_for"]

FAMILIES = {"square": square, "chain": chain1d, "cubic": cubic}
"""Built-in model families by name: the paper's 2D lattice, the 1D chain, the 3D
octahedral lattice; each takes (R, potential="triangle")."""


def family_from_name(name, potential=None):
    """The family called ``name``: a key of :data:`FAMILIES` or ``package.module:function``.

    Args:
        name: "square", "chain", "cubic" or "package.module:function".
        potential: passed on as ``potential=`` when not None.

    Returns:
        a callable R -> model.
    """
    if name in FAMILIES:
        family = FAMILIES[name]
    elif isinstance(name, str) and ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            family = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise ValueError(
                f"model {name!r}: cannot import {attr!r} from module {module_name!r} ({err})"
            ) from None
        if not callable(family):
            raise ValueError(f"model {name!r} is not callable")
    else:
        raise ValueError(
            f"model must be one of {tuple(FAMILIES)} or 'package.module:function', got {name!r}"
        )
    return family if potential is None else functools.partial(family, potential=potential)


def as_model(model) -> Model:
    """A model from a model or an int R (the paper's lattice ``square(R)``)."""
    if isinstance(model, Model):
        return model
    if hasattr(model, "__index__") and not isinstance(model, bool):
        return square(int(model))
    raise TypeError(
        "model must be a jaxmf.models.Model (or an int R for the paper's "
        f"2D lattice), got {type(model).__name__}"
    )


def models_for(model, R):
    """The models of a sweep over sizes: ``[(label, model), ...]``.

    ``model``: None (the paper's lattice, over ``R``), a family (called at each R of
    ``R``), or one model (``R`` None or its own size label)."""
    if model is None:
        model = square
    if isinstance(model, Model):
        if R is not None and [int(r) for r in _as_list(R)] != [model.label]:
            raise ValueError(
                f"R={R!r} does not match the model's size label {model.label} "
                "(give a family R -> model to sweep sizes)"
            )
        return [(model.label, model)]
    if not callable(model):
        raise TypeError(f"model must be a Model or a family R -> Model, got {model!r}")
    if R is None:
        raise ValueError("R (sizes) is required when model is a family R -> model")
    out = []
    for r in _as_list(R):
        r = check_int("R (size of the model family)", r, 0)
        m = model(r)
        if not isinstance(m, Model):
            raise TypeError(
                f"the model family returned {type(m).__name__} for R={r}, not a jaxmf.models.Model"
            )
        out.append((int(r), m))
    return out


def _as_list(R):
    import numpy as np

    return [r for r in np.atleast_1d(np.asarray(R, object)).tolist()]
