#pragma once
// Sampling runs' checkpoints wherever the runs are (docs/workbench.md, "Sampling"): the launcher
// session of the run's node lists a run's checkpoints and runs `bcd-train sample` on one of them
// (LauncherSession::listCheckpoints and sample, interface 2.3), on NodeWorkers of the sampler's
// own, answered with signals. One worker lists, one samples (a long generation does not hold up
// a listing); each keeps one session per node open, and requests queue on it, so the two columns
// of the Sample page run one after the other: a node holds one sampled model in memory at a
// time (two 7B checkpoints at once would not fit a 24 GB GPU). Stops are flags the plugin reads
// between reads of the engine's output: nothing waits on the caller's thread.

#include "launch/node_worker.h"

#include <QHash>
#include <QMutex>
#include <QObject>
#include <QStringList>
#include <atomic>
#include <memory>

namespace bcd::launch {

class RunSampler : public QObject {
    Q_OBJECT
public:
    RunSampler(const PluginRegistry& plugins, const LauncherContext& ctx,
               QObject* parent = nullptr);
    // Stops every request; the workers then end (NodeWorker's bounded wait: a stopped sample
    // ends within its SSH timeouts).
    ~RunSampler() override;

    // The checkpoints of the run in runDir on node; answered by checkpointsListed.
    void listCheckpoints(qint64 runId, const store::NodeRecord& node, const QString& runDir);
    // Samples a checkpoint of the run in runDir on node; answered by output (as it comes) and
    // finished. Returns the request's id.
    qint64 sample(const store::NodeRecord& node, const QString& runDir, const SampleRequest& req);
    // Ends a request: a queued one finishes without running, a running one within ~100 ms
    // (finished with an empty error). Thread-safe; unknown or finished ids are ignored.
    void stop(qint64 requestId);
    void stopAll();
    void setContext(const LauncherContext& ctx);

signals:
    // error: why the list could not be made (then the list is empty).
    void checkpointsListed(qint64 runId, const QStringList& checkpoints, const QString& error);
    void output(qint64 requestId, const QByteArray& chunk);
    // error empty: the engine ended well, or the request was stopped.
    void finished(qint64 requestId, const QString& error);

private:
    std::shared_ptr<std::atomic_bool> flagFor(qint64 requestId);
    void forget(qint64 requestId);

    qint64 nextId_ = 1;
    QMutex mutex_;
    QHash<qint64, std::shared_ptr<std::atomic_bool>> stops_;
    // Last: destroyed first, while the flags above still exist.
    NodeWorker lister_;
    NodeWorker sampler_;
};

} // namespace bcd::launch
