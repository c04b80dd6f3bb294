#pragma once
// Runs' folders wherever they live, through the node's launcher session (interface 2.3;
// docs/workbench.md, "Launcher plugins"): their complete checkpoints (Sample, Fork) and their
// removal (Delete with files). Called on a NodeWorker's thread (RunSampler, the Workbench's
// run-files worker) or on the CLI's own. For removal, the store row goes only after its folder
// is gone (the callers' rule), so files are never left behind without a trace.

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

// The node's session when its plugin has the 2.3 members (listCheckpoints, sample,
// removeRunFolder), else nullptr and *error saying why (PluginRegistry::runFilesSupport).
LauncherSession* runFilesSession(NodeSessions& sessions, const store::NodeRecord& node,
                                 QString* error);

// The run's complete checkpoints ("final", then step-N newest first); an empty list and *error
// when the node cannot list them.
QStringList listRunCheckpoints(NodeSessions& sessions, const store::NodeRecord& node,
                               const QString& dir, QString* error);

FolderRemoval removeRunFolder(NodeSessions& sessions, const store::NodeRecord& node, qint64 runId,
                              const QString& dir);

} // namespace bcd::launch
