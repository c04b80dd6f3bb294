#include "launch/run_log_tail.h"

#include "launch/log_tail.h"

namespace bcd::launch {

namespace {
// What LauncherSession::readRunFile keeps of a file (its last MiB): a read of this size may have
// started inside a line.
constexpr qsizetype kRunFileWindow = 1 << 20;
} // namespace

RunLogTail::RunLogTail(const PluginRegistry& plugins, const LauncherContext& ctx, QObject* parent)
    : QObject(parent), worker_(plugins, ctx, QStringLiteral("bcd-log-tail")) {}

void RunLogTail::request(qint64 runId, const store::NodeRecord& node, const QString& runDir,
                         int maxLines) {
    worker_.post([this, runId, node, runDir, maxLines](NodeSessions& sessions,
                                                       const NodeWorker::Reply& reply) {
        QStringList lines;
        bool exists = false;
        QString error;
        if (LauncherSession* session = sessions.open(node, &error)) {
            auto read =
                session->readRunFile(RunLocation{runDir, 0, {}}, QStringLiteral("train.log"));
            if (!read) {
                error = read.failure().message;
                sessions.drop(node.name); // reconnect next time
            } else if (read.value()) {
                exists = true;
                const QByteArray& bytes = *read.value();
                lines = tailLines(bytes, bytes.size() >= kRunFileWindow, maxLines);
            }
        }
        // Runs on this object's thread, and only while it exists.
        reply([this, runId, lines, exists, error] { emit tailRead(runId, lines, exists, error); });
    });
}

} // namespace bcd::launch
