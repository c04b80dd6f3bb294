#pragma once
// What every launcher that reaches its node over SSH needs before the engine starts (the ssh and
// slurm plugins): the run root, an engine of a compatible version (uploaded by SFTP when the node
// has none), and a run folder holding the run's inputs and its checked config. Part of the
// launcher SDK (docs/workbench.md, "The launcher SDK"); throws LaunchError and nodes::SshError,
// which the plugins turn into values at their boundary (launch/launch_outcome.h).

#include "launch/launcher.h"
#include "nodes/ssh_session.h"

#include <QJsonObject>

namespace bcd::sdk {

nodes::SshEndpoint endpointOf(const nodes::NodeRecord& node);

// The last MiB of a small file of a run folder (status.json, engine.err) by SFTP; nullopt when
// it does not exist.
std::optional<QByteArray> readSmallFile(nodes::SshSession& ssh, const QString& path);

class RemoteNode {
public:
    RemoteNode(nodes::SshSession& ssh, const nodes::NodeRecord& node,
               const launch::LauncherContext& ctx)
        : ssh_(ssh), node_(node), ctx_(ctx) {}

    nodes::SshSession& ssh() { return ssh_; }
    const nodes::NodeRecord& node() const { return node_; }

    // The absolute run root on the node (created when missing); `fallback` when the node names
    // none.
    QString runRoot(const QString& fallback = QStringLiteral("bcd-runs"));
    // The engine to call: the node's configured one, else bcd-train on PATH, else the local
    // engine uploaded to <run root>/.engine/<version>/bcd-train. Its version must match the
    // local engine's major.minor.
    QString engine();
    // The engine for a probe: nothing is uploaded.
    QString engineForProbe() const;

    struct PreparedRun {
        launch::RunLocation at;
        QJsonObject config; // as written to launch.json (inputs and output.dir on the node)
    };
    // Makes <run root>/<id>-<slug> (a free name), uploads the inputs that are local paths, writes
    // launch.json and checks it with `bcd-train validate` on the node (bad input: exit 2).
    PreparedRun prepareRun(const launch::LaunchRequest& req, const QString& engine);

    // Uploads local inputs (model folder, data) under dir/inputs of `ssh`'s node and points the
    // config at them; paths that do not exist here are left as paths on the node.
    // The run's complete checkpoints (launch::checkpointsFromListing of a listing made on the
    // node); LaunchError when the run folder is not there.
    QStringList listCheckpoints(const launch::RunLocation& at);
    // Removes a run folder on the node (launch::runFolderRemoval); false: it was already gone.
    bool removeRunFolder(const launch::RunLocation& at);
    // `bcd-train sample` on a checkpoint of the run, its stdout streamed to onOutput, behind
    // `wrapper` (srun and its options; empty: the engine itself). The engine's own auto decides
    // threads and device. A stop sends TERM over the channel, closes it and kills the process
    // by the pid its shell printed first (TERM, then KILL after 3 s).
    launch::Done sample(const launch::RunLocation& at, const launch::SampleRequest& req,
                        const QStringList& wrapper,
                        const std::function<void(const QByteArray&)>& onOutput,
                        const std::function<bool()>& stopRequested);

    static QJsonObject uploadInputs(nodes::SshSession& ssh, QJsonObject config, const QString& dir);

private:
    static void uploadTree(nodes::SshSession& ssh, const QString& local, const QString& remote);

    nodes::SshSession& ssh_;
    nodes::NodeRecord node_;
    launch::LauncherContext ctx_;
    QString root_;
    QString engine_;
};

} // namespace bcd::sdk
