#pragma once
// RunStore: the workbench's SQLite file (DESIGN.md §4, docs/workbench.md). Nodes, runs and their
// configs, metric points, events; idempotent ingestion of metrics.jsonl by byte offset;
// downsampled series; CSV export.
//
// One RunStore is one connection and belongs to the thread that created it (Qt SQL's rule):
// every method must be called on that thread. StoreService (store_service.h) runs one on a worker
// thread for the GUI; the CLI uses one on its main thread.

#include "store/store_types.h"

#include <QByteArrayView>
#include <QIODevice>
#include <QString>
#include <QVariant>
#include <functional>
#include <limits>
#include <memory>

namespace bcd::store {

class RunStore {
public:
    // Opens (creating it and its folder when missing) and migrates the store; WAL, foreign keys,
    // busy timeout. Throws StoreError naming the file.
    explicit RunStore(const QString& path);
    ~RunStore();
    RunStore(const RunStore&) = delete;
    RunStore& operator=(const RunStore&) = delete;

    QString path() const;
    int schemaVersion();
    // Any thread, while the store is open: the statement running now stops with an error
    // (sqlite3_interrupt); a bounded shutdown uses it (StoreService).
    void interrupt();
    // The user_version the file had before this RunStore migrated it (0: a new file).
    int versionFoundOnOpen() const;
    // A PRAGMA's value on this connection (journal_mode, foreign_keys, busy_timeout, ...).
    QVariant pragma(const QString& name);

    // --- Nodes. "local" always exists. -------------------------------------------------------
    qint64 addNode(const NodeRecord& node); // throws StoreError when the name is taken
    std::optional<NodeRecord> node(const QString& name);
    QVector<NodeRecord> nodes();
    void setNodeProbe(const QString& name, const QJsonObject& probe);
    // Rewrites the settings of the node named node.name (runs that refer to it keep referring to
    // it). Keeps its id and creation time; keeps the last probe unless a connection field (host,
    // port, user, identity, known_hosts) changed, which clears it. "local" takes only the engine,
    // run root and price: its kind and host cannot change. Throws StoreError for an unknown node.
    void updateNode(const NodeRecord& node);
    // Refuses "local" and nodes that runs refer to.
    void removeNode(const QString& name);

    // --- Runs ----------------------------------------------------------------------------------
    qint64 createRun(const NewRun& run); // status "starting"
    std::optional<RunRecord> run(qint64 id);
    // The user's description of a run; throws StoreError for an unknown run or an empty name.
    void updateRunInfo(qint64 id, const QString& name, const QStringList& tags,
                       const QString& notes);
    QVector<RunRecord> runs();
    // Where the run lives on its node and which process (or batch job) runs it (re-attach needs
    // both).
    void setRunLocation(qint64 id, const QString& remoteDir, qint64 pid, const QString& jobId = {});
    // The scheduler's state of the run's job and its reason. A run that is not over follows it:
    // PENDING (and the other waiting states) makes it "queued", RUNNING "running"; its final
    // status is set by setRunStatus when the job is gone.
    void setRunJobState(qint64 id, const QString& jobState, const QString& reason);
    // Sets the status (and started/ended times); an empty message keeps the stored one.
    void setRunStatus(qint64 id, const QString& status, const QString& message = {});
    // Removes a run with its points and events; throws StoreError for an unknown run or one that
    // is not over (starting, queued, running: cancel it first). Its files are not touched.
    void deleteRun(qint64 id);
    // A change of the run's price from `fromElapsed` seconds of its elapsed time (run_prices;
    // docs/workbench.md "Cost"); a change at the same elapsed time replaces the earlier one.
    // Throws StoreError for an unknown run or a negative price. Callers apply node price changes
    // through store/node_price.h, which decides which runs they reach.
    void addRunPrice(qint64 runId, double fromElapsed, double pricePerHour);
    // The elapsed seconds of the run's newest stored step point; nullopt before its first step.
    std::optional<double> latestElapsed(qint64 runId);
    // Runs `work` in one write transaction (BEGIN IMMEDIATE): committed when it returns, rolled
    // back when it throws (the exception goes on).
    void transaction(const std::function<void()>& work);
    // A workbench event (launch, attach, cancel, error, ...): appended, never merged.
    void addEvent(qint64 runId, const QString& kind, const QJsonObject& data);

    // --- Ingestion (ingest.cpp) ----------------------------------------------------------------
    // Ingests bytes of the run's metrics.jsonl that start at byte `offset` of the file. Only
    // complete lines are consumed; a torn last line is left for the next call. Points are upserted
    // by (run, type, step) and engine events by (run, kind, step): the later record wins, so a
    // resumed run's repeated steps and a re-read file store each step once. The new offset is
    // written in the same transaction as the points. `offset` must equal the stored offset, or be
    // 0 (the file was replaced or got shorter: read again from its start); otherwise nothing is
    // written and the result says accepted = false with the stored offset.
    IngestResult ingest(qint64 runId, qint64 offset, QByteArrayView data);
    // Reads the file from the stored offset (from 0 when the file is now shorter) and ingests it.
    IngestResult ingestFile(qint64 runId, const QString& metricsPath);

    // --- Queries (series.cpp) ------------------------------------------------------------------
    static constexpr qint64 kLastStep = std::numeric_limits<qint64>::max() / 2;
    QVector<MetricPoint> points(qint64 runId, PointType type, qint64 fromStep = 0,
                                qint64 toStep = kLastStep);
    qint64 pointCount(qint64 runId, PointType type);
    // At most maxBuckets buckets over [fromStep, toStep], each with the minimum and maximum of the
    // column and the steps where they occur, so that spikes survive; exact (not sampled). Served
    // from the levels of detail, so that a query over a million points reads a few thousand rows.
    QVector<SeriesBucket> series(qint64 runId, MetricColumn column, qint64 fromStep, qint64 toStep,
                                 int maxBuckets);
    // Every value of one column at steps in (afterStep, toStep], in step order (points without
    // a value are left out): what exact smoothing over a whole run needs (ui/widgets/smoothing.h).
    ColumnValues column(qint64 runId, MetricColumn column, qint64 afterStep = -1,
                        qint64 toStep = kLastStep);
    QVector<EventRecord> events(qint64 runId);
    // The run's phase occurrences (evaluations, checkpoints, the final model) in the order they
    // happened; the last one is the phase in progress when it has not ended.
    QVector<PhaseRecord> phases(qint64 runId);
    // The engine's start record of the run (the latest stored), empty when none was read.
    QJsonObject startRecord(qint64 runId);

    // --- CSV ----------------------------------------------------------------------------------
    // Header: type,step,tokens,elapsed,loss,lr,block,grad_norm,tok_s,mem,val_loss,comm_bytes,
    // cpu_pct,rss,gpu_util,gpu_mem,gpu_power,gpu_temp;
    // ordered by step, then type; empty cells for missing values.
    void writeCsv(qint64 runId, QIODevice& out);
    void exportCsv(qint64 runId, const QString& file); // atomically (QSaveFile)

    // Rebuilds every level of detail from the points (used by the 1 → 2 migration).
    void rebuildLod();

    struct Impl;

private:
    std::unique_ptr<Impl> d_;
};

} // namespace bcd::store
