#!/usr/bin/env bash
# Checks that every C++ and CUDA source is formatted by the repository's .clang-format
# (ctest's format_check). Prints the files that are not; `clang-format -i FILE` fixes them.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
    echo "format_check: clang-format is not installed (scripts/install-deps.sh --tests installs it)"
    exit 1
fi
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh')
else
    mapfile -t files < <(find engine app ui plugins tests bench \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) -print)
fi
bad=()
for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ "${#bad[@]}" -ne 0 ]; then
    echo "format_check: ${#bad[@]} file(s) differ from .clang-format (fix with clang-format -i):"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
echo "format_check: ${#files[@]} files formatted"
