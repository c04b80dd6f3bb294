#include "launch/run_folders.h"

namespace bcd::launch {

LauncherSession* runFilesSession(NodeSessions& sessions, const store::NodeRecord& node,
                                 QString* error) {
    // Before any call: a 2.2 plugin's session has no slots for them.
    *error = sessions.plugins().runFilesSupport(node.kind);
    return error->isEmpty() ? sessions.open(node, error) : nullptr;
}

QStringList listRunCheckpoints(NodeSessions& sessions, const store::NodeRecord& node,
                               const QString& dir, QString* error) {
    LauncherSession* session = runFilesSession(sessions, node, error);
    if (!session) return {};
    auto listed = session->listCheckpoints(RunLocation{dir, 0, {}});
    if (listed) return listed.value();
    *error = listed.failure().message;
    // Anything but a refused request may have left the session unusable.
    if (!listed.failure().badInput()) sessions.drop(node.name);
    return {};
}

FolderRemoval removeRunFolder(NodeSessions& sessions, const store::NodeRecord& node, qint64 runId,
                              const QString& dir) {
    FolderRemoval r{runId, node.name, dir, false, {}};
    LauncherSession* session = runFilesSession(sessions, node, &r.error);
    if (!session) return r;
    const auto done = session->removeRunFolder(RunLocation{dir, 0, {}});
    if (done) {
        r.removed = done.value();
    } else {
        r.error = done.failure().message;
        if (!done.failure().badInput()) sessions.drop(node.name);
    }
    return r;
}

} // namespace bcd::launch
