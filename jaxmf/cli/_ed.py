"""``jaxmf ed``: exact diagonalization of the DRH central-grain chain, resumable.

The realizations are computed in batches (as many as fit --max-memory); with --out the
file is rewritten after every batch (``"complete": false`` until the last), so an
interrupted run keeps its finished realizations, and the same command resumes from them.
Realization i always uses the i-th of ``jax.random.split(key(seed), samples)``, so a
resumed run has the same realizations as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import sys

import jax
import numpy as np
from tqdm.auto import tqdm

from ..analysis.ed_statistics import entropy_statistics
from ..models import ed
from ._args import UsageError, count, finite, nonnegative, positive, seed
from ._verb import Verb, add_common, add_file, finish, out_file, start


def _memory_gib() -> float:
    """8 GiB, or the machine's memory if smaller."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        total = 8.0
    return min(8.0, round(total, 1))


MAX_MEMORY_GIB = _memory_gib()
SAME_RUN = ("N", "alpha", "J1", "samples", "seed")
"""The parameters that must match for a rerun to resume a stored, incomplete run."""


def arguments(p):
    p.add_argument(
        "--N", type=count, required=True, help="number of l-bits (>= 1; the dimension is 8 x 2^N)"
    )
    p.add_argument(
        "--alpha",
        type=nonnegative,
        required=True,
        help="coupling decay J_n = J1 alpha^(n-1) (finite, >= 0)",
    )
    p.add_argument(
        "--J1",
        type=finite,
        default=ed.DEFAULTS["J1"],
        help="first coupling J_1 of the Hamiltonian, an energy (default: %(default)s)",
    )
    p.add_argument(
        "--samples", type=count, default=10, help="number of realizations (default: %(default)s)"
    )
    p.add_argument("--seed", type=seed, default=0, help="integer seed (default: %(default)s)")
    p.add_argument(
        "--max-memory",
        type=positive,
        default=MAX_MEMORY_GIB,
        metavar="GIB",
        help="refuse sizes whose dense diagonalization needs more than this "
        "(GiB; also the batch budget; default: %(default)s = 8 or the "
        "machine's memory if smaller)",
    )
    add_file(
        p,
        "the end-spin entropy statistics (rewritten after every batch of "
        "realizations; rerunning an interrupted run resumes it)",
    )
    add_common(p)


def _check_size(a, limit):
    d_g = ed.DEFAULTS["d_g"]
    if ed.dense_bytes(a.N, d_g) > limit:
        fits = max([n for n in range(1, a.N) if ed.dense_bytes(n, d_g) <= limit], default=0)
        raise UsageError(
            f"--N {a.N}: exact diagonalization needs about {ed.dense_bytes(a.N, d_g) / 2**30:.3g}"
            f" GiB (dimension D = {d_g} x 2^{a.N} = {d_g * 2**a.N}, ~48 D^2 bytes per dense "
            f"eigh), more than the limit --max-memory {a.max_memory:g} GiB; "
            + (f"--N <= {fits} fits" if fits else "raise --max-memory")
        )


def _stored(a, path):
    """The per-realization arrays of an incomplete stored run of the same parameters."""
    if path is None or not path.exists():
        return {"all": [], "middle": [], "memory": []}
    try:
        doc = json.loads(path.read_text())
        params, result = doc["metadata"]["parameters"], doc["result"]
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            f"--out {path} exists and is not a jaxmf ed result; give a new file"
        ) from None
    if result.get("complete", True):
        return {"all": [], "middle": [], "memory": []}  # a finished run: start afresh
    differ = [k for k in SAME_RUN if params.get(k) != getattr(a, k)]
    if differ:
        raise UsageError(
            f"--out {path} holds an unfinished run with other parameters "
            f"({', '.join('--' + k for k in differ)}); give a new file"
        )
    return {
        "all": list(result["per_sample_all"]),
        "middle": list(result["per_sample_middle"]),
        "memory": list(result["memory"]),
    }


def _mean_stderr(x):
    x = np.asarray(x, float)
    err = x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
    return float(x.mean()), float(err)


def main(a, argv, state):
    limit = a.max_memory * 2**30
    _check_size(a, limit)
    path = out_file(a)
    out = start(a, argv, path)
    d_g = ed.DEFAULTS["d_g"]
    done = _stored(a, path)
    batch = max(1, int(limit // ed.dense_bytes(a.N, d_g)))
    keys = jax.random.split(jax.random.key(a.seed), a.samples)

    def note():
        n = len(done["all"])
        if path is None:
            return "nothing was saved (no --out)"
        if not n or not path.exists():
            return "no realization had finished"
        return f"{n} of {a.samples} realizations are in {path}; rerun the same command to resume"

    state["note"] = note

    def result(complete):
        m_all, e_all = _mean_stderr(done["all"])
        m_mid, e_mid = _mean_stderr(done["middle"])
        return {
            "N": a.N,
            "alpha": a.alpha,
            "J1": a.J1,
            "d_g": d_g,
            "D": d_g * 2**a.N,
            "samples": a.samples,
            "complete": complete,
            "samples_done": len(done["all"]),
            "mean_all": m_all,
            "stderr_all": e_all,
            "mean_middle": m_mid,
            "stderr_middle": e_mid,
            "per_sample_all": done["all"],
            "per_sample_middle": done["middle"],
            "memory": done["memory"],
        }

    with tqdm(
        total=a.samples,
        initial=len(done["all"]),
        disable=a.quiet,
        unit="real",
        desc=f"ed N={a.N}",
        file=sys.stderr,
    ) as bar:
        for lo in range(len(done["all"]), a.samples, batch):
            res = ed.drh_ensemble(
                a.N, a.alpha, key=keys[lo : lo + batch], memory_bytes=limit, J1=a.J1
            )
            st = entropy_statistics(res.entropy)
            done["all"] += np.asarray(st.per_sample_all).tolist()
            done["middle"] += np.asarray(st.per_sample_middle).tolist()
            done["memory"] += np.asarray(res.memory).tolist()
            out.save(result(len(done["all"]) == a.samples))
            bar.update(len(res.memory))
    r = result(True)
    out.save(r)
    out.say(
        f"N = {a.N}, alpha = {a.alpha:g}, {a.samples} samples: [S_end] = "
        f"{r['mean_all']:.6f} +- {r['stderr_all']:.6f} nats (all states), "
        f"{r['mean_middle']:.6f} +- {r['stderr_middle']:.6f} (middle third)"
    )
    finish(out)


VERB = Verb(
    "ed",
    "exact diagonalization of the DRH central-grain chain",
    "Exact diagonalization of the central-grain chain (Sec. VI): the end-spin "
    "entanglement entropy averaged over eigenstates and realizations. Sizes whose "
    "dense diagonalization exceeds --max-memory are refused before anything runs; with "
    "--out the finished realizations are kept batch by batch and a rerun resumes.",
    arguments,
    main,
)
