#include "launch/node_worker.h"

namespace bcd::launch {

LauncherSession* NodeSessions::open(const store::NodeRecord& node, QString* error) {
    auto it = sessions_.find(node.name);
    if (it != sessions_.end() && it->node.host == node.host && it->node.port == node.port &&
        it->node.user == node.user && it->node.kind == node.kind &&
        it->node.jobDefaults == node.jobDefaults && it->node.engine == node.engine)
        return it->session.get();
    sessions_.remove(node.name);
    LauncherPlugin* plugin = plugins_.launcher(node.kind);
    if (!plugin) {
        *error = plugins_.missingReason(node.kind);
        return nullptr;
    }
    auto opened = plugin->open(node, ctx_);
    if (!opened || !opened.value()) {
        *error = opened
                     ? QStringLiteral("the '%1' launcher plugin opened no session").arg(node.kind)
                     : opened.failure().message;
        return nullptr;
    }
    Open& o = sessions_[node.name];
    o.node = node;
    o.session = std::move(opened.value());
    return o.session.get();
}

// Lives on the NodeWorker's thread and owns its sessions.
class NodeWorkerHost : public QObject {
    Q_OBJECT
public:
    NodeWorkerHost(const PluginRegistry& plugins, const LauncherContext& ctx)
        : sessions(plugins, ctx) {}
    NodeSessions sessions;

signals:
    void answered(const std::function<void()>& answer);
};

NodeWorker::NodeWorker(const PluginRegistry& plugins, const LauncherContext& ctx,
                       const QString& threadName, QObject* parent)
    : QObject(parent), thread_(new QThread), host_(new NodeWorkerHost(plugins, ctx)) {
    host_->moveToThread(thread_);
    connect(thread_, &QThread::finished, host_, &QObject::deleteLater);
    // Queued across the threads; Qt drops the connection, thread-safely, when this object goes.
    connect(host_, &NodeWorkerHost::answered, this,
            [](const std::function<void()>& answer) { answer(); });
    thread_->setObjectName(threadName);
    thread_->start();
}

NodeWorker::~NodeWorker() {
    thread_->quit();
    if (thread_->wait(shutdownTimeoutMs)) {
        delete thread_;
        return;
    }
    qWarning("bcd-workbench: %s is inside a call after %d ms; leaving it to end with the process",
             qPrintable(thread_->objectName()), shutdownTimeoutMs);
}

void NodeWorker::post(Task task) {
    NodeWorkerHost* h = host_;
    QMetaObject::invokeMethod(
        h,
        [h, task = std::move(task)] {
            task(h->sessions, [h](std::function<void()> answer) { emit h->answered(answer); });
        },
        Qt::QueuedConnection);
}

void NodeWorker::setContext(const LauncherContext& ctx) {
    NodeWorkerHost* h = host_;
    QMetaObject::invokeMethod(
        h, [h, ctx] { h->sessions.setContext(ctx); }, Qt::QueuedConnection);
}

} // namespace bcd::launch

#include "node_worker.moc"
