#pragma once
// The records the run store holds (docs/workbench.md, "Store schema").

#include "nodes/node_record.h"
#include "store/metrics_record.h"
#include "store/price_schedule.h"
#include "store/run_status.h"

#include <QJsonObject>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>
#include <array>
#include <optional>
#include <stdexcept>

namespace bcd::store {

// A store that cannot be opened, migrated or written; the message names the file and the cause.
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Metric point types: the record type of the key (run, type, step).
enum class PointType : int { Step = 1, Eval = 2 };

// A node (nodes/node_record.h: the launcher SDK hands the same record to plugins).
using NodeRecord = nodes::NodeRecord;

struct NewRun {
    QString name;
    QStringList tags;
    QString notes;
    QJsonObject config;       // as launched (paths resolved)
    QString node;             // the first node's name
    QStringList hosts;        // every node of a multi-node run, in rank order; empty for one node
    int processesPerNode = 0; // as asked at launch; 0: the default (launch/remote_commands.h)
    std::optional<int> worldSize; // the ranks the launch starts
    std::optional<double> pricePerHour;
    // The price was the launch's own (--price-per-hour), not the node's: a later change of the
    // node's price passes the run by (store/node_price.h).
    bool ownPrice = false;
    std::optional<qint64> stepsTotal;
};

struct RunRecord {
    qint64 id = 0;
    QString name;
    QStringList tags;
    QString notes;
    QJsonObject config;
    QString status;
    QString message;
    QString node;
    QStringList hosts;
    int processesPerNode = 0;     // as asked at launch; 0: the default
    std::optional<int> worldSize; // ranks: set at launch, then by the engine's start record
    QString remoteDir;            // the run folder on the node (output.dir)
    qint64 pid = 0;               // the engine (or mpirun) process on the node; 0 unknown
    QString jobId;                // a Slurm run's batch job; empty for other runs
    QString jobState;             // the scheduler's last word on it: PENDING, RUNNING, TIMEOUT, ...
    QString jobReason;            // PENDING's reason (Priority, Resources, JobHeldUser, ...)
    qint64 metricsOffset = 0;
    std::optional<double> pricePerHour; // at launch: the first segment of `prices`
    PriceSchedule prices;               // the launch price, then each change (run_prices)
    bool ownPrice = false;              // launched with its own price: node changes pass it by
    double createdAt = 0;
    std::optional<double> startedAt;
    std::optional<double> endedAt;
    std::optional<qint64> lastStep;
    std::optional<qint64> stepsTotal;
};

struct MetricPoint {
    PointType type = PointType::Step;
    qint64 step = 0;
    std::array<std::optional<double>, kMetricColumns> values{};
    std::optional<double> value(MetricColumn c) const {
        return values[static_cast<std::size_t>(c)];
    }
};

// One bucket of a downsampled series: the extremes survive, with the steps where they occur.
struct SeriesBucket {
    qint64 firstStep = 0; // first and last step that has a point in the bucket
    qint64 lastStep = 0;
    qint64 count = 0; // points in the bucket (with or without a value of this column)
    bool hasValue = false;
    double min = 0;
    qint64 minStep = 0;
    double max = 0;
    qint64 maxStep = 0;
};

// One column's stored values with their steps (RunStore::column).
struct ColumnValues {
    QVector<double> steps, values;
};

struct EventRecord {
    qint64 id = 0;
    QString source; // "engine" (from metrics.jsonl) | "workbench"
    QString kind; // engine: the record type (start, switch, ckpt, resume, end, ...), or "malformed"
    std::optional<qint64> step;
    double time = 0;
    QJsonObject data; // engine: the record itself; workbench: what happened
};

// One occurrence of an engine phase (evaluation, checkpoint, final model) after a step, in its
// latest state (RunStore::phases; the engine's "phase" records, DESIGN.md §3).
struct PhaseRecord {
    QString phase; // eval | checkpoint | final (others as the engine wrote them)
    qint64 step = 0;
    QString state;                     // begin | progress | end
    std::optional<qint64> done, total; // batches (evaluation)
    std::optional<qint64> bytes;       // written (checkpoint, final model; at the end)
    double seconds = 0;                // in the phase so far; at the end, its length
    std::optional<double> elapsed;     // the run's elapsed seconds at the record
    double updatedAt = 0;              // when the store took the record
    bool ended() const { return state == QLatin1String("end"); }
};

struct IngestResult {
    bool accepted = true; // false: the offset did not match the stored one (nothing written)
    qint64 offset = 0;    // the stored offset after this call: bytes of the file consumed
    qint64 points = 0;    // metric points written (inserted or replaced)
    qint64 events = 0;
    qint64 malformed = 0; // complete lines that were not valid records (kept as events)
    qint64 phases = 0;    // phase records applied (run_phases)
    std::optional<qint64> lastStep;
    QString status; // the run's status when a record changed it, else empty
};

} // namespace bcd::store

Q_DECLARE_METATYPE(bcd::store::IngestResult)
Q_DECLARE_METATYPE(bcd::store::RunRecord)
