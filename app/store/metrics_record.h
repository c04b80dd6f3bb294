#pragma once
// One line of a run's metrics.jsonl (DESIGN.md §3), read by a strict, allocation-light JSON
// scanner: ingestion is the store's hot path (goal ≥ 200k records/s) and QJsonDocument alone costs
// more than the whole budget per line. The scanner accepts exactly RFC 8259 objects; what it
// extracts is checked against QJsonDocument in tests/app/store/tst_metrics_record.cpp.

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace bcd::store {

// The numeric columns of a metric point, in storage order.
// CommBytes: the bytes a step all-reduced (data-parallel runs; schema 4). CpuPct ... GpuTemp: the
// system figures of a step (schema 5, docs/training.md "System metrics"): process CPU in % of one
// core, resident bytes, GPU utilisation %, GPU memory used (bytes), power (W), temperature (°C).
enum class MetricColumn : int {
    Tokens,
    Elapsed,
    Loss,
    Lr,
    Block,
    GradNorm,
    TokS,
    Mem,
    ValLoss,
    CommBytes,
    CpuPct,
    Rss,
    GpuUtil,
    GpuMem,
    GpuPower,
    GpuTemp
};
inline constexpr int kMetricColumns = 16;

// Column name in the store, in CSV headers and in JSON output.
const char* columnName(MetricColumn c);
// The metrics.jsonl key a column is read from ("elapsed_s", "mem_bytes", ...).
const char* columnRecordKey(MetricColumn c);
std::optional<MetricColumn> columnFromName(std::string_view name);
// Whether the column holds integers (tokens, block, mem, comm_bytes, rss, gpu_mem).
bool columnIsInteger(MetricColumn c);

enum class RecordKind { Start, Step, Eval, Switch, Checkpoint, Resume, End, Phase, Other };

struct MetricsRecord {
    RecordKind kind = RecordKind::Other;
    std::string type;              // the "t" field as written
    std::optional<long long> step; // absent for "start"
    std::array<std::optional<double>, kMetricColumns> values{};
    std::string status; // "end" records: finished | failed | cancelled
    // "phase" records (DESIGN.md §3): eval | checkpoint | final, begin | progress | end, the
    // batches done of total (evaluation), the bytes written (checkpoint and final model, at the
    // end) and the seconds spent in the phase so far ("phase_s").
    std::string phase, state;
    std::optional<long long> done, total, bytes;
    std::optional<double> phaseSeconds;
};

// Parses one line (without its newline). Returns nullopt and sets *error when the line is not one
// JSON object, has no string "t", or a known field has the wrong type (step: a non-negative
// integer; metric fields: finite numbers or null; phase, state: strings; done, total, bytes:
// non-negative integers; phase_s: a number). A "phase" record needs "step" and "phase". Unknown
// fields and record types are skipped / kept as Other (forward compatible).
std::optional<MetricsRecord> parseMetricsRecord(std::string_view line, std::string* error);

} // namespace bcd::store
