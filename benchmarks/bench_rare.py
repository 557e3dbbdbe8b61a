"""Rare avalanches: the f_aval(W) curves and the QP threshold maps of docs/rare_avalanches.md.

Modes (each writes its docs/data/*.json incrementally; one JSON line of run times at the
end; 2-core CPU, OPENBLAS_NUM_THREADS=1):
  tail [R ...] [--W W ...] [--seed S]  subset simulation, f_aval(W, g0 = 1 and 0.5) down to ~1e-13:
                docs/data/rare_tail_R{R}[_W{a}-{b}].json (parts of the W grid can run in
                parallel processes)
  qp            sup_theta0 W_th for R = 10, 15, 22: docs/data/rare_qp.json
  table         print the tables of docs/rare_avalanches.md
  kernels W[,W..] KERNEL M|a:b n DIR [THIN [R]]  subset-simulation replicas (M of them, or
                r = a..b-1: processes can share a row) of R = 10 or R (g0 = 1, exact fold
                score) with move kernel "lattice" (pCN + local shifts), "pcn" (isotropic
                pCN alone), "guided" (gradient-guided moves mixed with the lattice
                moves), "resonance", "resonance-pcn" or "cluster" (rare.moves.MOVES),
                thin = 5 or THIN, R = 10 or R: DIR/{KERNEL}[-t{THIN}][-R{R}]_W{W}_r{r}.npz
  pool DIR ...  pool those replicas into docs/data/rare_tail.json (replica check, fits)
  sensitivity DIR   d log g0_c / dV of the three lowest-score potentials of the deepest
                population in DIR (needs *_r*.npz with samples): docs/rare_sensitivity.png
  families DIR W   per replica file at W: estimate, resonance patterns of the last
                population, median |V_0| (what the replicas that come out low miss) and,
                where the file records the genealogy, the number of distinct
                ancestors of the avalanching states in every population k = 0 .. L
  score [R]     cost of one score log g0_c(V) (R = 10 default): the exact fold against the
                20-step bisection of the flag, same potentials, one run; their largest
                difference (the bisection's resolution is 40 / 2^21 = 1.9e-5); and one
                score with its gradient in V (value_and_grad through the dense spectrum)
Usage: python benchmarks/bench_rare.py [tail [R ...] [--W W ...] [--seed S]|qp|table|score [R]|all]
"""

import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

from jaxmf.analysis import rare, thresholds

OUT = Path(__file__).resolve().parents[1] / "docs" / "data"


def _dump(name, obj):
    (OUT / name).write_text(json.dumps(obj, indent=1, default=lambda o: np.asarray(o).tolist()))


TAIL = {  # R: (W grid, samples per level, replicas); thin = rare.THIN, wrapped moves
    10: ([120.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0], 1000, 3),
    15: ([250.0, 300.0], 400, 3),
}


def tail_curves(Rs, Ws=None, seed=0):
    """One file per call: rare_tail_R{R}.json, or rare_tail_R{R}_W{a}-{b}[_s{seed}].json
    for a part of the W grid (parts run in parallel processes: the key depends on W and
    seed only; another seed adds independent replicas, pooled by :func:`pooled`)."""
    t0 = time.time()
    for R in Rs:
        grid, n, reps = TAIL[R]
        Wr = Ws or grid
        tag = ("" if Wr == grid else f"_W{Wr[0]:g}-{Wr[-1]:g}") + (f"_s{seed}" if seed else "")
        rows, name = [], f"rare_tail_R{R}{tag}.json"
        rare.f_aval_tail(
            R,
            Wr,
            key=jax.random.key(3000 + R + 100 * seed),
            g0=(1.0, 0.5),
            n=n,
            replicas=reps,
            progress=True,
            callback=lambda r, rows=rows, name=name: (rows.append(r._asdict()), _dump(name, rows)),
        )
    return time.time() - t0


