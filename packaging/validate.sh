#!/bin/sh
# validate.sh TOOL DEBIAN_PACKAGE ARGS...: runs TOOL ARGS; exit 77 (ctest: skipped) with the reason
# when TOOL is not installed.
tool=$1 pkg=$2
shift 2
if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIPPED: $tool is not installed (apt-get install $pkg; scripts/install-deps.sh --tests)"
    exit 77
fi
echo "$tool $*"
exec "$tool" "$@"
