#pragma once
// The last lines of a run's train.log, wherever the run is: read through the launcher session of
// its node (LauncherSession::readRunFile: the file's last MiB, over SFTP for an SSH or Slurm node,
// from the disk for a local one) on a NodeWorker of its own, and answered with a signal. One
// session per node, kept open between reads (a Monitor refresh does not reconnect).

#include "launch/node_worker.h"

#include <QObject>
#include <QStringList>

namespace bcd::launch {

class RunLogTail : public QObject {
    Q_OBJECT
public:
    RunLogTail(const PluginRegistry& plugins, const LauncherContext& ctx,
               QObject* parent = nullptr);
    // The worker stops after the read in progress (NodeWorker's bounded wait).
    ~RunLogTail() override = default;

    // Reads the last maxLines lines of runDir/train.log on node; answered by tailRead.
    void request(qint64 runId, const store::NodeRecord& node, const QString& runDir,
                 int maxLines = 200);
    void setContext(const LauncherContext& ctx) { worker_.setContext(ctx); }

signals:
    // exists: the file is there (lines may be empty); error: why it could not be read.
    void tailRead(qint64 runId, const QStringList& lines, bool exists, const QString& error);

private:
    NodeWorker worker_;
};

} // namespace bcd::launch
