#include "sdk/remote_node.h"

#include "launch/remote_commands.h"
#include "launch/run_config.h"
#include "launch/run_files.h"
#include "launch/sample_command.h"
#include "nodes/node_probe.h"
#include "nodes/shell_command.h"
#include "nodes/ssh_probe.h"

#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QJsonDocument>
#include <QThread>
#include <algorithm>
#include <csignal>

namespace bcd::sdk {

using launch::LaunchError;
using nodes::ShellCommand;

nodes::SshEndpoint endpointOf(const nodes::NodeRecord& node) {
    nodes::SshEndpoint ep;
    ep.host = node.host;
    ep.port = node.port;
    ep.user = node.user;
    ep.identity = node.identity;
    ep.knownHosts = node.knownHosts;
    return ep;
}

std::optional<QByteArray> readSmallFile(nodes::SshSession& ssh, const QString& path) {
    constexpr qint64 kSmallFileBytes = 1 << 20;
    qint64 size = 0;
    if (!ssh.readFile(path, 0, 0, &size)) return std::nullopt;
    return ssh.readFile(path, std::max<qint64>(0, size - kSmallFileBytes), kSmallFileBytes);
}

QString RemoteNode::runRoot(const QString& fallback) {
    if (root_.isEmpty()) {
        const QString root = node_.runRoot.isEmpty() ? fallback : node_.runRoot;
        ssh_.makeDirs(root);
        root_ = ssh_.canonicalPath(root);
    }
    return root_;
}

QString RemoteNode::engineForProbe() const {
    return node_.engine.isEmpty() ? QStringLiteral("bcd-train") : node_.engine;
}

QString RemoteNode::engine() {
    if (!engine_.isEmpty()) return engine_;
    const QString want = ctx_.localEngineVersion;
    const auto fits = [&](const QString& version) {
        return want.isEmpty() || nodes::enginesCompatible(version, want);
    };
    QString note;
    if (!node_.engine.isEmpty()) {
        const QString v = nodes::remoteEngineVersion(ssh_, node_.engine, &note);
        if (v.isEmpty())
            throw LaunchError(
                QStringLiteral("node %1: the engine does not run: %2").arg(node_.name, note));
        if (!fits(v))
            throw LaunchError(
                QStringLiteral(
                    "node %1: %2 is bcd-train %3; this workbench needs %4 (same major.minor)")
                    .arg(node_.name, node_.engine, v, want));
        return engine_ = node_.engine;
    }
    const nodes::ExecResult onPath =
        ssh_.exec(ShellCommand().op("command -v").arg(QStringLiteral("bcd-train")).text(), 30000);
    if (onPath.exitStatus == 0) {
        const QString path = QString::fromUtf8(onPath.out).trimmed();
        const QString v = nodes::remoteEngineVersion(ssh_, path, &note);
        if (!v.isEmpty() && fits(v)) return engine_ = path;
    }
    // Upload this machine's engine (same OS and libraries assumed: docs/workbench.md).
    if (want.isEmpty() || !QFileInfo(ctx_.localEngine).isFile())
        throw LaunchError(
            QStringLiteral(
                "node %1 has no usable bcd-train and this machine has none to upload (%2)")
                .arg(node_.name, ctx_.localEngine));
    const QString dir = runRoot() + QStringLiteral("/.engine/") + want;
    const QString path = dir + QStringLiteral("/bcd-train");
    if (ssh_.exists(path) && fits(nodes::remoteEngineVersion(ssh_, path))) return engine_ = path;
    ssh_.makeDirs(dir);
    ssh_.uploadFile(ctx_.localEngine, path, 0755);
    const QString v = nodes::remoteEngineVersion(ssh_, path, &note);
    if (v.isEmpty() || !fits(v))
        throw LaunchError(
            QStringLiteral(
                "node %1: the uploaded engine does not run there: %2 (install the engine's "
                "libraries with scripts/install-deps.sh, or give the node an --engine)")
                .arg(node_.name, note.isEmpty() ? v : note));
    return engine_ = path;
}

void RemoteNode::uploadTree(nodes::SshSession& ssh, const QString& local, const QString& remote) {
    const QFileInfo fi(local);
    if (!fi.isDir()) {
        ssh.uploadFile(local, remote, 0644);
        return;
    }
    ssh.makeDirs(remote);
    QDirIterator it(local, QDir::Files | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
    const QDir base(local);
    while (it.hasNext()) {
        const QString file = it.next();
        const QString rel = base.relativeFilePath(file);
        const QString target = remote + '/' + rel;
        ssh.makeDirs(QFileInfo(target).path());
        ssh.uploadFile(file, target, 0644);
    }
}

QJsonObject RemoteNode::uploadInputs(nodes::SshSession& ssh, QJsonObject config,
                                     const QString& dir) {
    for (const QString& key : launch::configPathKeys()) {
        const QJsonValue v = launch::configValue(config, key);
        if (!v.isString()) continue;
        const QString local = v.toString();
        if (key == QLatin1String("data.tokenizer") && local == QLatin1String("byte")) continue;
        const QFileInfo fi(local);
        if (!fi.exists()) continue; // a path on the node; `bcd-train validate` checks it there
        const QString remote =
            dir + QStringLiteral("/inputs/") + QString(key).replace('.', '-') + '/' + fi.fileName();
        ssh.makeDirs(QFileInfo(remote).path());
        uploadTree(ssh, fi.absoluteFilePath(), remote);
        config = launch::withConfigValue(config, key, remote);
    }
    return config;
}

RemoteNode::PreparedRun RemoteNode::prepareRun(const launch::LaunchRequest& req,
                                               const QString& engine) {
    const QString base = runRoot() + '/' + launch::runFolderName(req.runId, req.name);
    QString dir = base;
    for (int n = 2; ssh_.exists(dir); ++n) dir = base + '-' + QString::number(n);
    ssh_.makeDirs(dir);
    PreparedRun p;
    p.at.dir = dir;

    launch::throwIfStopped(req); // each step is bounded by the session's timeouts; not between
    p.config = uploadInputs(ssh_, req.config, dir);
    p.config = launch::withConfigValue(p.config, QStringLiteral("output.dir"), dir);
    ssh_.writeFile(p.at.configPath(), QJsonDocument(p.config).toJson());
    launch::throwIfStopped(req);

    const nodes::ExecResult check =
        ssh_.exec(ShellCommand{engine, QStringLiteral("validate"), QStringLiteral("--config"),
                               p.at.configPath()}
                      .text(),
                  120000);
    if (check.exitStatus != 0)
        throw LaunchError(
            QStringLiteral("node %1: %2").arg(node_.name, launch::lastLine(check.err + check.out)),
            check.exitStatus == 2);
    launch::recordRunFolder(req, dir);
    return p;
}

QStringList RemoteNode::listCheckpoints(const launch::RunLocation& at) {
    if (at.dir.isEmpty())
        throw LaunchError(QStringLiteral("node %1: the run has no folder yet").arg(node_.name));
    const nodes::ExecResult r = ssh_.exec(launch::checkpointListingCommand(at.dir).text(), 30000);
    if (r.exitStatus == launch::kNoRunFolderExit)
        throw LaunchError(
            QStringLiteral("node %1: the run folder %2 does not exist").arg(node_.name, at.dir));
    if (r.exitStatus != 0)
        throw LaunchError(QStringLiteral("node %1: listing the checkpoints of %2 failed: %3")
                              .arg(node_.name, at.dir, launch::lastLines(r.err + r.out)));
    return launch::checkpointsFromListing(QString::fromUtf8(r.out).split('\n', Qt::SkipEmptyParts));
}

bool RemoteNode::removeRunFolder(const launch::RunLocation& at) {
    const nodes::ExecResult r = ssh_.exec(launch::runFolderRemoval(at.dir).text(), 300000);
    if (r.exitStatus == launch::kRemovalNoFolderExit) return false;
    if (r.exitStatus == launch::kRemovalNotRunFolderExit)
        throw LaunchError(QStringLiteral("node %1: refusing to remove %2: it holds no launch.json, "
                                         "so it is not a run folder")
                              .arg(node_.name, at.dir),
                          true);
    if (r.exitStatus != 0)
        throw LaunchError(QStringLiteral("node %1: removing %2 failed: %3")
                              .arg(node_.name, at.dir, launch::lastLines(r.err + r.out)));
    return true;
}

launch::Done RemoteNode::sample(const launch::RunLocation& at, const launch::SampleRequest& req,
                                const QStringList& wrapper,
                                const std::function<void(const QByteArray&)>& onOutput,
                                const std::function<bool()>& stopRequested) {
    launch::checkSampleRequest(req);
    launch::SampleRequest onNode = req;
    onNode.threads = 0; // the engine's auto: the node's cores and the run's device
    onNode.device.clear();
    const QString model = launch::checkpointDir(at.dir, req.checkpoint);
    if (!ssh_.exists(model + QStringLiteral("/config.json")))
        throw LaunchError(QStringLiteral("node %1: checkpoint %2 of the run in %3 is not there "
                                         "(no %4/config.json)")
                              .arg(node_.name, req.checkpoint, at.dir, model),
                          true);
    const QString program = engine();
    QStringList argv = wrapper;
    argv << program << launch::sampleArguments(model, onNode);
    launch::PidThenOutput split;
    nodes::ExecStream stream;
    stream.onOut = [&](const QByteArray& chunk) {
        const QByteArray out = split.feed(chunk);
        if (!out.isEmpty() && onOutput) onOutput(out);
    };
    stream.stop = stopRequested;
    stream.timeoutMs = 0; // a long generation on a CPU node is not a hang; a stop ends it
    const nodes::ExecResult r = ssh_.exec(launch::pidThenExec(argv).text(), stream);
    if (r.stopped) {
        // sshd may ignore the channel's signal (root sessions, old servers): end it by pid.
        if (split.pid() > 0) {
            ssh_.exec(launch::signalProcess(split.pid(), SIGTERM).text(), 30000);
            for (int i = 0; i < 30; ++i) {
                const nodes::ExecResult alive = ssh_.exec(
                    ShellCommand().op("kill -0").arg(split.pid()).op("2>/dev/null").text(), 30000);
                if (alive.exitStatus != 0) return {};
                QThread::msleep(100);
            }
            ssh_.exec(launch::signalProcess(split.pid(), SIGKILL).text(), 30000);
        }
        return {};
    }
    if (r.exitStatus != 0) {
        const QString err = launch::lastLines(r.err);
        throw LaunchError(QStringLiteral("node %1: bcd-train sample failed (exit %2): %3")
                              .arg(node_.name)
                              .arg(r.exitStatus)
                              .arg(err.isEmpty() ? QStringLiteral("no message") : err),
                          r.exitStatus == 2);
    }
    return {};
}

} // namespace bcd::sdk
