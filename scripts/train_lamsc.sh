#!/bin/bash
# Trains LAM-SC's learned parts (and the receiver's control) one after the other (2 cores: never two trainings at once) and exports them
# into the package. Each run resumes from runs/lamsc/<part>/last.pt; its segment pool is cached in pool.pt.
#   scorer: ASI on occlusion-importance targets (EfficientNet-Lite0) of 400 SLIC-segmented 256x256 photo crops
#   asc:    the latent mask over the frozen shipped JSCC at CBR $CBR (default 1/32), on 128x128 windows of semantic images
#   receiver: a copy of the JSCC (encoder and decoder) fine-tuned end to end through that mask (mask frozen)
#   control:  the same fine-tuning of a plain JSCC copy on whole crops (benchmark control, not used by LAM-SC)
# PARTS="asc receiver control" bash scripts/train_lamsc.sh retrains only those parts (in this order).
set -euo pipefail
cd "$(dirname "$0")/.."
CBR="${CBR:-1/32}"
PARTS="${PARTS:-scorer asc receiver control}"
POOL=(--pool-size 400 --pool-crop 256 --threads "${THREADS:-2}")
DEST=src/semcom/checkpoints/lamsc
mkdir -p "$DEST"
run() {  # run PART NAME [options...]: train runs/lamsc/NAME, export DEST/NAME.pt, keep its log beside it
  local part=$1 name=$2
  shift 2
  .venv/bin/semcom train lamsc --part "$part" --out "runs/lamsc/$name" "${POOL[@]}" "$@" --export "$DEST/$name.pt"
  cp "runs/lamsc/$name/train.jsonl" "$DEST/$name.train.jsonl"
}
for part in $PARTS; do
  case $part in
    scorer) run scorer scorer --steps 800 --batch 32 --lr 2e-3 ;;
    asc) run asc asc --crop 128 --cbr "$CBR" --steps 600 --batch 16 --lr 2e-3 --rate-weight 5e-4 --snr-range=-2,16 ;;
    receiver) run receiver receiver --train-encoder --crop 128 --cbr "$CBR" --steps 1500 --batch 16 --lr 2e-4 --snr-range=-2,16 ;;
    # the receiver's control (for benchmarks/kodak_lamsc.py): the same fine-tuning of the plain decoder on whole crops
    control) run receiver control --whole-images --train-encoder --crop 128 --cbr "$CBR" --steps 1500 --batch 16 --lr 2e-4 --snr-range=-2,16 ;;
    *) echo "unknown part $part (scorer, asc, receiver, control)" >&2; exit 2 ;;
  esac
done
