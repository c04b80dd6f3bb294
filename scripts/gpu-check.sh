#!/usr/bin/env bash
# The prepared GPU check (issue 13 point 8, docs/cuda-backend.md): on one GPU, in about eight
# minutes, runs the GPU tests (ctest label gpu: every kernel and the whole model against the CPU
# reference, a 100-step BCD run against the CPU's, compute-sanitizer memcheck), then benchmarks a
# ~1B-parameter Llama (16 layers x 2048 hidden, seq 2048) — bcd-train in BCD and full mode,
# PyTorch full AdamW (amp and pure bf16) and BAdam on the same shape and batch — and writes
# OUT/report.md and OUT/report.json (plus the logs).
#
#   scripts/gpu-check.sh OUT                 uses .gpu/bundle.tar.xz (scripts/gpu-bundle.sh)
#                                            when present, else builds build-gpu here
#   BCD_GPU_BUILD_DIR=build scripts/gpu-check.sh OUT    an existing CUDA build folder
#   BCD_GPU_CHECK_QUICK=1 scripts/gpu-check.sh OUT    a small shape (a smoke run)
#   BCD_GPU_CHECK_REHEARSAL=1 scripts/gpu-check.sh OUT
#        the whole script without a GPU: the tests report themselves skipped, the engine's
#        benchmark runs on the CPU in fp32 on the small shape, the PyTorch peers are skipped
#
# Without a GPU it stops at once, says why, and exits with 77.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/gpu-check.sh OUT_DIR}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
log="$out/gpu-check.log"
exec > >(tee -a "$log") 2>&1
started=$(date +%s)
say() { printf '[gpu-check %4ss] %s\n' "$(($(date +%s) - started))" "$*"; }

# --- the GPU ---------------------------------------------------------------------------------
rehearsal="${BCD_GPU_CHECK_REHEARSAL:-}"
device=cuda:0 precision=bf16
if [ -n "$rehearsal" ]; then
    say "rehearsal without a GPU: CPU fp32, small shape"
    device=cpu precision=fp32 BCD_GPU_CHECK_QUICK=1
    echo "none (rehearsal), 0 MiB, none" >"$out/gpu.txt"
elif ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    say "skipped: no GPU (nvidia-smi $(command -v nvidia-smi >/dev/null && echo 'sees no GPU' || echo 'is not installed'))"
    exit 77
fi
[ -n "$rehearsal" ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
gpu_name=$(head -1 "$out/gpu.txt" | cut -d, -f1)

# --- the engine: a prepared bundle, or a build here ---------------------------------------------
cuda_lib=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -d "$d" ] && cuda_lib="$cuda_lib:$d"
done
# PyTorch's wheels carry cuBLAS/cuDNN/NCCL for CUDA 13 too; they serve when the toolkit lacks one.
pylibs=$(python3 -c 'import nvidia, os; r = os.path.dirname(nvidia.__path__[0]) + "/nvidia"; print(":".join(os.path.join(r, d, "lib") for d in sorted(os.listdir(r)) if os.path.isdir(os.path.join(r, d, "lib"))))' 2>/dev/null || true)
if [ -n "${BCD_GPU_BUILD_DIR:-}" ]; then
    b="$BCD_GPU_BUILD_DIR"
    bin=$(mktemp -d) tests=""
    cp "$b/engine/bcd-train" "$b/engine/libbcd_backend_cuda.so" "$b/bench/bench_train_device" \
        bench/gpu/torch_peer.py "$bin/"
    gpu_build="$b"
    export LD_LIBRARY_PATH="${cuda_lib#:}${pylibs:+:$pylibs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "engine from $b"
elif [ -f .gpu/bundle.tar.xz ]; then
    root=$(mktemp -d)
    tar -C "$root" -xJf .gpu/bundle.tar.xz
    bin="$root/bcd/bin" tests="$root/bcd/tests"
    export LD_LIBRARY_PATH="$root/bcd/lib$cuda_lib${pylibs:+:$pylibs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "engine from the bundle built at commit $(cat "$root/bcd/COMMIT")"
