#!/bin/bash
# Trains the offline client and server ViTs for attention-aware collaborative inference, one after the other
# (2 cores: never two trainings at once), distilled from the CIFAR-10 ResNet-56 of the shared data folder, and
# exports slim float16 copies into the package. Each run resumes from runs/vit/<role>/last.pt.
#   client: dim 96, depth 4 (0.46 M parameters), all 64 patches of 4x4 px
#   server: dim 192, depth 6 (2.7 M parameters), random token subsets of >= 8 patches so it answers from what is sent;
#   then a warm restart of each: the client for 3000 steps from its export; the server for 8000 steps on
#   (half the time) the 2nd client's most-attended patches (rollout) and (30 % of the time) patches received
#   over the analog patch JSCC at 0-15 dB; then a second 3000-step warm restart of the client; about 3.9
#   wall-hours on 2 cores in all
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p src/semcom/checkpoints/attention_ci
.venv/bin/semcom train vit --preset client --out runs/vit/client --steps "${CLIENT_STEPS:-2500}" --eval-every 500 --batch 128 \
  --cache runs/cifar_train.npz --threads "${THREADS:-2}" --export src/semcom/checkpoints/attention_ci/vit-client.pt
cp runs/vit/client/train.jsonl src/semcom/checkpoints/attention_ci/vit-client.train.jsonl
# server: 4000 steps, then a warm restart (fresh optimizer, a second cosine cycle) of 2400 more steps
.venv/bin/semcom train vit --preset server --out runs/vit/server --steps "${SERVER_STEPS:-4000}" --batch 128 --min-keep 8 \
  --cache runs/cifar_train.npz --threads "${THREADS:-2}"
cp runs/vit/server/train.jsonl src/semcom/checkpoints/attention_ci/vit-server.train.jsonl
.venv/bin/semcom train vit --preset server --out runs/vit/server-2 --init-from runs/vit/server/last.pt \
  --steps "${SERVER_STEPS_2:-2400}" --batch 128 --min-keep 8 --cache runs/cifar_train.npz --threads "${THREADS:-2}" \
  --export src/semcom/checkpoints/attention_ci/vit-server.pt
cp runs/vit/server-2/train.jsonl src/semcom/checkpoints/attention_ci/vit-server.train-2.jsonl
.venv/bin/semcom train vit --preset client --out runs/vit/client-2 --init-from src/semcom/checkpoints/attention_ci/vit-client.pt \
  --steps "${CLIENT_STEPS_2:-3000}" --eval-every 500 --batch 128 --cache runs/cifar_train.npz --threads "${THREADS:-2}" \
  --export src/semcom/checkpoints/attention_ci/vit-client.pt
cp runs/vit/client-2/train.jsonl src/semcom/checkpoints/attention_ci/vit-client.train-2.jsonl
.venv/bin/semcom train vit --preset server --out runs/vit/server-3 --init-from runs/vit/server-2/last.pt \
  --steps "${SERVER_STEPS_3:-8000}" --lr 1e-3 --batch 128 --min-keep 8 --eval-every 500 --guide runs/vit/client-2/last.pt \
  --patch-jscc src/semcom/checkpoints/attention_ci/patch-jscc.pt --cache runs/cifar_train.npz --threads "${THREADS:-2}" \
  --export src/semcom/checkpoints/attention_ci/vit-server.pt
cp runs/vit/server-3/train.jsonl src/semcom/checkpoints/attention_ci/vit-server.train-3.jsonl
# a second warm restart of the client (after the server-3 run, which was guided by client-2's attention)
.venv/bin/semcom train vit --preset client --out runs/vit/client-3 --init-from runs/vit/client-2/last.pt \
  --steps "${CLIENT_STEPS_3:-3000}" --eval-every 500 --batch 128 --cache runs/cifar_train.npz --threads "${THREADS:-2}" \
  --export src/semcom/checkpoints/attention_ci/vit-client.pt
cp runs/vit/client-3/train.jsonl src/semcom/checkpoints/attention_ci/vit-client.train-3.jsonl
