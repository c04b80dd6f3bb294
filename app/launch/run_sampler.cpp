#include "launch/run_sampler.h"

#include <QMap>

namespace bcd::launch {

// Lives on one of the RunSampler's threads and owns its sessions (a session belongs to its
// thread).
class SamplerWorker : public QObject {
    Q_OBJECT
public:
    SamplerWorker(const PluginRegistry& plugins, const LauncherContext& ctx)
        : plugins_(plugins), ctx_(ctx) {}

    void setContext(const LauncherContext& ctx) { ctx_ = ctx; }

    void list(qint64 runId, const store::NodeRecord& node, const QString& dir) {
        QString error;
        QStringList found;
        if (LauncherSession* session = sessionFor(node, &error)) {
            auto listed = session->listCheckpoints(RunLocation{dir, 0, {}});
            if (listed) {
                found = listed.value();
            } else {
                error = listed.failure().message;
                // Anything but a refused request may have left the session unusable.
                if (!listed.failure().badInput()) sessions_.remove(node.name);
            }
        }
        emit listed(runId, found, error);
    }

    void sample(qint64 id, const store::NodeRecord& node, const QString& dir,
                const SampleRequest& req, const std::shared_ptr<std::atomic_bool>& stop) {
        QString error;
        if (!stop->load()) {
            if (LauncherSession* session = sessionFor(node, &error)) {
                auto done = session->sample(
                    RunLocation{dir, 0, {}}, req,
                    [this, id](const QByteArray& chunk) { emit output(id, chunk); },
                    [stop] { return stop->load(); });
                if (!done) {
                    error = done.failure().message;
                    if (!done.failure().badInput()) sessions_.remove(node.name);
                }
            }
        }
        emit finished(id, error);
    }

signals:
    void listed(qint64 runId, const QStringList& checkpoints, const QString& error);
    void output(qint64 id, const QByteArray& chunk);
    void finished(qint64 id, const QString& error);

private:
    LauncherSession* sessionFor(const store::NodeRecord& node, QString* error) {
        // Before any call: a 2.2 plugin's session has no slots for listCheckpoints and sample.
        if (const QString why = plugins_.sampleSupport(node.kind); !why.isEmpty()) {
            *error = why;
            return nullptr;
        }
        auto it = sessions_.find(node.name);
        if (it != sessions_.end() && it->node.host == node.host && it->node.port == node.port &&
            it->node.user == node.user && it->node.kind == node.kind &&
            it->node.jobDefaults == node.jobDefaults && it->node.engine == node.engine)
            return it->session.get();
        auto opened = plugins_.launcher(node.kind)->open(node, ctx_);
        if (!opened || !opened.value()) {
            *error =
                opened ? QStringLiteral("the '%1' launcher plugin opened no session").arg(node.kind)
                       : opened.failure().message;
            return nullptr;
        }
        Open& o = sessions_[node.name];
        o.node = node;
        o.session = std::move(opened.value());
        return o.session.get();
    }

    struct Open {
        store::NodeRecord node;
        std::shared_ptr<LauncherSession> session;
    };
    const PluginRegistry& plugins_;
    LauncherContext ctx_;
    QMap<QString, Open> sessions_;
};

RunSampler::RunSampler(const PluginRegistry& plugins, const LauncherContext& ctx, QObject* parent)
    : QObject(parent), listThread_(new QThread), sampleThread_(new QThread),
      lister_(new SamplerWorker(plugins, ctx)), sampler_(new SamplerWorker(plugins, ctx)) {
    lister_->moveToThread(listThread_);
    sampler_->moveToThread(sampleThread_);
    connect(listThread_, &QThread::finished, lister_, &QObject::deleteLater);
    connect(sampleThread_, &QThread::finished, sampler_, &QObject::deleteLater);
    // Queued across the threads; Qt drops the connections, thread-safely, when this object goes.
    connect(lister_, &SamplerWorker::listed, this, &RunSampler::checkpointsListed);
    connect(sampler_, &SamplerWorker::output, this, &RunSampler::output);
    connect(sampler_, &SamplerWorker::finished, this, [this](qint64 id, const QString& error) {
        forget(id);
        emit finished(id, error);
    });
    listThread_->setObjectName(QStringLiteral("bcd-sample-list"));
    sampleThread_->setObjectName(QStringLiteral("bcd-sample"));
    listThread_->start();
    sampleThread_->start();
}

RunSampler::~RunSampler() {
    stopAll();
    listThread_->quit();
    sampleThread_->quit();
    for (QThread* t : {listThread_, sampleThread_}) {
        if (t->wait(shutdownTimeoutMs)) {
            delete t;
            continue;
        }
        // Deleting a running QThread aborts the process, and terminating one can leave libssh
        // half-updated: the call is left to end with the process.
        qWarning("bcd-workbench: a checkpoint listing or sample did not stop within %d ms; "
                 "leaving it to end with the process",
                 shutdownTimeoutMs);
    }
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
    SamplerWorker* w = lister_;
    QMetaObject::invokeMethod(
        w, [w, runId, node, runDir] { w->list(runId, node, runDir); }, Qt::QueuedConnection);
}

qint64 RunSampler::sample(const store::NodeRecord& node, const QString& runDir,
                          const SampleRequest& req) {
    const qint64 id = nextId_++;
    auto stop = flagFor(id);
    SamplerWorker* w = sampler_;
    QMetaObject::invokeMethod(
        w, [w, id, node, runDir, req, stop] { w->sample(id, node, runDir, req, stop); },
        Qt::QueuedConnection);
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
    for (SamplerWorker* w : {lister_, sampler_})
        QMetaObject::invokeMethod(
            w, [w, ctx] { w->setContext(ctx); }, Qt::QueuedConnection);
}

} // namespace bcd::launch

#include "run_sampler.moc"
