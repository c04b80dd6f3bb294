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
// CommBytes: the bytes a step all-reduced (data-parallel runs; schema 4).
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
    CommBytes
};
inline constexpr int kMetricColumns = 10;

// Column name in the store, in CSV headers and in JSON output.
const char* columnName(MetricColumn c);
// The metrics.jsonl key a column is read from ("elapsed_s", "mem_bytes", ...).
const char* columnRecordKey(MetricColumn c);
std::optional<MetricColumn> columnFromName(std::string_view name);
// Whether the column holds integers (tokens, block, mem, comm_bytes).
bool columnIsInteger(MetricColumn c);

enum class RecordKind { Start, Step, Eval, Switch, Checkpoint, Resume, End, Other };

struct MetricsRecord {
    RecordKind kind = RecordKind::Other;
    std::string type;              // the "t" field as written
    std::optional<long long> step; // absent for "start"
    std::array<std::optional<double>, kMetricColumns> values{};
    std::string status; // "end" records: finished | failed | cancelled
};

// Parses one line (without its newline). Returns nullopt and sets *error when the line is not one
// JSON object, has no string "t", or a known field has the wrong type (step: a non-negative
// integer; metric fields: finite numbers or null). Unknown fields are skipped (forward compatible).
std::optional<MetricsRecord> parseMetricsRecord(std::string_view line, std::string* error);

} // namespace bcd::store
