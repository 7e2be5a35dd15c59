#!/bin/bash
# Trains every shipped split-inference codec one after the other (the machine has 2 cores: never two at once)
# and exports each final checkpoint into the package. Each run resumes from runs/splitnn/<variant>/last.pt.
set -euo pipefail
cd "$(dirname "$0")/.."
for v in semanticnn-c8b3 semanticnn-c8b3-snr analog-c24 deepcod-c8b3 adjscc-c24 semanticnn-c4b2; do
  .venv/bin/semcom train splitnn --variant "$v" --out "runs/splitnn/$v" --threads "${THREADS:-1}" \
    --cache runs/cifar_train.npz --export "src/semcom/checkpoints/splitnn/$v.pt"
  cp "runs/splitnn/$v/train.jsonl" "src/semcom/checkpoints/splitnn/$v.train.jsonl"
done
# link-adaptive codecs: trained from -6 dB up to an error-free link (20 dB), 6000 task-loss steps
for v in semanticnn-c8b3-la semanticnn-c12b3-la; do
  .venv/bin/semcom train splitnn --variant "$v" --out "runs/splitnn/$v" --threads "${THREADS:-1}" --snr-range=-6,20 \
    --stage2-steps 6000 --cache runs/cifar_train.npz --export "src/semcom/checkpoints/splitnn/$v.pt"
  cp "runs/splitnn/$v/train.jsonl" "src/semcom/checkpoints/splitnn/$v.train.jsonl"
done
# EfficientNet-Lite0 (ImageNet) split after block2, on 4000 scaled 224 px crops (half training photos, a quarter
# CamVid frames, a quarter upsampled CIFAR-10) labelled by the uncompressed model (no ImageNet labels here),
# distilled at T=1 plus feature MSE; 300 crops of 4 held-out photos for validation
train_effnet() {  # variant stage1-steps stage2-steps eval-every
  .venv/bin/semcom train splitnn --variant "$1" --out "runs/splitnn/$1" --threads "${THREADS:-2}" --snr-range=-6,20 \
    --batch 16 --stage1-steps "$2" --stage2-steps "$3" --eval-every "$4" --val-count 300 \
    --export "src/semcom/checkpoints/splitnn/$1.pt"
  cp "runs/splitnn/$1/train.jsonl" "src/semcom/checkpoints/splitnn/$1.train.jsonl"
}
train_effnet effnet-block2-c8b3-la 500 2500 500
train_effnet effnet-block2-c24b3-la 300 1500 600
