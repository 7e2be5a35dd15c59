#!/bin/bash
# GESCO image comparison, part 2 (needs the shipped diffusion model): the generated images from the adaptive map
# transmitter on the same 100 test maps, AWGN and Rayleigh in two processes, merged into the part-1 file.
# usage: bash scripts/gesco_images.sh STEPS GUIDANCE (per-channel parts in runs/, merged into the committed file)
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
STEPS=${1:?steps}; G=${2:?guidance}
F=benchmarks/results/camvid_gesco_images.jsonl
echo "start $(date)"
for ch in awgn rayleigh; do
  T=""; [ $ch = awgn ] && T="10,25,50"
  mkdir -p runs && cp $F runs/gesco_images_$ch.jsonl
  .venv/bin/python benchmarks/camvid_gesco.py --limit 100 --transmitters adaptive --baselines "" --channels $ch --steps $STEPS --guidance $G --timing-steps "$T" --fast --threads 1 --reuse --out runs/gesco_images_$ch.jsonl > runs/gesco_images_$ch.log 2>&1 &
done
wait
.venv/bin/python - $F runs/gesco_images_awgn.jsonl runs/gesco_images_rayleigh.jsonl <<'PY'
import json, sys
out, parts = sys.argv[1], sys.argv[2:]
rows, seen = [], set()
for path in [out, *parts]:
    for line in open(path):
        if not line.strip():
            continue
        r = json.loads(line)
        key = tuple(map(str, r["key"])) if "key" in r else ("config",)
        if key in seen:
            continue
        seen.add(key)
        rows.append(r)
open(out, "w").write("".join(json.dumps(r) + "\n" for r in rows))
print(f"{len(rows)} rows in {out}")
PY
echo "end $(date)"