def qp_maps():
    out, t0 = [], time.time()
    Wg = np.geomspace(40.0, 1000.0, 25)
    theta_star = {}
    for R, n_theta, n_starts, n_zoom in ((10, 64, 4, 5), (15, 32, 3, 4), (22, 16, 2, 4)):
        for g0 in (1.0, 0.5) if R == 10 else (1.0,):
            t = time.time()
            s = thresholds.sup_threshold(
                R, g0=g0, n_theta=n_theta, n_starts=n_starts, n_zoom=n_zoom, rtol=1e-4, W_grid=Wg
            )
            row = {
                "R": R,
                "g0": g0,
                "n_theta": n_theta,
                "n_starts": n_starts,
                "n_zoom": n_zoom,
                "sup": s.sup,
                "err": s.err,
                "theta_star": s.theta_star,
                "history": s.history,
                "theta0": s.coarse.theta0,
                "W_th": s.coarse.W_th,
            }
            theta_star.setdefault(g0, s.theta_star)
            # the same phase on every R: the threshold of the R = 10 maximiser
            row["W_th_at_R10_star"] = float(
                thresholds.qp_threshold_map(R, [theta_star[g0]], g0=g0, rtol=1e-6, W_grid=Wg).W_th[
                    0
                ]
            )
            row["seconds"] = time.time() - t
            out.append(row)
            _dump("rare_qp.json", out)
            print(
                f"QP R={R} g0={g0}: sup W_th = {row['sup']:.3f} +- {row['err']:.3f} "
                f"at theta0 = {row['theta_star']:.6f}; W_th(theta0* of R=10) = "
                f"{row['W_th_at_R10_star']:.4f} ({row['seconds']:.0f} s)",
                flush=True,
            )
    return time.time() - t0


def pooled(R, suffix=""):
    """Rows of rare_tail_R{R}{suffix}.json and its W-part files, replicas of the same
    (W, g0) pooled, sorted by (g0, W)."""
    files = sorted(OUT.glob(f"rare_tail_R{R}{suffix}.json")) + sorted(
        OUT.glob(f"rare_tail_R{R}{suffix}_W*.json")
    )
    merged = {}
    for f in files:
        for r in json.loads(f.read_text()):
            k = (r["g0"], r["W"])
            if k in merged:
                m = merged[k]
                for name in ("replicas", "levels", "distinct"):
                    m[name] = m[name] + r[name]
            else:
                merged[k] = dict(r)
    out = []
    for k in sorted(merged, key=lambda k: (-k[0], k[1])):
        r = merged[k]
        x = np.asarray(r["replicas"])
        r["f"], r["stderr"] = float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))
        r["reliable"] = rare.reliable(x, r["levels"], rare.MAX_LEVELS)
        out.append(r)
    return out


