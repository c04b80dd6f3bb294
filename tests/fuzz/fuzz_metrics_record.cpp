// libFuzzer target for the metrics.jsonl line parser of the workbench's run store
// (app/store/metrics_record.cpp): it reads lines that a remote engine, a disk or a network wrote.
// Any line must either give a record that keeps the parser's promises or be refused with a reason.

#include "store/metrics_record.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace bcd::store;
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    std::string error;
    const auto r = parseMetricsRecord(line, &error);
    if (!r) {
        if (error.empty()) __builtin_trap(); // a refusal names its reason
        return 0;
    }
    // One JSON object: '{' first and '}' last, whitespace aside.
    const auto first = line.find_first_not_of(" \t\r\n");
    const auto last = line.find_last_not_of(" \t\r\n");
    if (first == std::string_view::npos || line[first] != '{' || line[last] != '}')
        __builtin_trap();
    if (r->type.empty() && r->kind != RecordKind::Other) __builtin_trap();
    if ((r->kind == RecordKind::Step || r->kind == RecordKind::Eval) && !r->step) __builtin_trap();
    if (r->step && *r->step < 0) __builtin_trap();
    for (const auto& v : r->values)
        if (v && !std::isfinite(*v)) __builtin_trap();
    // A phase record names its phase and step; counts are non-negative, seconds finite.
    if (r->kind == RecordKind::Phase && (r->phase.empty() || !r->step)) __builtin_trap();
    for (const auto& n : {r->done, r->total, r->bytes})
        if (n && *n < 0) __builtin_trap();
    if (r->phaseSeconds && !std::isfinite(*r->phaseSeconds)) __builtin_trap();
    // Deterministic, and blind to surrounding whitespace.
    const std::string padded = " \t" + std::string(line) + "\r\n ";
    const auto again = parseMetricsRecord(padded, nullptr);
    if (!again || again->type != r->type || again->step != r->step || again->values != r->values ||
        again->status != r->status || again->phase != r->phase || again->state != r->state ||
        again->done != r->done || again->total != r->total || again->bytes != r->bytes ||
        again->phaseSeconds != r->phaseSeconds)
        __builtin_trap();
    return 0;
}
