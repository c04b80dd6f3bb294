#!/usr/bin/env bash
# The main job: installs what is needed, builds, runs a demo through the workbench — a short BCD
# training of the `small` preset on the bundled Shakespeare corpus, launched, followed and stored
# by `bcd-workbench`, then a sample of the trained model's text — and opens the workbench's window
# on that store (the run in Runs, Monitor, Compare).
#   scripts/demo.sh              with a display: the window opens at the end
#   scripts/demo.sh --headless   no window (also chosen when there is no display)
set -euo pipefail
headless=0
if [ "${1:-}" = "--headless" ] || { [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; }; then headless=1; fi
cd "$(dirname "$0")/.."

scripts/install-deps.sh
BCD_BUILD_TARGET=bcd-workbench scripts/build.sh   # also builds bcd-train, the plugins and the GUI

bin=build/engine/bcd-train
wb=build/bin/bcd-workbench
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
  "bcd":    {"mode": "bcd", "switch_every": 10},
  "output": {"dir": "unused: the workbench puts the run in its store's runs/ folder",
             "log_every": 10, "eval_every": 50, "eval_batches": 25}
}
JSON
echo
echo "== bcd-workbench: nodes of a fresh store (local is always one)"
db="$out/store.sqlite"
"$wb" --db "$db" node probe local
echo
echo "== bcd-workbench run launch: BCD, one layer per block, 10 steps each, followed live and stored"
id=$("$wb" --db "$db" run launch --config "$out/run.json" --node local --name "demo: small BCD" \
        --tag demo | tail -n 1)
echo
echo "== bcd-workbench run show $id"
"$wb" --db "$db" run show "$id"
"$wb" --db "$db" run export "$id" --csv "$out/metrics.csv"
echo "(metric points exported to $out/metrics.csv)"
run_dir=$(ls -d "$out/runs/$id"-*)   # local runs live in the store's folder: runs/<id>-<name>
echo
echo "== bcd-train sample from the trained model ($run_dir/final)"
"$bin" sample --model "$run_dir/final" --prompt $'ROMEO.\n' --max-new 300 --temperature 0.7 --seed 3

echo
if [ "$headless" = 1 ]; then
    echo "== done (headless). With a display, open the workbench on this store:"
    echo "   $wb --db $db"
else
    echo "== the workbench's window, on this store (close it to finish)"
    "$wb" --db "$db"
fi
