#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs the headless demo on the bundled
# sample model and corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh -DBCD_BUILD_TESTS=OFF -DBCD_BUILD_BENCH=OFF

bin=build/engine/bcd-train
out=out/demo
rm -rf "$out"
mkdir -p "$out"
echo "== bcd-train init: a random 'small' Llama model (6 layers, byte vocabulary)"
"$bin" init --preset small --out "$out/model" --seed 1
echo "== bcd-train inspect"
"$bin" inspect --model "$out/model" | head -16
echo "== bcd-train eval on the held-out sample text (an untrained model: loss near ln 256 = 5.55)"
"$bin" eval --model "$out/model" --data resources/sample/shakespeare-val.txt --seq-len 128
