#!/usr/bin/env bash
# The test command: installs what the tests need, builds, runs every test with ctest.
# .ci/run calls this script. Exit status is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --tests

# HF transformers is the outside proof of tensor names and the RoPE convention. It comes from
# PyPI; where PyPI is unreachable the test that needs it reports itself skipped.
if [ ! -x .venv-oracle/bin/python ] ||
    ! .venv-oracle/bin/python -c "import transformers, sentencepiece, jinja2" 2>/dev/null; then
    rm -rf .venv-oracle
    if /usr/bin/python3 -m venv --system-site-packages .venv-oracle &&
        timeout 600 .venv-oracle/bin/pip install -q --disable-pip-version-check \
            "transformers==4.46.3" "safetensors" "tokenizers" "sentencepiece" "protobuf" "jinja2>=3.1"; then
        echo "test.sh: transformers installed in .venv-oracle"
    else
        echo "test.sh: could not install transformers from PyPI; its oracle test will be skipped"
        rm -rf .venv-oracle
    fi
fi

scripts/build.sh -DBCD_BUILD_TESTS=ON

# The fuzz targets under libFuzzer (clang), each for a bounded time from its committed seed corpus
# (a minute in all). The GCC build above replays the corpora on every ctest run.
if command -v clang++ >/dev/null; then
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang \
        -DCMAKE_CXX_COMPILER=clang++ -DBCD_BUILD_BENCH=OFF -DBCD_WITH_CUDA=OFF -DBCD_FUZZ_SECONDS=12
    cmake --build build-fuzz --parallel "$(nproc)" --target fuzzers
    ctest --test-dir build-fuzz -L fuzz --output-on-failure
fi

# The Debian packages (a build of their own, without tests), installed and run as a user meets
# them: dependencies resolve, the installed programs run a first training (docs/packaging.md).
scripts/package.sh
packaging/install-test.sh build-pkg

# Last, so that the run ends with its summary: every test of the project.
ctest --test-dir build --output-on-failure --timeout 1800 -j 2
