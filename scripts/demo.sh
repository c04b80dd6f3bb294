#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs the headless demo — a short BCD
# training of the `small` preset on the bundled Shakespeare corpus, then a sample of its text.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
BCD_BUILD_TARGET=bcd-train scripts/build.sh

bin=build/engine/bcd-train
out=out/demo
rm -rf "$out"
mkdir -p "$out"

echo "== bcd-train init: a random 'small' Llama (6 layers, 9.6M parameters, byte vocabulary)"
"$bin" init --preset small --out "$out/model" --seed 1
"$bin" inspect --model "$out/model" | sed -n '1,15p'

# Paths in a run config are relative to the config's own folder.
cat > "$out/run.json" <<'JSON'
{
  "model":  {"path": "model"},
  "data":   {"train": "../../resources/sample/shakespeare-train.txt",
             "val":   "../../resources/sample/shakespeare-val.txt", "seq_len": 128},
  "optim":  {"name": "adamw", "lr": 2e-3, "schedule": "cosine", "warmup_steps": 10, "min_lr": 2e-4},
  "train":  {"steps": 150, "batch_size": 8, "seed": 1},
  "bcd":    {"mode": "bcd", "order": "ascending", "switch_every": 10},
  "output": {"dir": "run", "log_every": 10, "eval_every": 50}
}
JSON
echo
echo "== bcd-train train: BCD, one layer per block, 10 steps each (watch the loss fall)"
"$bin" train --config "$out/run.json"
echo
echo "== bcd-train sample from the trained model"
"$bin" sample --model "$out/run/final" --prompt $'ROMEO.\n' --max-new 300 --temperature 0.7 --seed 3
