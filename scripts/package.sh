#!/usr/bin/env bash
# Builds the Debian packages into build-pkg/: bcd-train_<v>_<arch>.deb (the engine alone) and
# bcd-workbench_<v>_<arch>.deb (GUI, CLI, plugins, sample corpus, desktop integration).
# A Release build of its own, without tests, benchmarks or -march=native; CPU-only unless
# -DBCD_WITH_CUDA=ON is passed (docs/packaging.md). Needs dpkg-dev (scripts/install-deps.sh).
#   scripts/package.sh [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build-pkg
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBCD_WITH_CUDA=OFF -DBCD_NATIVE=OFF \
    -DBCD_BUILD_TESTS=OFF -DBCD_BUILD_BENCH=OFF -DBCD_BUILD_FUZZERS=OFF "$@"
cmake --build "$dir" --parallel "$(nproc)"
rm -f "$dir"/*.deb
(cd "$dir" && cpack -G DEB)
echo
for deb in "$dir"/*.deb; do
    printf '%s  %s\n' "$(du -h "$deb" | cut -f1)" "$deb"
done
