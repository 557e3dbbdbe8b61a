"""The deep tail of f_aval(W): random lattices, R = 10, g0 = 1, two move kernels per W.

Reads docs/data/rare_tail.json (rows pooled by ``benchmarks/bench_rare.py pool``: one row
per (W, kernel), with the replica chi-square check), fits log f_aval(W) on the rows that
pass the check (``rare.fit_tail``: exp(-W / W_1), W^-m and exp(-c W log W)), and writes
docs/data/rare_tail_fit.json and docs/rare_tail.png. Rows that fail the replica check are
drawn as a cross at the lowest replica and a line spanning the replicas (no value).

    python docs/scripts/rare_tail.py
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jaxmf.analysis import rare  # noqa: E402

HERE = Path(__file__).resolve().parent.parent
# marker of the move kernel; "-t10", "-t20" (thinning) share their kernel's marker
MARK = {"lattice": "o", "pcn": "s", "guided": "D", "resonance": "v", "cluster": "P"}


def fits(rows):
    ok = [
        dict(W=r["W"], f=r["f"], stderr=r["err"]) for r in rows if r["passed"] and (r["f"] or 0) > 0
    ]
    fit = rare.fit_tail(ok)
    out = {"n_rows": fit.n, "W": sorted({r["W"] for r in ok})}
    for name, (p, e, chi2) in (("exp", fit.exp), ("power", fit.power), ("wlogw", fit.wlogw)):
        out[name] = {"param": p, "err": e, "chi2_per_dof": chi2}
    # the curves: refit the intercepts (weighted) for drawing
    W = np.array([r["W"] for r in ok])
    y = np.log([r["f"] for r in ok])
    sig = np.maximum([r["stderr"] / r["f"] for r in ok], 0.05)
    xs = {"exp": W, "power": np.log(W), "wlogw": W * np.log(W)}
    for name, x in xs.items():
        A = np.stack([np.ones_like(x), x], axis=1) / sig[:, None]
        coef = np.linalg.lstsq(A, y / sig, rcond=None)[0]
        out[name]["coef"] = [float(c) for c in coef]
        out[name]["residuals"] = [float(v) for v in (y - coef[0] - coef[1] * x) / sig]
    return out


def main():
    every = json.loads((HERE / "data" / "rare_tail.json").read_text())
    rows = [r for r in every if r["R"] == 10 and r["g0"] == 1.0]
    other = [r for r in every if r["R"] != 10]  # shallower checks of R-independence
    fit = fits(rows)
    (HERE / "data" / "rare_tail_fit.json").write_text(json.dumps(fit, indent=1))
    fig, ax = plt.subplots(figsize=(7.2, 3.8), constrained_layout=True)
    fmin = min(r["f"] for r in rows if r["passed"] and (r["f"] or 0) > 0)
    kernels = sorted({r["kernel"] for r in rows})
    for j, kernel in enumerate(kernels):
        rr = sorted((r for r in rows if r["kernel"] == kernel), key=lambda r: r["W"])
        good = [r for r in rr if r["passed"] and (r["f"] or 0) > 0]
        bad = [r for r in rr if not (r["passed"] and (r["f"] or 0) > 0)]
        dx = 1.2 * (j - (len(kernels) - 1) / 2)  # side by side
        big = "-n" in kernel  # n > 500 per level: black, larger
        color, ms = ("k", 5.5) if big else (f"C{j % 10}", 3.5)
        if good:
            W = np.array([r["W"] for r in good]) + dx
            f = np.array([r["f"] for r in good])
            e = np.array([r["err"] for r in good])
            ax.errorbar(
                W,
                f,
                yerr=[np.minimum(e, 0.999 * f), e],
                ls="none",
                capsize=2,
                marker=MARK.get(kernel.split("-t")[0], "^"),
                ms=ms,
                color=color,
                label=kernel,
            )
        for k, r in enumerate(bad):  # no value: the span of the replicas, and a cross
            rep = [x for x in r["replicas"] if x > 0]
            if rep:
                ax.vlines(r["W"] + dx, min(rep), max(rep), color=color, lw=0.8, alpha=0.6)
            ax.plot(
                r["W"] + dx,
                min(rep) if rep else fmin,
                ls="none",
                marker="x",
                color=color,
                label=f"{kernel}: replica check failed (span of replicas)" if k == 0 else None,
            )
    Wg = np.linspace(min(r["W"] for r in rows) - 5, max(r["W"] for r in rows) + 10, 200)
    xs = {"exp": Wg, "power": np.log(Wg), "wlogw": Wg * np.log(Wg)}
    text = {"exp": r"$e^{-W/W_1}$", "power": r"$W^{-m}$", "wlogw": r"$e^{-cW\log W}$"}
    for k, (name, x) in enumerate(xs.items()):
        a, b = fit[name]["coef"]
        ax.plot(
            Wg,
            np.exp(a + b * x),
            lw=0.8,
            ls=("-", "--", ":")[k],
            color="0.4",
            label=f"{text[name]}: $\\chi^2$/dof {fit[name]['chi2_per_dof']:.2g}",
        )
    ax.set_yscale("log")
    ax.set_xlabel("W")
    ax.set_ylabel(r"$f_{\rm aval}$ ($g_0$ = 1, R = 10)")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(HERE / "rare_tail.png", dpi=150)
    print(table(rows))
    for R in sorted({r["R"] for r in other}):
        print(f"\nR = {R}:\n" + table([r for r in other if r["R"] == R]))
    print(
        json.dumps(
            {
                k: fit[k]
                if not isinstance(fit[k], dict)
                else {kk: fit[k][kk] for kk in ("param", "err", "chi2_per_dof")}
                for k in fit
            }
        )
    )


def table(rows):
    """The markdown table of docs/rare_avalanches.md (one line per row)."""
    out = [
        "| W | kernel | thin | f_aval | replica error | replicas | n | levels | chi-square p "
        "| min distinct | s per replica | replica check |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        # rows with "check": "genealogy" (n >= 2000) are judged against the errors their
        # genealogy claims, marked "(g)"; the others against Au & Beck's
    ]
    for r in sorted(rows, key=lambda r: (r["W"], r["kernel"])):
        ok = r["passed"] and (r["f"] or 0) > 0
        secs = [t for t in r.get("seconds_per_replica", []) if t == t]
        f = format(r["f"], ".3g") if ok else "failed"
        err = format(r["err"], ".2g") if ok else "-"
        p = format(r["chi2_p"], ".2g")
        if r.get("check") == "genealogy":
            p += f" (g; Au & Beck {r['au_beck_chi2_p']:.2g})"
        out.append(
            f"| {r['W']:g} | {r['kernel']} | {r.get('thin', 5)} | {f} | {err} | "
            f"{', '.join(f'{x:.2g}' for x in r['replicas'])} | {r['n']} | "
            f"{'/'.join(str(x) for x in r['levels'])} | {p} | "
            f"{r['min_distinct_states']:.2f} | "
            f"{f'{min(secs):.0f}-{max(secs):.0f}' if secs else '-'} | "
            f"{'passes' if ok else 'FAILS'} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    main()