else
    say "no .gpu/bundle.tar.xz: building build-gpu here (needs the project's build dependencies)"
    cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DBCD_WITH_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES=native -DBCD_BUILD_GUI=OFF -DBCD_BUILD_FUZZERS=OFF >/dev/null &&
        cmake --build build-gpu --parallel "$(nproc)" || { say "build failed"; exit 1; }
    bin=build-gpu/engine tests="" gpu_build=build-gpu
    cp build-gpu/bench/bench_train_device build-gpu/engine/ 2>/dev/null
    cp bench/gpu/torch_peer.py build-gpu/engine/
    export LD_LIBRARY_PATH="${cuda_lib#:}${pylibs:+:$pylibs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
export BCD_CUDA_BACKEND="$bin/libbcd_backend_cuda.so"
"$bin/bcd-train" devices | tee "$out/devices.txt"

# --- the GPU tests ----------------------------------------------------------------------------
results="$out/tests.tsv"
: >"$results"
run_test() { # NAME COMMAND...
    local name=$1
    shift
    local t0=$SECONDS
    timeout 240 "$@" >"$out/test-$name.log" 2>&1
    local rc=$?
    local state=passed
    if [ $rc -ne 0 ]; then state=failed; elif grep -q '^SKIP' "$out/test-$name.log"; then state=skipped; fi
    printf '%s\t%s\t%s\n' "$name" "$state" "$((SECONDS - t0))" | tee -a "$results"
}
say "GPU tests"
if [ -n "$tests" ]; then
    while IFS=$'\t' read -r name cmd; do
        eval "set -- $cmd"
        exe=$1
        shift
        if [ "$exe" = "compute-sanitizer" ]; then
            command -v compute-sanitizer >/dev/null || { printf '%s\tskipped\t0\n' "$name" >>"$results"; continue; }
            (cd "$tests" && run_test "$name" compute-sanitizer "$@")
        else
            (cd "$tests" && run_test "$name" "./$exe" "$@")
        fi
    done <"$tests/list.tsv"
    # compute-sanitizer is part of the GPU machine's toolkit, not of the one the bundle was built
    # with: the memcheck run is added here when the bundle's tests did not register it.
    if ! grep -q memcheck "$tests/list.tsv" && command -v compute-sanitizer >/dev/null; then
        (cd "$tests" && run_test tst_cuda_backend_memcheck compute-sanitizer --tool memcheck \
            --error-exitcode 1 ./tst_cuda_backend state_round_trip_and_memory)
    fi
else
    if ! ctest --test-dir "$gpu_build" -L gpu --output-on-failure --timeout 240 >"$out/test-ctest.log" 2>&1; then
        echo "ctest-gpu	failed	0"
    elif grep -q '(Skipped)' "$out/test-ctest.log"; then
        echo "ctest-gpu	skipped	0"
    else
        echo "ctest-gpu	passed	0"
    fi >>"$results"
fi
cat "$results"

# --- the benchmark ----------------------------------------------------------------------------
if [ -n "$rehearsal" ]; then
    shape=(--layers 2 --hidden 256 --heads 4 --kv-heads 4 --ffn 688 --vocab 4096 --seq 128 --batch 2)
elif [ -n "${BCD_GPU_CHECK_QUICK:-}" ]; then
    shape=(--layers 4 --hidden 512 --heads 8 --kv-heads 8 --ffn 1376 --vocab 32000 --seq 512 --batch 4)
else
    shape=(--layers 16 --hidden 2048 --heads 16 --kv-heads 16 --ffn 5632 --vocab 32000 --seq 2048 --batch 4)
fi
bench="$out/bench.jsonl"
: >"$bench"
say "bench: bcd-train bcd and full (${shape[*]})"
for mode in bcd full; do
    timeout 200 "$bin/bench_train_device" --device "$device" --precision "$precision" --mode "$mode" \
        "${shape[@]}" --steps-per-block 2 --warmup 2 >>"$bench" 2>"$out/bench-$mode.err" ||
        echo "{\"engine\": \"bcd-train\", \"mode\": \"$mode\", \"error\": \"exit $? (bench-$mode.err)\"}" >>"$bench"
