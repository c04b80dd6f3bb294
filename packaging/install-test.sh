#!/usr/bin/env bash
# Checks the Debian packages the way a user meets them (docs/packaging.md):
#   1. their metadata and sizes;
#   2. their dependencies resolve on this system (apt-get --simulate; with CI=true as root, a real
#      `apt-get install`, removed again at the end);
#   3. unpacked with `dpkg -x` into a throwaway root, the installed files alone: bcd-train --version,
#      bcd-workbench --version, and a headless first run — a tiny model from the installed
#      `bcd-train init`, the installed sample corpus, a short BCD run launched, followed and stored
#      by `bcd-workbench run launch` on node local with a temporary --db, `run show` -> finished;
#   4. the installed plugin folder is where the workbench looks, and a broken plugin there is
#      reported by name and skipped.
# Prints everything it does; exits non-zero on the first failure.
#   packaging/install-test.sh [PACKAGE_DIR]      default: build-pkg (scripts/package.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
pkgdir=${1:-build-pkg}
pkgdir=$(cd "$pkgdir" && pwd)

shopt -s nullglob
train_deb=("$pkgdir"/bcd-train_*.deb)
wb_deb=("$pkgdir"/bcd-workbench_*.deb)
if [ "${#train_deb[@]}" -ne 1 ] || [ "${#wb_deb[@]}" -ne 1 ]; then
    echo "install-test: expected one bcd-train_*.deb and one bcd-workbench_*.deb in $pkgdir (scripts/package.sh)" >&2
    exit 1
fi
debs=("${train_deb[0]}" "${wb_deb[0]}")

fail() { echo "install-test: FAILED: $*" >&2; exit 1; }
step() { echo; echo "== install-test: $*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bcd-install-test.XXXXXX")
installed_for_real=0
cleanup() {
    if [ "$installed_for_real" = 1 ]; then
        echo "== install-test: removing the installed packages"
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq bcd-workbench bcd-train >/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

step "packages"
for deb in "${debs[@]}"; do
    echo "-- $(basename "$deb"): $(du -h "$deb" | cut -f1) on disk"
    dpkg-deb -f "$deb" | sed 's/^/   /'
    echo "   files:"
    dpkg-deb -c "$deb" | awk '$6 !~ /\/$/ {printf "   %9d  %s\n", $3, $6}'
done
dpkg-deb -f "${wb_deb[0]}" Depends | grep -q 'bcd-train (= ' || fail "bcd-workbench does not depend on bcd-train (= version)"
if dpkg-deb -f "${train_deb[0]}" Depends | grep -q libqt6; then fail "bcd-train depends on Qt"; fi

step "dependencies resolve: apt-get install --simulate"
apt-get install --simulate "${debs[@]}" | grep -E '^(Inst|E:)|broken|unmet' || true
apt-get install --simulate "${debs[@]}" >/dev/null 2>"$tmp/apt.err" || { cat "$tmp/apt.err"; fail "the packages' dependencies do not resolve"; }
if [ "${CI:-}" = "true" ] && [ "$(id -u)" -eq 0 ] && [ "${BCD_INSTALL_TEST_REAL:-1}" = 1 ]; then
    step "CI as root: apt-get install for real (removed again at the end)"
    installed_for_real=1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}"
    dpkg -s bcd-train bcd-workbench | grep -E '^(Package|Status|Version):'
fi

step "unpack with dpkg -x into $tmp/root"
for deb in "${debs[@]}"; do dpkg -x "$deb" "$tmp/root"; done
(cd "$tmp/root" && find . -type f | sort)
du -sh "$tmp/root/usr"

# Only the installed files: nothing from the build tree or the environment.
unset BCD_TRAIN BCD_PLUGIN_PATH
export QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

# first_run PREFIX: the headless first five minutes with PREFIX/bin's programs.
first_run() {
    local prefix=$1 work
    local bin=$prefix/bin/bcd-train wb=$prefix/bin/bcd-workbench
    local sample=$prefix/share/bcd-workbench/sample
    work=$(mktemp -d "$tmp/run.XXXXXX")
    step "[$prefix] bcd-train --version; bcd-workbench --version"
    "$bin" --version
    "$wb" --version
    [ -f "$sample/shakespeare-train.txt" ] || fail "no sample corpus in $sample"

    step "[$prefix] bcd-train init --preset tiny"
    "$bin" init --preset tiny --out "$work/model" --seed 1
    cat > "$work/run.json" <<JSON
{
  "model":  {"path": "model"},
  "data":   {"train": "$sample/shakespeare-train.txt", "val": "$sample/shakespeare-val.txt", "seq_len": 64},
  "optim":  {"name": "adamw", "lr": 3e-3},
  "train":  {"steps": 30, "batch_size": 4, "seed": 1},
  "bcd":    {"mode": "bcd", "order": "ascending", "switch_every": 5},
  "output": {"dir": "unused", "log_every": 5, "eval_every": 15}
}
JSON
    local db=$work/store.sqlite
    step "[$prefix] bcd-workbench node probe local"
    "$wb" --db "$db" node probe local
    step "[$prefix] bcd-workbench run launch (30 steps of BCD on node local)"
    local id
    id=$("$wb" --db "$db" run launch --config "$work/run.json" --node local --name "install test" | tail -n 1)
    [[ "$id" =~ ^[0-9]+$ ]] || fail "run launch printed no run id (last line: '$id')"
    step "[$prefix] bcd-workbench run show $id"
    "$wb" --db "$db" run show "$id"
    "$wb" --db "$db" run show "$id" --json > "$work/show.json"
    grep -Eq '"status": *"finished"' "$work/show.json" || fail "run $id is not finished"
    grep -Eq '"last_step": *30[,}]?$' "$work/show.json" || fail "run $id: the last stored step is not 30"
    echo "run $id: finished, last stored step 30"
    ls "$work"/runs/"$id"-*/ >/dev/null || fail "no run folder $work/runs/$id-*"
}

first_run "$tmp/root/usr"

step "plugins: the installed folder is searched; a broken plugin is named and skipped"
plugins=$tmp/root/usr/lib/bcd-workbench/plugins
ls -l "$plugins"
probe_db=$tmp/plugins.sqlite
printf 'not a plugin\n' > "$plugins/libbcd_launcher_bogus.so"
"$tmp/root/usr/bin/bcd-workbench" --db "$probe_db" node probe local >/dev/null \
    || fail "node probe local failed with a stray file among the plugins"
echo "a stray libbcd_launcher_bogus.so is skipped; node local still works"
mv "$plugins/libbcd_launcher_local.so" "$tmp/local-plugin.so"
printf 'not a plugin\n' > "$plugins/libbcd_launcher_local.so"
set +e
msg=$("$tmp/root/usr/bin/bcd-workbench" --db "$probe_db" node probe local 2>&1)
rc=$?
set -e
echo "with a broken libbcd_launcher_local.so: exit $rc: $msg"
[ "$rc" -ne 0 ] || fail "node probe local succeeded without its plugin"
grep -q "searched: $plugins" <<<"$msg" || fail "the message does not name the installed plugin folder"
grep -q "libbcd_launcher_local.*skipped" <<<"$msg" || fail "the message does not name the broken plugin"
rm "$plugins/libbcd_launcher_local.so" "$plugins/libbcd_launcher_bogus.so"
mv "$tmp/local-plugin.so" "$plugins/libbcd_launcher_local.so"

if [ "$installed_for_real" = 1 ]; then
    first_run /usr
fi

step "passed: $(for d in "${debs[@]}"; do printf '%s (%s)  ' "$(basename "$d")" "$(du -h "$d" | cut -f1)"; done)"
