"""What the replica check can and cannot see: subset simulation on Gaussian problems
with exact answers, with chains that mix and chains that do not.

Each case runs M = 120 independent replicas (n = 500 unless listed, p0 = 0.1, thin = 1,
d = 20) of P(s(z) <= 0), z ~ N(0, I), and compares them with the exact value:

* half-space P(z_0 >= t) = Phi(-t), at ~1e-6 and ~1e-12;
* four half-spaces of different depths, P(max_i (z_i - t_i) >= 0) = 1 - prod_i Phi(t_i):
  four families that a chain cannot leave once it is deep in one;

with pCN adapted to acceptance 0.44 (mixes), or pCN at a fixed small step (mixes
poorly); at ~1e-12 also with n = 1000, 2000 and 5000. Reported: the bias of the mean
against the exact value, the spread sd(log f) of the replicas, the root mean square of
the errors they claim -- Au & Beck's (``replicas.run_cov``) and the genealogy's
(``replicas.genealogy_cov``) -- with rms z = rms (log f - log exact) / claimed error (1
when the claims are right), and how often groups of six replicas pass the chi-square
check with either claim.

Writes docs/data/genealogy_toys.json (one row per case).

    OPENBLAS_NUM_THREADS=1 python docs/scripts/genealogy_toys.py [table]
"""

import json
import sys
import time
from pathlib import Path

import jax
import numpy as np
import scipy.stats

from jaxmf.analysis.rare import replicas, subset

jax.config.update("jax_enable_x64", True)

OUT = Path(__file__).resolve().parent.parent / "data" / "genealogy_toys.json"
D, M, GROUP = 20, 120, 6
DEPTHS = np.array([4.2, 4.5, 4.8, 5.1])


def half_space(t):
    return (lambda z: t - z[:, 0]), float(scipy.stats.norm.sf(t))


def four_families():
    score = lambda z: -np.max(z[:, :4] - DEPTHS, axis=1)  # noqa: E731
    return score, float(-np.expm1(np.sum(scipy.stats.norm.logcdf(DEPTHS))))


def fixed_pcn(sigma):
    """pCN at a fixed step (its proposals are not "scaled": sigma never adapts)."""

    def propose(z, _sigma, *, key):
        p = subset.pcn(z, sigma, key=key)
        return subset.Proposal(p.z, p.valid, np.zeros(len(z), bool))

    return propose


CASES = [  # problem, t, fixed pCN step (None: adapted), n
    ("half-space", 4.75, None, 500),
    ("half-space", 4.75, 0.3, 500),
    ("half-space", 4.75, 0.15, 500),
    ("four families", None, None, 500),
    ("four families", None, 0.3, 500),
    ("half-space", 7.0, None, 500),
    ("half-space", 7.0, 0.3, 500),
    ("half-space", 7.0, None, 1000),
    ("half-space", 7.0, None, 2000),
    ("half-space", 7.0, None, 5000),
]


def case(problem, t, sigma, n):
    score, exact = half_space(t) if problem == "half-space" else four_families()
    propose = subset.pcn if sigma is None else fixed_pcn(sigma)
    f, ab, ge = [], [], []
    t0 = time.time()
    for r in range(M):
        run = subset.run(
            score, D, key=jax.random.key(r), n=n, stop=0.0, propose=propose, max_levels=20
        )
        f.append(float(subset.tail_probability(run, 0.0).probability))
        ab.append(replicas.run_cov(run, 0.0))
        ge.append(replicas.genealogy_cov(run, 0.0))
    f, ab, ge = map(np.asarray, (f, ab, ge))
    groups = range(0, M - GROUP + 1, GROUP)
    passes = {
        name: float(np.mean([replicas.replica_check(f[i : i + GROUP], c[i : i + GROUP]).passed
                             for i in groups]))
        for name, c in (("au_beck", ab), ("genealogy", ge))
    }  # fmt: skip
    logf = np.log(f[f > 0])
    z = (logf - np.log(exact)) / ge[f > 0], (logf - np.log(exact)) / ab[f > 0]
    return {
        "n": n,
        "problem": problem,
        "t": t,
        "step": "adapted" if sigma is None else sigma,
        "exact": exact,
        "mean": float(f.mean()),
        "bias": float(f.mean() / exact - 1.0),
        "bias_err": float(f.std(ddof=1) / np.sqrt(M) / exact),
        "sd_log_f": float(logf.std(ddof=1)),
        "zeros": int(np.sum(f == 0)),
        "claimed_au_beck": float(np.sqrt(np.mean(ab**2))),
        "claimed_genealogy": float(np.sqrt(np.mean(ge**2))),
        "median_families": float(np.median(ge**-2.0)),
        # rms of (log f - log exact) / claimed error: 1 when the claims are right
        "rms_z_genealogy": float(np.sqrt(np.mean(z[0] ** 2))),
        "rms_z_au_beck": float(np.sqrt(np.mean(z[1] ** 2))),
        "pass_au_beck": passes["au_beck"],
        "pass_genealogy": passes["genealogy"],
        "groups": len(groups),
        "replicas": M,
        "seconds": time.time() - t0,
    }


def table(rows):
    print(
        "| problem | exact P | n | step | bias of the mean | sd(log f) | claimed: Au & Beck "
        "| claimed: genealogy | rms z: Au & Beck / genealogy | median families "
        "| check passes (Au & Beck / genealogy) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['problem']} | {r['exact']:.2g} | {r['n']} | {r['step']} | {r['bias']:+.0%}"
            f" +- {r['bias_err']:.0%} | {r['sd_log_f']:.2f} | {r['claimed_au_beck']:.2f} | "
            f"{r['claimed_genealogy']:.2f} | {r['rms_z_au_beck']:.2f} / "
            f"{r['rms_z_genealogy']:.2f} | {r['median_families']:.1f} | "
            f"{r['pass_au_beck'] * r['groups']:.0f} / {r['pass_genealogy'] * r['groups']:.0f}"
            f" of {r['groups']} |"
        )


if __name__ == "__main__":
    if sys.argv[1:] == ["table"]:
        table(json.loads(OUT.read_text()))
        sys.exit()
    rows = []
    for c in CASES:
        rows.append(case(*c))
        OUT.write_text(json.dumps(rows, indent=1))
        print(rows[-1], flush=True)
    table(rows)
