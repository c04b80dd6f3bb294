// libFuzzer target for the parser of nvidia-smi's CSV query output (app/nodes/nvidia_smi.cpp): it
// reads what another machine's driver printed over SSH. Input layout: the exit status in the first
// byte, then stdout and stderr split at the first NUL byte. Whatever comes, the parser must not
// crash, and what it returns must keep its promises.

#include "nodes/nvidia_smi.h"

#include <QByteArray>
#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace bcd::nodes;
    if (size == 0) return 0;
    const int status = data[0]; // 0 ok, 6 no devices, 9 no driver, 15 lost GPU, 127 not found, ...
    const char* text = reinterpret_cast<const char*>(data + 1);
    const std::size_t n = size - 1;
    const void* nul = std::memchr(text, 0, n);
    const std::size_t outLen =
        nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - text) : n;
    const QByteArray out(text, static_cast<qsizetype>(outLen));
    const QByteArray err =
        nul ? QByteArray(text + outLen + 1, static_cast<qsizetype>(n - outLen - 1)) : QByteArray();

    const NvidiaSmiResult r = parseNvidiaSmi(out, err, status);
    if (r.gpus.isEmpty() && r.note.isEmpty()) __builtin_trap(); // no GPU always says why
    for (const GpuInfo& g : r.gpus) {
        if (g.index < 0 || g.memoryMiB < 0 || g.name.isEmpty()) __builtin_trap();
        if (g.memoryUsedMiB && *g.memoryUsedMiB < 0) __builtin_trap();
        if (g.utilization && (*g.utilization < 0 || *g.utilization > 100)) __builtin_trap();
    }
    if (r.note.size() > 4096) __builtin_trap(); // notes quote at most the start of a line
    // Deterministic.
    const NvidiaSmiResult again = parseNvidiaSmi(out, err, status);
    if (again.gpus.size() != r.gpus.size() || again.note != r.note || again.driver != r.driver)
        __builtin_trap();
    return 0;
}
