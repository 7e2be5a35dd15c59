#!/bin/bash
# Trains LAM-SC's learned parts (and the receiver's control) one after the other (2 cores: never two trainings at once) and exports them
# into the package. Each run resumes from runs/lamsc/<part>/last.pt; its segment pool is cached in pool.pt.
#   scorer: ASI on occlusion-importance targets (EfficientNet-Lite0) of 400 SLIC-segmented 256x256 photo crops
#   asc:    the latent mask over the frozen shipped JSCC at CBR 1/16, on 128x128 windows of semantic images
#   receiver: the JSCC decoder fine-tuned on what arrives through that mask (encoder and mask frozen)
#   control:  the same fine-tuning of the plain decoder on whole crops (benchmark control, not used by LAM-SC)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p src/semcom/checkpoints/lamsc
.venv/bin/semcom train lamsc --part scorer --out runs/lamsc/scorer --pool-size 400 --pool-crop 256 \
  --steps 800 --batch 32 --lr 2e-3 --threads "${THREADS:-2}" --export src/semcom/checkpoints/lamsc/scorer.pt
cp runs/lamsc/scorer/train.jsonl src/semcom/checkpoints/lamsc/scorer.train.jsonl
.venv/bin/semcom train lamsc --part asc --out runs/lamsc/asc --pool-size 400 --pool-crop 256 --crop 128 \
  --cbr 1/16 --steps 600 --batch 16 --lr 2e-3 --rate-weight 5e-4 --snr-range=-2,16 --threads "${THREADS:-2}" \
  --export src/semcom/checkpoints/lamsc/asc.pt
cp runs/lamsc/asc/train.jsonl src/semcom/checkpoints/lamsc/asc.train.jsonl
.venv/bin/semcom train lamsc --part receiver --out runs/lamsc/receiver --pool-size 400 --pool-crop 256 --crop 128 \
  --cbr 1/16 --steps 2500 --batch 16 --lr 2e-4 --snr-range=-2,16 --threads "${THREADS:-2}" \
  --export src/semcom/checkpoints/lamsc/receiver.pt
cp runs/lamsc/receiver/train.jsonl src/semcom/checkpoints/lamsc/receiver.train.jsonl
# the receiver's control (for benchmarks/kodak_lamsc.py): the same fine-tuning of the plain decoder on whole crops
.venv/bin/semcom train lamsc --part receiver --whole-images --out runs/lamsc/control --pool-size 400 --pool-crop 256 \
  --crop 128 --cbr 1/16 --steps 2500 --batch 16 --lr 2e-4 --snr-range=-2,16 --threads "${THREADS:-2}" \
  --export src/semcom/checkpoints/lamsc/control.pt
cp runs/lamsc/control/train.jsonl src/semcom/checkpoints/lamsc/control.train.jsonl
