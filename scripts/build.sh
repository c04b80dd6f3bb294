#!/usr/bin/env bash
# Configures and builds into build/ (Release, Ninja, ccache when present).
#   scripts/build.sh [extra cmake -D options...]
#   BCD_BUILD_TARGET=bcd-train scripts/build.sh      build one target only
set -euo pipefail
cd "$(dirname "$0")/.."

cuda_args=()
# CI builds CUDA code for a short list of architectures only; a GPU user sets
# CMAKE_CUDA_ARCHITECTURES to what they run.
if [ -n "${CI:-}" ]; then cuda_args+=(-DCMAKE_CUDA_ARCHITECTURES="80-real;89-real;90-real"); fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" "$@"
if [ -n "${BCD_BUILD_TARGET:-}" ]; then
    cmake --build build --parallel "$(nproc)" --target "$BCD_BUILD_TARGET"
else
    cmake --build build --parallel "$(nproc)"
fi