done
peak=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j.get("peak_flops"): print(j["peak_flops"] / 1e12); break
else: print(0)' "$bench")
modes=torch-amp,torch-bf16
if ls .gpu/badam-*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/bcd-badam .gpu/badam-*.whl &&
        export PYTHONPATH="/tmp/bcd-badam${PYTHONPATH:+:$PYTHONPATH}" && modes="$modes,badam"
fi
layers=$(printf '%s\n' "${shape[@]}" | sed -n '2p')
say "bench: PyTorch peers ($modes)"
timeout 300 python3 "$bin/torch_peer.py" --modes "$modes" "${shape[@]}" \
    --steps $((2 * (layers + 2))) --steps-per-block 2 --warmup 2 --peak-tflops "$peak" \
    >>"$bench" 2>"$out/bench-torch.err"
rc=$?
if [ $rc -eq 77 ]; then
    say "PyTorch peers skipped: $(tail -1 "$out/bench-torch.err")"
elif [ $rc -ne 0 ]; then
    echo "{\"engine\": \"torch\", \"error\": \"exit $rc (bench-torch.err)\"}" >>"$bench"
fi

# --- the report -------------------------------------------------------------------------------
python3 - "$out" "$gpu_name" <<'EOF'
import json, sys, pathlib
out, gpu = pathlib.Path(sys.argv[1]), sys.argv[2]
tests = [l.split("\t") for l in (out / "tests.tsv").read_text().splitlines() if l.strip()]
runs = [json.loads(l) for l in (out / "bench.jsonl").read_text().splitlines() if l.strip()]
def find(engine, mode=None):
    for r in runs:
        if r.get("engine") == engine and (mode is None or r.get("mode") == mode) and "error" not in r:
            return r
bcd, full = find("bcd-train", "bcd"), find("bcd-train", "full")
amp, bf16, badam = find("torch-amp"), find("torch-bf16"), find("badam")
ratios = {}
def ratio(name, a, b):
    if a and b: ratios[name] = a["tokens_per_s"] / b["tokens_per_s"]
ratio("bcd_over_badam", bcd, badam)
ratio("bcd_over_torch_amp_full", bcd, amp)
ratio("bcd_over_torch_bf16_full", bcd, bf16)
ratio("full_over_torch_amp_full", full, amp)
ratio("bcd_over_full", bcd, full)
report = {"gpu": gpu, "tests": [{"name": n, "state": s, "seconds": int(t)} for n, s, t in tests],
          "runs": runs, "ratios": ratios}
(out / "report.json").write_text(json.dumps(report, indent=2))
md = [f"# GPU check on {gpu}", "", "## Tests", "", "| test | result | s |", "|---|---|---|"]
md += [f"| {n} | {s} | {t} |" for n, s, t in tests]
md += ["", "## Throughput (same shape and batch, one GPU)", "",
       "| engine | mode | tokens/s | step s | MFU executed | MFU 6N | memory GiB | planner GiB |",
       "|---|---|---|---|---|---|---|---|"]
for r in runs:
    if "error" in r:
        md.append(f"| {r.get('engine')} | {r.get('mode', '')} | error: {r['error']} | | | | | |")
        continue
    mem = (r.get("device_memory_used_bytes") or r.get("max_memory_allocated_bytes")
           or r.get("backend_memory_bytes") or 0)
    plan = r.get("planner_memory_bytes")
    md.append(f"| {r['engine']} | {r.get('mode', '')} | {r['tokens_per_s']:.0f} | {r['step_s']:.3f} | "
              f"{r.get('mfu_executed', 0):.1%} | {r.get('mfu_6n', 0):.1%} | {mem / 2**30:.2f} | "
              f"{'' if plan is None else f'{plan / 2**30:.2f}'} |")
md += ["", "## Ratios", ""] + [f"- {k}: {v:.2f}" for k, v in ratios.items()]
(out / "report.md").write_text("\n".join(md) + "\n")
print("\n".join(md))
EOF
failed=$(awk -F'\t' '$2 == "failed"' "$results" | wc -l)
say "done: $failed failed test(s); report in $out/report.md"
[ "$failed" -eq 0 ]
