#!/bin/bash
# GESCO's generative receiver: guidance scale and DDIM steps decided on CamVid *val* (never test).
# usage: [LIMIT=N] bash scripts/gesco_sweep.sh DIFFUSION.pt   (e.g. a run's last.pt exported with export_diffusion;
#        LIMIT: only the first N val maps, default all 101)
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
D=${1:?diffusion checkpoint}
L=""; [ -n "$LIMIT" ] && L="--limit $LIMIT"
OUT=benchmarks/results/camvid_gesco_sweep.jsonl
touch $OUT
for g in 1 1.5 2 3; do
  .venv/bin/python benchmarks/camvid_gesco.py --split val $L --diffusion $D --transmitters adaptive --baselines "" --channels awgn --cbrs 1/16 --snrs 0,20 --steps 25 --guidance $g --timing-steps "" --fast --reuse --out $OUT
done
for n in 10 50; do
  .venv/bin/python benchmarks/camvid_gesco.py --split val $L --diffusion $D --transmitters adaptive --baselines "" --channels awgn --cbrs 1/16 --snrs 0,20 --steps $n --guidance 1.5 --timing-steps "" --fast --reuse --out $OUT
done
