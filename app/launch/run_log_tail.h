#pragma once
// The last lines of a run's train.log, wherever the run is: read through the launcher session of
// its node (LauncherSession::readRunFile: the file's last MiB, over SFTP for an SSH or Slurm node,
// from the disk for a local one) on a worker thread of its own, and answered with a signal. One
// session per node, kept open between reads (a Monitor refresh does not reconnect).

#include "launch/plugin_registry.h"

#include <QObject>
#include <QStringList>
#include <QThread>

namespace bcd::launch {

class LogTailWorker;

class RunLogTail : public QObject {
    Q_OBJECT
public:
    RunLogTail(const PluginRegistry& plugins, const LauncherContext& ctx,
               QObject* parent = nullptr);
    // Stops the worker after the read in progress, waiting at most shutdownTimeoutMs (a read ends
    // within its SSH timeouts); one still running then is reported and left to the process.
    ~RunLogTail() override;

    // Reads the last maxLines lines of runDir/train.log on node; answered by tailRead.
    void request(qint64 runId, const store::NodeRecord& node, const QString& runDir,
                 int maxLines = 200);
    void setContext(const LauncherContext& ctx);

    int shutdownTimeoutMs = 20000;

signals:
    // exists: the file is there (lines may be empty); error: why it could not be read.
    void tailRead(qint64 runId, const QStringList& lines, bool exists, const QString& error);

private:
    QThread* thread_;       // deleted when joined; left to the process when a read hangs
    LogTailWorker* worker_; // lives on thread_, deleted when it finishes
};

} // namespace bcd::launch
