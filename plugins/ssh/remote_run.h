#pragma once
// The start of a run on an SSH node: the engine detached from the connection (setsid, nohup),
// or mpirun over several nodes. What precedes it (run root, engine, inputs, config) is the SDK's
// RemoteNode.

#include "launch/launcher.h"
#include "sdk/remote_node.h"

namespace bcd::plugins {

class RemoteRun {
public:
    RemoteRun(nodes::SshSession& ssh, const nodes::NodeRecord& node,
              const launch::LauncherContext& ctx)
        : node_(ssh, node, ctx), ctx_(ctx) {}

    sdk::RemoteNode& node() { return node_; }

    launch::RunLocation start(const launch::LaunchRequest& req);
    // bcd-train train --resume in the run's folder, detached.
    launch::RunLocation resume(const launch::RunLocation& at);

private:
    qint64 startOne(const launch::RunLocation& at, const QString& engine, bool resume);
    bool runsAsRoot(); // mpirun refuses root without --allow-run-as-root
    qint64 startMpi(const launch::LaunchRequest& req, const launch::RunLocation& at,
                    const QString& engine, const QJsonObject& config);
    // mpirun ... --resume over the hosts of the run folder's hostfile.
    qint64 resumeMpi(const launch::RunLocation& at, const QString& engine, const QString& hostfile);

    sdk::RemoteNode node_;
    launch::LauncherContext ctx_;
};

} // namespace bcd::plugins
