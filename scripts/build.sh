#!/usr/bin/env bash
# Configures and builds into build/ (Release, Ninja, ccache when present).
#   scripts/build.sh [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."

cuda_args=()
# CI and a plain checkout build CUDA code for a short list of architectures only; a packager or
# a GPU user sets CMAKE_CUDA_ARCHITECTURES to what they run.
if [ -n "${CI:-}" ]; then cuda_args+=(-DCMAKE_CUDA_ARCHITECTURES="80;89"); fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_args[@]}" "$@"
cmake --build build --parallel "$(nproc)"
