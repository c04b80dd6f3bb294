#include "launch/run_sampler.h"

#include "launch/run_folders.h"

namespace bcd::launch {

RunSampler::RunSampler(const PluginRegistry& plugins, const LauncherContext& ctx, QObject* parent)
    : QObject(parent), lister_(plugins, ctx, QStringLiteral("bcd-sample-list")),
      sampler_(plugins, ctx, QStringLiteral("bcd-sample")) {}

RunSampler::~RunSampler() {
    stopAll();
}

std::shared_ptr<std::atomic_bool> RunSampler::flagFor(qint64 requestId) {
    QMutexLocker lock(&mutex_);
    auto flag = std::make_shared<std::atomic_bool>(false);
    stops_.insert(requestId, flag);
    return flag;
}

void RunSampler::forget(qint64 requestId) {
    QMutexLocker lock(&mutex_);
    stops_.remove(requestId);
}

void RunSampler::listCheckpoints(qint64 runId, const store::NodeRecord& node,
                                 const QString& runDir) {
    lister_.post(
        [this, runId, node, runDir](NodeSessions& sessions, const NodeWorker::Reply& reply) {
            QString error;
            const QStringList found = listRunCheckpoints(sessions, node, runDir, &error);
            reply([this, runId, found, error] { emit checkpointsListed(runId, found, error); });
        });
}

qint64 RunSampler::sample(const store::NodeRecord& node, const QString& runDir,
                          const SampleRequest& req) {
    const qint64 id = nextId_++;
    auto stop = flagFor(id);
    sampler_.post([this, id, node, runDir, req, stop](NodeSessions& sessions,
                                                      const NodeWorker::Reply& reply) {
        QString error;
        if (!stop->load()) {
            if (LauncherSession* session = runFilesSession(sessions, node, &error)) {
                auto done = session->sample(
                    RunLocation{runDir, 0, {}}, req,
                    [this, id, &reply](const QByteArray& chunk) {
                        reply([this, id, chunk] { emit output(id, chunk); });
                    },
                    [stop] { return stop->load(); });
                if (!done) {
                    error = done.failure().message;
                    if (!done.failure().badInput()) sessions.drop(node.name);
                }
            }
        }
        reply([this, id, error] {
            forget(id);
            emit finished(id, error);
        });
    });
    return id;
}

void RunSampler::stop(qint64 requestId) {
    QMutexLocker lock(&mutex_);
    if (const auto flag = stops_.value(requestId)) flag->store(true);
}

void RunSampler::stopAll() {
    QMutexLocker lock(&mutex_);
    for (const auto& flag : std::as_const(stops_)) flag->store(true);
}

void RunSampler::setContext(const LauncherContext& ctx) {
    lister_.setContext(ctx);
    sampler_.setContext(ctx);
}

} // namespace bcd::launch
