#include "launch/run_folders.h"

namespace bcd::launch {

FolderRemoval removeRunFolder(NodeSessions& sessions, const store::NodeRecord& node, qint64 runId,
                              const QString& dir) {
    FolderRemoval r{runId, node.name, dir, false, {}};
    // Before any call: a 2.2 plugin's session has no slot for removeRunFolder.
    r.error = sessions.plugins().runFilesSupport(node.kind);
    if (!r.error.isEmpty()) return r;
    LauncherSession* session = sessions.open(node, &r.error);
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
