#!/usr/bin/env bash
# The test command: installs what the tests need, builds, runs every test with ctest.
# .ci/run calls this script. Exit status is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --tests

# HF transformers is the outside proof of tensor names and the RoPE convention. It comes from
# PyPI; where PyPI is unreachable the test that needs it reports itself skipped.
if [ ! -x .venv-oracle/bin/python ] || ! .venv-oracle/bin/python -c "import transformers" 2>/dev/null; then
    rm -rf .venv-oracle
    if /usr/bin/python3 -m venv --system-site-packages .venv-oracle &&
        timeout 600 .venv-oracle/bin/pip install -q --disable-pip-version-check \
            "transformers==4.46.3" "safetensors" "tokenizers"; then
        echo "test.sh: transformers installed in .venv-oracle"
    else
        echo "test.sh: could not install transformers from PyPI; its oracle test will be skipped"
        rm -rf .venv-oracle
    fi
fi

scripts/build.sh -DBCD_BUILD_TESTS=ON
ctest --test-dir build --output-on-failure --timeout 1800 -j 2
