#!/usr/bin/env bash
# Builds what scripts/gpu-check.sh runs on a GPU machine that has the CUDA toolkit but none of
# Debian's -dev packages (the project's lent H200): a CUDA build for one architecture (default
# sm_90, Hopper) of bcd-train, libbcd_backend_cuda.so, the GPU tests and the device benchmark,
# with every shared library they need that such a machine may lack (ldd; glibc, the NVIDIA driver
# and the CUDA toolkit's own libraries stay behind), packed into .gpu/bundle.tar.xz (< 40 MB).
# Also fetches the BAdam wheel (PyPI) into .gpu/ for the peer benchmark.
#   scripts/gpu-bundle.sh [ARCH]          e.g. 90-real (default), 80-real, 89-real
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:-90-real}"
build=build-gpu
out=.gpu
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBCD_WITH_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" -DBCD_BUILD_GUI=OFF -DBCD_BUILD_TESTS=ON \
    -DBCD_BUILD_BENCH=ON -DBCD_BUILD_FUZZERS=OFF -DBCD_NATIVE=OFF >/dev/null
# The GPU tests are the ctest tests labelled gpu; their executables are the first word of each
# test's command.
mapfile -t gpu_tests < <(ctest --test-dir "$build" -N -L gpu --show-only=json-v1 |
    python3 -c 'import json,sys,os; [print(t["command"][0]) for t in json.load(sys.stdin)["tests"] if t["command"][0].startswith(os.path.abspath(sys.argv[1]))]' "$build" |
    sort -u)
targets=(bcd-train bcd_backend_cuda bcd_dist_nccl bench_train_device)
for t in "${gpu_tests[@]}"; do targets+=("$(basename "$t")"); done
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bcd/bin" "$stage/bcd/lib" "$stage/bcd/tests"
cp "$build/engine/bcd-train" "$build/engine/libbcd_backend_cuda.so" "$build/bench/bench_train_device" \
    "$stage/bcd/bin/"
for t in "${gpu_tests[@]}"; do cp "$t" "$stage/bcd/tests/"; done
# The NCCL communicator library (docs/data-parallel.md), found beside bcd-train and the tests.
cp "$build/engine/libbcd_dist_nccl.so" "$stage/bcd/bin/"
cp "$build/engine/libbcd_dist_nccl.so" "$stage/bcd/tests/"
# The tests' command lines (arguments included), for gpu-check.sh to run without ctest files.
# Paths inside the build folder become the bundle's own (./NAME, run from its tests folder).
ctest --test-dir "$build" -N -L gpu --show-only=json-v1 | python3 -c '
import json, os, shlex, sys
build = os.path.abspath(sys.argv[1])
def local(c, first):
    if c.startswith(build): return os.path.basename(c) if first else "./" + os.path.basename(c)
    return os.path.basename(c) if first else c
for t in json.load(sys.stdin)["tests"]:
    cmd = t["command"]
    print(t["name"] + "\t" + " ".join(shlex.quote(local(c, i == 0)) for i, c in enumerate(cmd)))
' "$build" >"$stage/bcd/tests/list.tsv"

# Shared libraries beside glibc, the driver and the CUDA toolkit's.
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|libpthread\.|librt\.|libmvec\.|libcuda\.|libcudart|libcublas|libcudnn|libnccl|libnvrtc|libnvJitLink)'
for f in "$stage"/bcd/bin/* "$stage"/bcd/tests/*; do
    [ -x "$f" ] || continue
    ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
    if [[ ! "$name" =~ $skip ]]; then cp -L "$path" "$stage/bcd/lib/$name"; fi
done
strip --strip-unneeded "$stage"/bcd/bin/* "$stage"/bcd/tests/* "$stage"/bcd/lib/* 2>/dev/null || true
cp bench/gpu/torch_peer.py "$stage/bcd/bin/"
git rev-parse HEAD >"$stage/bcd/COMMIT" 2>/dev/null || echo unknown >"$stage/bcd/COMMIT"

mkdir -p "$out"
tar -C "$stage" -cJf "$out/bundle.tar.xz" bcd
rm -f "$out"/badam-*.whl
python3 -m pip download -q --no-deps --only-binary=:all: -d "$out" "badam==1.4" ||
    echo "gpu-bundle: could not fetch the BAdam wheel from PyPI; gpu-check.sh will skip BAdam"
du -h "$out"/*
