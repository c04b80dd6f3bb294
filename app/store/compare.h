#pragma once
// Summaries of stored runs and the differences between their configs (`bcd-workbench compare`,
// the GUI's Compare page: its summary rows, compareRun).

#include "store/run_store.h"

#include <QJsonValue>

namespace bcd::store {

struct RunSummary {
    RunRecord run;
    qint64 steps = 0; // stored step points
    std::optional<qint64> lastStep;
    std::optional<double> tokens;    // at the last step
    std::optional<double> elapsed;   // seconds, at the last step
    std::optional<double> finalLoss; // at the last step
    std::optional<double> minLoss;
    std::optional<qint64> minLossStep;
    std::optional<double> finalValLoss;
    // Trained tokens per second of step time (evaluation and checkpoints left out), as the
    // engine's tok_s and the planner's tokens_per_s count them: the harmonic mean of the steps'.
    std::optional<double> meanTokS;
    std::optional<double> cost; // the run's price schedule over its elapsed time (costAt)
};

RunSummary summarize(RunStore& store, qint64 runId); // throws StoreError for an unknown run

// What the Compare page's summary table shows of one run.
struct RunComparison {
    RunSummary summary;
    std::optional<double> bestValLoss;
    std::optional<double> peakMem;       // bytes
    std::optional<double> usdPerMTokens; // cost / (tokens / 1e6)
    // Bytes all-reduced per step (the steps' comm_bytes), mean over the stored steps that have it;
    // 0 for one process, nullopt when no step has it (an engine before data parallelism).
    std::optional<double> meanCommBytes;
};
// Reads it on the store's thread; throws StoreError for an unknown run.
RunComparison compareRun(RunStore& store, qint64 runId);

// One config key (dotted path to a leaf) whose value differs between runs; values[i] is run i's
// (undefined when the key is absent there). output.dir differs by construction and is left out.
struct ConfigDifference {
    QString key;
    QVector<QJsonValue> values;
};
QVector<ConfigDifference> configDifferences(const QVector<QJsonObject>& configs);

// `config` with every key of `defaults` it lacks filled in (recursively): what the engine runs.
// Compared after this, a value written out equal to its default is no difference.
QJsonObject withDefaults(const QJsonObject& config, const QJsonObject& defaults);

// Leaves of a JSON object as dotted keys ("optim.lr"); arrays are leaves.
QVector<QPair<QString, QJsonValue>> flattenJson(const QJsonObject& o);

} // namespace bcd::store
