#pragma once
// Removing runs' folders wherever they live (LauncherSession::removeRunFolder, interface 2.3;
// docs/workbench.md, "Launcher plugins"): the Runs page posts it to the Workbench's run-files
// NodeWorker, the CLI calls it on its own thread. The store row goes only after its folder is
// gone (the callers' rule), so files are never left behind without a trace.

#include "launch/node_worker.h"

namespace bcd::launch {

struct FolderRemoval {
    qint64 runId = 0;
    QString node;
    QString dir;
    bool removed = false; // false with an empty error: the folder was already gone
    QString error;        // why it is still there
    bool ok() const { return error.isEmpty(); }
};

FolderRemoval removeRunFolder(NodeSessions& sessions, const store::NodeRecord& node, qint64 runId,
                              const QString& dir);

} // namespace bcd::launch
