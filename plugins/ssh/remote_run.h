#pragma once
// What a launch needs on an SSH node: the run root, an engine of a compatible version (uploaded
// by SFTP when the node has none), the run's inputs, and the detached start (mpirun over
// several nodes).

#include "launch/launcher.h"
#include "nodes/ssh_session.h"

namespace bcd::plugins {

nodes::SshEndpoint endpointOf(const store::NodeRecord& node);

class RemoteRun {
public:
    RemoteRun(nodes::SshSession& ssh, const store::NodeRecord& node,
              const launch::LauncherContext& ctx)
        : ssh_(ssh), node_(node), ctx_(ctx) {}

    // The absolute run root on the node (created when missing).
    QString runRoot();
    // The engine to call: the node's configured one, else bcd-train on PATH, else the local
    // engine uploaded to <run root>/.engine/<version>/bcd-train. Its version must match the
    // local engine's major.minor. Throws LaunchError.
    QString engine();
    // The engine for a probe: nothing is uploaded.
    QString engineForProbe() const;

    launch::RunLocation start(const launch::LaunchRequest& req);

private:
    // Uploads local inputs (model folder, data) under dir/inputs and points the config at them;
    // paths that do not exist here are left as paths on the node.
    QJsonObject uploadInputs(nodes::SshSession& ssh, QJsonObject config, const QString& dir);
    void uploadTree(nodes::SshSession& ssh, const QString& local, const QString& remote);
    qint64 startOne(const launch::RunLocation& at, const QString& engine, bool resume);
    bool runsAsRoot(); // mpirun refuses root without --allow-run-as-root
    qint64 startMpi(const launch::LaunchRequest& req, const launch::RunLocation& at,
                    const QString& engine, const QJsonObject& config);

    nodes::SshSession& ssh_;
    store::NodeRecord node_;
    launch::LauncherContext ctx_;
    QString root_;
    QString engine_;
};

} // namespace bcd::plugins
