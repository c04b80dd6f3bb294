#include "launch/run_log_tail.h"

#include "launch/log_tail.h"

#include <QMap>
#include <memory>

namespace bcd::launch {

namespace {
// What LauncherSession::readRunFile keeps of a file (its last MiB): a read of this size may have
// started inside a line.
constexpr qsizetype kRunFileWindow = 1 << 20;
} // namespace

// Lives on the RunLogTail's thread and owns the sessions (a session belongs to its thread).
class LogTailWorker : public QObject {
    Q_OBJECT
public:
    LogTailWorker(const PluginRegistry& plugins, const LauncherContext& ctx)
        : plugins_(plugins), ctx_(ctx) {}

    void setContext(const LauncherContext& ctx) { ctx_ = ctx; }

    // On the worker thread.
    void read(qint64 runId, const store::NodeRecord& node, const QString& dir, int maxLines) {
        QStringList lines;
        bool exists = false;
        QString error;
        if (LauncherSession* session = sessionFor(node, &error)) {
            auto read = session->readRunFile(RunLocation{dir, 0, {}}, QStringLiteral("train.log"));
            if (!read) {
                error = read.failure().message;
                sessions_.remove(node.name); // reconnect next time
            } else if (read.value()) {
                exists = true;
                const QByteArray& bytes = *read.value();
                lines = tailLines(bytes, bytes.size() >= kRunFileWindow, maxLines);
            }
        }
        emit done(runId, lines, exists, error);
    }

signals:
    void done(qint64 runId, const QStringList& lines, bool exists, const QString& error);

private:
    LauncherSession* sessionFor(const store::NodeRecord& node, QString* error) {
        auto it = sessions_.find(node.name);
        if (it != sessions_.end() && it->node.host == node.host && it->node.port == node.port &&
            it->node.user == node.user && it->node.kind == node.kind)
            return it->session.get();
        LauncherPlugin* plugin = plugins_.launcher(node.kind);
        if (!plugin) {
            *error = plugins_.missingReason(node.kind);
            return nullptr;
        }
        auto opened = plugin->open(node, ctx_);
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

RunLogTail::RunLogTail(const PluginRegistry& plugins, const LauncherContext& ctx, QObject* parent)
    : QObject(parent), thread_(new QThread), worker_(new LogTailWorker(plugins, ctx)) {
    worker_->moveToThread(thread_);
    connect(thread_, &QThread::finished, worker_, &QObject::deleteLater);
    // Queued across the threads; Qt drops the connection, thread-safely, when this object goes.
    connect(worker_, &LogTailWorker::done, this, &RunLogTail::tailRead);
    thread_->setObjectName(QStringLiteral("bcd-log-tail"));
    thread_->start();
}

RunLogTail::~RunLogTail() {
    thread_->quit();
    if (thread_->wait(shutdownTimeoutMs)) {
        delete thread_;
        return;
    }
    // Deleting a running QThread aborts the process, and terminating one can leave libssh or a
    // lock half-updated: the read is left to end with the process.
    qWarning("bcd-workbench: a log read did not finish within %d ms; leaving it to end with the "
             "process",
             shutdownTimeoutMs);
}

void RunLogTail::request(qint64 runId, const store::NodeRecord& node, const QString& runDir,
                         int maxLines) {
    LogTailWorker* w = worker_;
    QMetaObject::invokeMethod(
        w, [w, runId, node, runDir, maxLines] { w->read(runId, node, runDir, maxLines); },
        Qt::QueuedConnection);
}

void RunLogTail::setContext(const LauncherContext& ctx) {
    LogTailWorker* w = worker_;
    QMetaObject::invokeMethod(
        w, [w, ctx] { w->setContext(ctx); }, Qt::QueuedConnection);
}

} // namespace bcd::launch

#include "run_log_tail.moc"