def tables():
    """Markdown tables and the figure of docs/rare_avalanches.md from the JSON files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxmf.plot.rare import plot_rare

    print(
        "| R | W | g0 | f_aval | std. error | replicas (each) | levels | min distinct | reliable |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    allrows = []
    for R in (10, 15, 22):
        rows = pooled(R)
        if not rows:
            continue
        allrows += rows
        for r in rows:
            reps = ", ".join(f"{x:.1g}" for x in r["replicas"])
            print(
                f"| {R} | {r['W']:g} | {r['g0']:g} | {r['f']:.2g} | {r['stderr']:.1g} | {reps} "
                f"| {'/'.join(map(str, r['levels']))} | {min(r['distinct']):.2f} "
                f"| {'yes' if r['reliable'] else 'no'} |"
            )
        print()
        for g0 in (1.0, 0.5):
            fit = rare.fit_tail([r for r in rows if r["g0"] == g0 and r["reliable"]])
            print(
                f"R={R} g0={g0}: exp W_1 = {fit.exp[0]:.1f} +- {fit.exp[1]:.1f} "
                f"(chi2/dof {fit.exp[2]:.1f}); power m = {fit.power[0]:.1f} +- "
                f"{fit.power[1]:.1f} (chi2/dof {fit.power[2]:.1f}); n = {fit.n}"
            )
        for r in rows:
            if r["g0"] == 1.0:
                print(
                    f"  calm W={r['W']:g}: "
                    + " ".join(f"{x:.2f}" for x in r["calm_rms_rel"])
                    + (
                        f"; resonant {r['resonant']} vs iid {np.round(r['resonant_iid'], 3)}"
                        if "resonant" in r
                        else ""
                    )
                )
    qp = json.loads((OUT / "rare_qp.json").read_text()) if (OUT / "rare_qp.json").exists() else []
    fig, ax = plt.subplots(figsize=(5.2, 4.0), constrained_layout=True)
    plot_rare({"random": allrows, "qp": [q for q in qp if q["R"] == 10]}, ax)
    ax.set_title(
        "random: subset simulation, replica errors (open: not reliable); QP: sup W_th", fontsize=7
    )
    fig.savefig(OUT.parent / "rare_avalanches.png", dpi=150)


def score_cost(R=10, batch=100, W=(120.0, 300.0)):
    """Seconds per score (banded spectrum + critical scale), fold vs 20-step bisection,
    on the same potentials; the spectrum alone, and the score with its gradient (the
    guided kernel's one evaluation per state), are timed too."""
    import jax.numpy as jnp
    from _common import best_time, emit

    from jaxmf.analysis.rare import guided
    from jaxmf.analysis.rare.critical import gaussian_scorer
    from jaxmf.models import lattice

    N = lattice.num_sites(R)
    out = {"R": R, "batch": batch}
    spec = jax.jit(
        lambda z, w: lattice.couplings_from_potential(
            rare.critical.potential_from_gaussian(z, w), R, g0=1.0
        )
    )
    for w in W:
        z = jax.random.normal(jax.random.key(int(w)), (batch, N), jnp.float64)
        res = {}
        for name in ("fold", "bisect"):
            f = gaussian_scorer(R, solver=name)
            res[name] = np.asarray(f(z, jnp.float64(w)).log_scale)  # compile
            out[f"{name}_ms_W{w:g}"] = (
                1e3
                * best_time(lambda f=f, z=z, w=w: jax.block_until_ready(f(z, jnp.float64(w))))
                / batch
            )
        # score + gradient of the guided kernel (dense spectrum, one value_and_grad per
        # state, padded batch; a fresh memo each time so nothing is reused)
        zn = np.asarray(z)
        guided.LatticeScoreGradient(R, w, chunk=batch).gradient(zn)  # compile
        out[f"value_and_grad_ms_W{w:g}"] = (
            1e3
            * best_time(
                lambda w=w, zn=zn: guided.LatticeScoreGradient(R, w, chunk=batch).gradient(zn)
            )
            / batch
        )
        out[f"ratio_value_and_grad_over_fold_W{w:g}"] = (
            out[f"value_and_grad_ms_W{w:g}"] / out[f"fold_ms_W{w:g}"]
        )
        spec(z, w).block_until_ready()
        out[f"spectrum_ms_W{w:g}"] = (
            1e3 * best_time(lambda z=z, w=w: jax.block_until_ready(spec(z, w))) / batch
        )
        ok = np.isfinite(res["fold"]) & np.isfinite(res["bisect"])
        out[f"max_abs_diff_W{w:g}"] = float(np.max(np.abs(res["fold"] - res["bisect"])[ok]))
        out[f"ratio_fold_over_bisect_W{w:g}"] = out[f"fold_ms_W{w:g}"] / out[f"bisect_ms_W{w:g}"]
    emit("rare_score", out)


def kernel_replicas(Ws, kernel, M, n, folder, R=10, thin=5, max_levels=16):
    """Independent replicas r in range(M) (or in M itself, a range: processes can share
    the replicas of one row) with key fold_in(key(seed of kernel, thin and W), r) of
    P(log g0_c <= 0), one .npz each (the SubsetRun with its last population); existing
    files are kept. Files of thin != 5, n != 500 and R != 10 carry them in their name
    ({kernel}-t{thin}-n{n}-R{R}_W...), and n != 500 draws from other keys."""
    import jax.numpy as jnp

    from jaxmf.analysis.rare import guided, moves, subset
    from jaxmf.analysis.rare.critical import gaussian_scorer
    from jaxmf.models import lattice

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    N, score_fn = lattice.num_sites(R), gaussian_scorer(R)
    for W in Ws:
        seed = {
            "lattice": 7000,
            "guided": 9000,
            "pcn": 8000,
            "resonance": 6000,
            "resonance-pcn": 5000,
            "cluster": 4000,
        }[kernel]
        seed += int(W) + (0 if thin == 5 else 100_000 * thin) + (0 if R == 10 else 10_000 * R)
        seed += 0 if n == 500 else 1_000_000 * (n // 100)  # other population sizes: other keys
        name = (
            kernel
            + ("" if thin == 5 else f"-t{thin}")
            + ("" if n == 500 else f"-n{n}")
            + ("" if R == 10 else f"-R{R}")
        )
        for r in M if isinstance(M, range) else range(M):
            path = folder / f"{name}_W{W:g}_r{r}.npz"
            if path.exists():
                continue
            if kernel == "guided":  # score and gradients share one memo (one evaluation each)
                g = guided.lattice_guided(R, W)
                score, prop = g.score, g.propose
            else:
                prop = moves.proposal(R, kernel)
                score = lambda z, W=W: np.asarray(  # noqa: E731
                    score_fn(jnp.asarray(z), jnp.float64(W)).log_scale
                )
            t0 = time.time()
            run = subset.run(
                score,
                N,
                key=jax.random.fold_in(jax.random.key(seed), r),
                n=n,
                stop=0.0,
                max_levels=max_levels,
                propose=prop,
                thin=thin,
                chunk=50,
                progress=lambda k, b, t0=t0, W=W, r=r, name=name: print(
                    f"  {name} W={W:g} r{r}: level {k} b = {b:.4f} ({time.time() - t0:.0f} s)",
                    flush=True,
                ),
            )
            np.savez(
                path,
                thresholds=run.thresholds,
                level_probs=run.level_probs,
                scores=run.scores,
                acceptance=run.acceptance,
                distinct=run.distinct,
                samples=run.samples,
                n_evals=run.n_evals,
                p0=run.p0,
                parents=run.parents,
                seconds=time.time() - t0,
            )
            print(
                f"{name} W={W:g} replica {r}: levels {len(run.thresholds)} "
                f"({time.time() - t0:.0f} s)",
                flush=True,
            )


GENEALOGY_N = 2000
"""From this population size on, rows are judged by the chi-square check against the
errors the replicas' genealogy claims (``replicas.genealogy_cov``); below, by Au & Beck's
claims. The Gaussian toys (docs/scripts/genealogy_toys.py) show the genealogy's claims
calibrated at 12 levels from n = 2000 on, and no claim calibrated there at n = 500."""


def pool(*folders, g0=1.0):
    """docs/data/rare_tail.json from the replica files of :func:`kernel_replicas` in
    ``folders`` (rows of (W, kernel) without files there are kept from the existing file).
    Each row records which claimed errors its check used ("check"; :data:`GENEALOGY_N`)."""
    import re

    from jaxmf.analysis.rare import replicas

    groups = {}
    for path in sorted(p for f in folders for p in Path(f).glob("*_W*_r*.npz")):
        kernel, R, W = re.match(r"([\w-]+?)(?:-R(\d+))?_W([\d.]+)_r\d+\.npz", path.name).groups()
        run, secs = _load_run(path)
        groups.setdefault((float(W), int(R or 10), kernel), []).append((run, secs))
    rows = []
    for (W, R, kernel), pairs in sorted(groups.items()):
        if len(pairs) < 2:
            continue
        runs = [r for r, _ in pairs]
        e = replicas.combine(runs, float(np.log(g0)), warn=False)
        n = runs[0].scores.shape[1]
        # which claimed errors decide: the genealogy's from n = GENEALOGY_N on, where the
        # Gaussian toys show them calibrated at 12 levels; Au & Beck's below (as published)
        by_genealogy = e.genealogy is not None and n >= GENEALOGY_N
        check = e.genealogy if by_genealogy and e.genealogy is not None else e.check
        rows.append(
            {
                "W": W,
                "R": R,
                "g0": g0,
                "kernel": kernel,
                "thin": int(re.search(r"-t(\d+)", kernel)[1]) if "-t" in kernel else 5,
                "f": e.f if check.passed else None,  # a failed row has no value
                "err": e.err if check.passed else None,
                "replicas": e.replicas.tolist(),
                "min_distinct_states": e.min_distinct,
                "check": "genealogy" if by_genealogy else "au-beck",
                "passed": check.passed,
                "chi2": check.chi2,
                "chi2_p": check.p_value,
                "au_beck_chi2_p": e.check.p_value,
                "claimed_cov": e.cov.tolist(),
                # the error each replica claims from its genealogy, and the check with it
                "effective_families": e.families.tolist(),
                "genealogy_chi2_p": e.genealogy.p_value if e.genealogy else None,
                "genealogy_passed": e.genealogy.passed if e.genealogy else None,
                "levels": [len(r.thresholds) for r in runs],
                "n": n,
                "acceptance": np.nanmean(e.acceptance, axis=0).tolist(),
                "distinct": np.nanmin(e.distinct, axis=0).tolist(),
                "collapsed": e.collapsed,
                "seconds_per_replica": [t for _, t in pairs],
            }
        )
        print(
            f"W={W:g} R={R} {kernel}: f = {e.f:.3g} +- {e.err:.2g} (replicas "
            f"{', '.join(f'{x:.2g}' for x in e.replicas)}), chi2 p = {check.p_value:.2g}"
            f" ({'genealogy' if by_genealogy else 'Au & Beck'}) "
            f"{'pass' if check.passed else 'FAIL'}, min distinct {e.min_distinct:.2f}"
            + (
                f"; families {', '.join(f'{x:.1f}' for x in e.families)}, genealogy check "
                f"p = {e.genealogy.p_value:.2g}"
                if e.genealogy
                else ""
            )
        )
    # rows of replica files no longer at hand (earlier runs) are kept as they are
    done = {(r["W"], r["R"], r["kernel"]) for r in rows}
    old = OUT / "rare_tail.json"
    if old.exists():
        kept = [r for r in json.loads(old.read_text()) if (r["W"], r["R"], r["kernel"]) not in done]
        rows = sorted(kept + rows, key=lambda r: (r["R"], r["W"], r["kernel"]))
    _dump("rare_tail.json", rows)
    for kernel in sorted({r["kernel"] for r in rows if r["R"] == 10}):  # fits at R = 10
        fit = rare.fit_tail(
            [
                {"W": r["W"], "f": r["f"], "stderr": r["err"]}
                for r in rows
                if r["kernel"] == kernel and r["passed"] and r["R"] == 10
            ]
        )
        print(
            f"{kernel}: exp W_1 = {fit.exp[0]:.1f} +- {fit.exp[1]:.1f} (chi2/dof "
            f"{fit.exp[2]:.1f}); power m = {fit.power[0]:.1f} (chi2/dof {fit.power[2]:.1f});"
            f" W log W c = {fit.wlogw[0]:.4f} (chi2/dof {fit.wlogw[2]:.1f}); {fit.n} rows"
        )


def _load_run(path, samples=False):
    """(SubsetRun, seconds) of a replica file of :func:`kernels`; its last population
    (``samples``) only on request."""
    with np.load(path) as z:
        run = rare.subset.SubsetRun(
            z["thresholds"],
            z["level_probs"],
            z["scores"],
            z["samples"] if samples else None,
            z["acceptance"],
            z["distinct"],
            int(z["n_evals"]),
            float(z["p0"]),
            z["parents"] if "parents" in z.files else None,  # older files lack it
        )
        return run, float(z["seconds"]) if "seconds" in z.files else float("nan")


def families(folder, W, R=10, radius=3, width=4.0):
    """Per replica file of disorder W in ``folder``: its estimate, the number of distinct
    resonance patterns in its last population below the last threshold (a pattern: the
    bonds within d <= ``radius`` of the grain with |V_n - V_m| < ``width``), the most
    common one, and the median |V_0| of the population (the grain's site)."""
    import collections

    import scipy.special

    from jaxmf.models import as_model

    model = as_model(R)
    d = np.asarray(model.geometry.distance)
    near = [(int(a), int(b)) for a, b in model.bonds if d[a] <= radius and d[b] <= radius]
    for path in sorted(Path(folder).glob(f"*_W{W:g}_r*.npz")):
        run, _ = _load_run(path, samples=True)
        V = W * (2.0 * scipy.special.ndtr(run.samples) - 1.0)
        last = run.scores[-1]
        f = run.level_probs[-1] * np.mean(last <= 0.0)
        inside = last <= run.thresholds[-1]
        eve = ""
        if run.parents is not None:  # distinct ancestors of the event's states, k = 0 .. L
            event = last <= 0.0
            counts = [
                np.unique(rare.subset.ancestors(run, k)[event]).size
                for k in range(len(run.thresholds) + 1)
            ]
            eve = f"; {event.sum()} event states, distinct ancestors in populations 0..L: {counts}"
        patterns = collections.Counter(
            tuple(bond for bond in near if abs(v[bond[0]] - v[bond[1]]) < width) for v in V[inside]
        )
        top = patterns.most_common(2)
        print(
            f"{path.name}: f = {f:.2g}, {len(patterns)} patterns, top {top}, "
            f"median |V_0| = {np.median(np.abs(V[:, 0])):.0f}{eve}"
        )


def sensitivity(folder, R=10, n_show=3):
    """Maps of d log g0_c / dV_n (exact fold gradient through the dense spectrum) for the
    lowest-score potentials of the deepest population stored in ``folder``."""
    import re

    import jax.numpy as jnp
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxmf.analysis.rare.critical import critical_log_g0, potential_from_gaussian
    from jaxmf.models import lattice

    best = None
    for path in Path(folder).glob("*_W*_r*.npz"):
        with np.load(path) as z:
            if "samples" not in z.files:
                continue
            W = float(re.search(r"_W([\d.]+)_", path.name).group(1))
            if best is None or W > best[0]:
                best = (W, z["samples"], z["scores"][-1])
    W, samples, scores = best
    pick = np.argsort(scores)[: n_show * 20 : 20]  # distinct chains of the population
    V = np.asarray(potential_from_gaussian(jnp.asarray(samples[pick]), W))
    fn = lambda v: critical_log_g0(v, R, method="eigh").log_scale  # noqa: E731
    grads = np.asarray(jax.vmap(jax.grad(fn))(jnp.asarray(V)))
    xy = lattice.sites(R)
    fig, axes = plt.subplots(2, n_show, figsize=(3.2 * n_show, 6.0), constrained_layout=True)
    for j in range(n_show):
        g = grads[j]
        lim = np.max(np.abs(g))
        sc = axes[0, j].scatter(
            xy[:, 0], xy[:, 1], c=g, cmap="RdBu_r", vmin=-lim, vmax=lim, s=14, marker="s"
        )
        axes[0, j].set_title(f"W = {W:g}: log g0_c = {float(fn(V[j])):.3f}", fontsize=8)
        fig.colorbar(sc, ax=axes[0, j], shrink=0.7, label="d log g0_c / dV_n")
        sc = axes[1, j].scatter(
            xy[:, 0],
            xy[:, 1],
            c=(V[j] - V[j][0]) / W,
            cmap="PiYG",
            vmin=-1,
            vmax=1,
            s=14,
            marker="s",
        )
        fig.colorbar(sc, ax=axes[1, j], shrink=0.7, label="(V_n - V_0) / W")
        for ax in axes[:, j]:
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.savefig(OUT.parent / "rare_sensitivity.png", dpi=130)
    d = np.abs(xy).sum(axis=1)
    share = [float(np.sum(np.abs(g)[d <= 2]) / np.sum(np.abs(g))) for g in grads]
    print(
        json.dumps(
            {
                "W": W,
                "log_g0_c": [float(fn(v)) for v in V],
                "share_of_abs_gradient_within_d2": share,
                "top_sites": [np.argsort(-np.abs(g))[:4].tolist() for g in grads],
            }
        )
    )


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what == "sensitivity":
        sensitivity(sys.argv[2])
        sys.exit(0)
    if what == "families":
        families(sys.argv[2], float(sys.argv[3]))
        sys.exit(0)
    if what not in ("tail", "qp", "table", "score", "kernels", "pool", "all"):
        sys.exit(__doc__)
    if what == "kernels":
        kernel_replicas(
            [float(w) for w in sys.argv[2].split(",")],
            sys.argv[3],
            range(*map(int, sys.argv[4].split(":"))) if ":" in sys.argv[4] else int(sys.argv[4]),
            int(sys.argv[5]),
            sys.argv[6],
            thin=int(sys.argv[7]) if len(sys.argv) > 7 else 5,
            R=int(sys.argv[8]) if len(sys.argv) > 8 else 10,
        )
        sys.exit(0)
    if what == "pool":
        pool(*sys.argv[2:])
        sys.exit(0)
    if what == "score":
        score_cost(int(sys.argv[2]) if len(sys.argv) > 2 else 10)
        sys.exit(0)
    times = {}
    if what == "table":
        tables()
        sys.exit(0)
    if what == "tail":  # tail [R ...] [--W W ...] [--seed S]
        args = sys.argv[2:]
        seed = 0
        if "--seed" in args:
            i = args.index("--seed")
            seed, args = int(args[i + 1]), args[:i] + args[i + 2 :]
        cut = args.index("--W") if "--W" in args else len(args)
        times["tail_s"] = tail_curves(
            [int(r) for r in args[:cut]] or list(TAIL),
            [float(w) for w in args[cut + 1 :]] or None,
            seed,
        )
    if what in ("qp", "all"):
        times["qp_s"] = qp_maps()
    if what == "all":
        times["tail_s"] = tail_curves(list(TAIL))
    print(json.dumps(times))
