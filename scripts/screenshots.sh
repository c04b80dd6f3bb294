#!/usr/bin/env bash
# Screenshots of the workbench GUI for docs/images: a temporary store with real runs (the `tiny`
# preset on the bundled Shakespeare sample — one BCD, one full, one BCD with two layers per block,
# launched and followed by `bcd-workbench run launch`), then the GUI under Xvfb in its screenshot
# mode (BCD_SCREENSHOTS=DIR, ui/gui.cpp): Runs, New run with its plan view, Monitor of a run,
# Compare of two runs, Sample and Nodes, each grabbed at 1600×1000 into docs/images/<page>.png
# and at 1024×700 into docs/images/<page>-small.png.
#
#   scripts/screenshots.sh                      builds bcd-workbench into build/ first
#   BCD_BUILD_DIR=build-x scripts/screenshots.sh   uses an existing build tree as it is
#   BCD_SCREENSHOT_STORE=/tmp/shots scripts/screenshots.sh   keeps the store there; a second call
#                                               reuses its runs and only takes the pictures again
#   BCD_SCREENSHOT_STEPS=300 BCD_SCREENSHOT_PRESET=small scripts/screenshots.sh
#                                               other runs (small: ~0.1-0.5 s a step on a laptop CPU)
#   BCD_SCREENSHOT_PRICE=2.5 scripts/screenshots.sh   the runs' price per hour in USD (default 0.5),
#                                               so that Monitor's cost chart and Compare's $ columns
#                                               show values
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${BCD_BUILD_DIR:-}" ]; then
    build=$BCD_BUILD_DIR
else
    BCD_BUILD_TARGET=bcd-workbench scripts/build.sh >/dev/null   # also bcd-train and the plugins
    build=build
fi
wb=$build/bin/bcd-workbench
train=$build/engine/bcd-train
for f in "$wb" "$train"; do
    [ -x "$f" ] || { echo "screenshots: $f is missing (build it first)" >&2; exit 2; }
done
command -v xvfb-run >/dev/null || { echo "screenshots: xvfb-run is missing (apt-get install xvfb)" >&2; exit 2; }

steps=${BCD_SCREENSHOT_STEPS:-400}
preset=${BCD_SCREENSHOT_PRESET:-tiny}
price=${BCD_SCREENSHOT_PRICE:-0.5}
if [ -n "${BCD_SCREENSHOT_STORE:-}" ]; then
    mkdir -p "$BCD_SCREENSHOT_STORE"
    tmp=$(cd "$BCD_SCREENSHOT_STORE" && pwd)
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
fi
export XDG_CONFIG_HOME=$tmp/config   # the GUI's settings and the planner's user tables stay out of ~
db=$tmp/store/store.sqlite
sample=$PWD/resources/sample

if [ ! -f "$db" ]; then
echo "== presets in the store's models/ folder (where the New run page looks for them)"
for p in $(printf '%s\n' small "$preset" | sort -u); do
    "$train" init --preset "$p" --out "$tmp/store/models/$p" --seed 1 >/dev/null
done

# run_config MODE LAYERS_PER_BLOCK > file
run_config() {
    cat <<JSON
{
  "model":  {"path": "$tmp/store/models/$preset"},
  "data":   {"train": "$sample/shakespeare-train.txt", "val": "$sample/shakespeare-val.txt", "seq_len": 64},
  "optim":  {"name": "adamw", "lr": 3e-3, "schedule": "cosine", "warmup_steps": 10, "min_lr": 2e-4},
  "train":  {"steps": $steps, "batch_size": 8, "seed": 1},
  "bcd":    {"mode": "$1", "layers_per_block": $2, "switch_every": 10},
  "output": {"dir": "unused", "log_every": 2, "eval_every": 50}
}
JSON
}
launch() { # NAME MODE LAYERS TAG
    local config=$tmp/run-$((++runs)).json
    run_config "$2" "$3" >"$config"
    local t0=$SECONDS
    "$wb" --db "$db" run launch --config "$config" --node local --name "$1" --tag "$4" --tag screenshots \
        --price-per-hour "$price" | tail -n 1
    echo "   ($1: $((SECONDS - t0)) s)"
}
echo "== runs ($steps steps each)"
runs=0
launch "$preset BCD" bcd 1 bcd
launch "$preset full" full 1 baseline
launch "$preset BCD, 2 layers/block" bcd 2 bcd
fi

# The node's price too, so that the Nodes page shows it (the runs keep their own launch price).
"$wb" --db "$db" node price local "$price" >/dev/null

echo "== the GUI, page by page, at 1600×1000 (docs/images/<page>.png) and 1024×700 (<page>-small.png)"
mkdir -p docs/images
for size in 1600x1000: 1024x700:-small; do
    BCD_THEME=light BCD_SCREENSHOTS=$PWD/docs/images BCD_SCREENSHOT_SIZE=${size%%:*} \
        BCD_SCREENSHOT_SUFFIX=${size#*:} QT_QPA_PLATFORM=xcb \
        xvfb-run -a -s "-screen 0 1700x1100x24" timeout 180 "$wb" --db "$db"
done
ls -l docs/images/*.png
