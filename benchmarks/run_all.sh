#!/usr/bin/env bash
# Runs every benchmark and the test suite, appending dated rows to benchmarks/RESULTS.md.
# Sized for < 8 minutes on one GPU; on a CPU pass --cpu for smaller sizes.
#   bash benchmarks/run_all.sh [--cpu]
set -uo pipefail
cd "$(dirname "$0")"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
PY=${PYTHON:-python3}
small=0; [ "${1:-}" = "--cpu" ] && small=1
stamp=$(date -u +%Y-%m-%dT%H:%MZ)
results=RESULTS.md
[ -f "$results" ] || printf '# Benchmark results\n\nOne row per run; each row is the JSON line a script printed.\n\n' > "$results"

run() {  # name, command...
  local name=$1; shift
  local line
  line=$("$@" 2>/dev/null | tail -n 1)
  if [ -n "$line" ]; then
    printf -- '- %s `%s`: %s\n' "$stamp" "$name" "$line" >> "$results"
    echo "$line"
  else
    printf -- '- %s `%s`: FAILED\n' "$stamp" "$name" >> "$results"
  fi
}

if [ $small = 1 ]; then
  run bench_eta $PY bench_eta.py --n 1000000 --scipy-points 2
  run bench_solve $PY bench_solve.py --chains 1024
  [ -f bench_lattice.py ] && run bench_lattice $PY bench_lattice.py --radii 10,15,22
  [ -f bench_ed.py ] && run bench_ed $PY bench_ed.py --max-N 7
  [ -f bench_sweep.py ] && run bench_sweep $PY bench_sweep.py
  run bench_distributed $PY bench_distributed.py --R 10 --draws 1024
  run bench_cost $PY bench_cost.py --fast-radii 10,22 --dense-radii 10,15 --e2e-radii 10 --e2e-eigh-radii 10
  run bench_spectral $PY bench_spectral.py --radii 5,10,22 --batches 5:4,10:4,22:4
  run bench_spectral_floor $PY bench_spectral.py --floor --radii 10 --batches 10:8
else
  run bench_eta $PY bench_eta.py
  run bench_solve $PY bench_solve.py
  [ -f bench_lattice.py ] && run bench_lattice $PY bench_lattice.py
  [ -f bench_ed.py ] && run bench_ed $PY bench_ed.py --max-N 10
  [ -f bench_sweep.py ] && run bench_sweep $PY bench_sweep.py
  # CPU processes (one per core) against one, on the host of the GPU
  run bench_distributed $PY bench_distributed.py --R 10 --draws 2048
  # dense paths on the GPU up to the paper's largest radius; its end-to-end eigh rates
  # (interpolated in N between them) give the device-hours of the Fig. 5 dataset
  run bench_cost $PY bench_cost.py --fast-radii 10,22 --dense-radii 10,22,33,50 \
    --e2e-radii 10 --e2e-eigh-radii 10,22,33,50
  # device band route vs host band route vs dense eigh, batched, up to the paper's R = 50
  run bench_spectral $PY bench_spectral.py --radii 5,10,15,22,33,50 --dense-max-R 50 \
    --batches 5:1024,10:1024,15:512,22:256,33:64,50:16
  # the reduction's schedule with one pass per step: the per-step floor on this device
  run bench_spectral_floor $PY bench_spectral.py --floor --radii 22 --batches 22:256
fi
( cd .. && $PY -m pytest -q 2>&1 | tail -n 1 | sed "s/^/- $stamp tests: /" >> "benchmarks/$results" )
