#pragma once
// Sampling runs' checkpoints wherever the runs are (docs/workbench.md, "Sampling"): the launcher
// session of the run's node lists a run's checkpoints and runs `bcd-train sample` on one of them
// (LauncherSession::listCheckpoints and sample, interface 2.3), on worker threads of the
// sampler's own, answered with signals. One thread lists, one samples (a long generation does
// not hold up a listing); each keeps one session per node open, and requests queue on it. Stops
// are flags the plugin reads between reads of the engine's output: nothing waits on the caller's
// thread.

#include "launch/plugin_registry.h"

#include <QHash>
#include <QMutex>
#include <QObject>
#include <QStringList>
#include <QThread>
#include <atomic>
#include <memory>

namespace bcd::launch {

class SamplerWorker;

class RunSampler : public QObject {
    Q_OBJECT
public:
    RunSampler(const PluginRegistry& plugins, const LauncherContext& ctx,
               QObject* parent = nullptr);
    // Stops every request, then waits for the workers at most shutdownTimeoutMs (a stopped
    // sample ends within its SSH timeouts); one still running then is reported and left to the
    // process, as RunLogTail does.
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

    int shutdownTimeoutMs = 20000;

signals:
    // error: why the list could not be made (then the list is empty).
    void checkpointsListed(qint64 runId, const QStringList& checkpoints, const QString& error);
    void output(qint64 requestId, const QByteArray& chunk);
    // error empty: the engine ended well, or the request was stopped.
    void finished(qint64 requestId, const QString& error);

private:
    std::shared_ptr<std::atomic_bool> flagFor(qint64 requestId);
    void forget(qint64 requestId);

    QThread* listThread_;
    QThread* sampleThread_;
    SamplerWorker* lister_;
    SamplerWorker* sampler_;
    qint64 nextId_ = 1;
    QMutex mutex_;
    QHash<qint64, std::shared_ptr<std::atomic_bool>> stops_;
};

} // namespace bcd::launch
