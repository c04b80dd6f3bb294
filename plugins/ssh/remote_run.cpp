#include "remote_run.h"

#include "launch/remote_commands.h"
#include "launch/run_config.h"
#include "launch/run_files.h"
#include "nodes/node_probe.h"
#include "nodes/shell_command.h"
#include "nodes/ssh_probe.h"

#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QJsonDocument>

namespace bcd::plugins {

using launch::LaunchError;
using launch::RunLocation;
using nodes::ShellCommand;

nodes::SshEndpoint endpointOf(const store::NodeRecord& node) {
    nodes::SshEndpoint ep;
    ep.host = node.host;
    ep.port = node.port;
    ep.user = node.user;
    ep.identity = node.identity;
    ep.knownHosts = node.knownHosts;
    return ep;
}

QString RemoteRun::runRoot() {
    if (root_.isEmpty()) {
        const QString root = node_.runRoot.isEmpty() ? QStringLiteral("bcd-runs") : node_.runRoot;
        ssh_.makeDirs(root);
        root_ = ssh_.canonicalPath(root);
    }
    return root_;
}

QString RemoteRun::engineForProbe() const {
    return node_.engine.isEmpty() ? QStringLiteral("bcd-train") : node_.engine;
}

QString RemoteRun::engine() {
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

void RemoteRun::uploadTree(nodes::SshSession& ssh, const QString& local, const QString& remote) {
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

QJsonObject RemoteRun::uploadInputs(nodes::SshSession& ssh, QJsonObject config,
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

qint64 RemoteRun::startOne(const RunLocation& at, const QString& engine, bool resume) {
    QStringList argv{engine, QStringLiteral("train"), QStringLiteral("--config"), at.configPath()};
    if (resume) argv << QStringLiteral("--resume");
    const nodes::ExecResult r = ssh_.exec(launch::detachedStart(at.dir, argv).text(), 60000);
    bool ok = false;
    const qint64 pid = QString::fromUtf8(r.out).trimmed().section('\n', -1).toLongLong(&ok);
    if (r.exitStatus != 0 || !ok || pid <= 0)
        throw LaunchError(QStringLiteral("node %1: the engine did not start: %2")
                              .arg(node_.name, launch::lastLine(r.err + r.out)));
    return pid;
}

qint64 RemoteRun::startMpi(const launch::LaunchRequest& req, const RunLocation& at,
                           const QString& engine, const QJsonObject& config) {
    // Without mpirun on the head, nohup would fail after `echo $!` has printed a pid, and the run
    // would look started; say what is missing before anything is copied.
    if (ssh_.exec(ShellCommand().op("command -v").arg(QStringLiteral("mpirun")).text(), 30000)
            .exitStatus != 0)
        throw LaunchError(
            QStringLiteral(
                "node %1: mpirun is not on its PATH; a run over several nodes needs OpenMPI on "
                "the head node (Debian: apt install openmpi-bin)")
                .arg(node_.name));
    QVector<launch::MpiRank> ranks;
    for (const store::NodeRecord& n : req.nodes) {
        const int gpus = static_cast<int>(nodes::NodeProbe::fromJson(n.probe).gpus.size());
        ranks.push_back({n.host, std::max(1, gpus)});
    }
    const QString hostfile = at.dir + QStringLiteral("/hostfile");
    const launch::MpiPlan plan = launch::planMpirun(
        ranks, hostfile,
        {engine, QStringLiteral("train"), QStringLiteral("--config"), at.configPath()},
        runsAsRoot());
    // Every rank reads the same paths: the run folder, its inputs and the engine are copied to
    // each other node at the head's absolute paths.
    const QByteArray configText = QJsonDocument(config).toJson();
    for (qsizetype i = 1; i < req.nodes.size(); ++i) {
        nodes::SshSession other(endpointOf(req.nodes[i]));
        other.makeDirs(at.dir);
        uploadInputs(other, req.config, at.dir);
        other.writeFile(at.configPath(), configText);
        if (!other.exists(engine)) {
            other.makeDirs(QFileInfo(engine).path());
            other.uploadFile(ctx_.localEngine, engine, 0755);
        }
    }
    ssh_.writeFile(hostfile, plan.hostfile.toUtf8());
    const nodes::ExecResult r = ssh_.exec(launch::detachedStart(at.dir, plan.argv).text(), 60000);
    bool ok = false;
    const qint64 pid = QString::fromUtf8(r.out).trimmed().section('\n', -1).toLongLong(&ok);
    if (r.exitStatus != 0 || !ok || pid <= 0)
        throw LaunchError(QStringLiteral("node %1: mpirun did not start: %2")
                              .arg(node_.name, launch::lastLine(r.err + r.out)));
    return pid;
}

bool RemoteRun::runsAsRoot() {
    // The node's user may be left empty (the local user's name): ask the node.
    const nodes::ExecResult r = ssh_.exec(ShellCommand().op("id -u").text(), 30000);
    return r.exitStatus == 0 && r.out.trimmed() == "0";
}

RunLocation RemoteRun::start(const launch::LaunchRequest& req) {
    const QString eng = engine();
    const QString base = runRoot() + '/' + launch::runFolderName(req.runId, req.name);
    QString dir = base;
    for (int n = 2; ssh_.exists(dir); ++n) dir = base + '-' + QString::number(n);
    ssh_.makeDirs(dir);
    RunLocation at{dir, 0};

    QJsonObject config = uploadInputs(ssh_, req.config, dir);
    config = launch::withConfigValue(config, QStringLiteral("output.dir"), dir);
    ssh_.writeFile(at.configPath(), QJsonDocument(config).toJson());

    const nodes::ExecResult check = ssh_.exec(
        ShellCommand{eng, QStringLiteral("validate"), QStringLiteral("--config"), at.configPath()}
            .text(),
        120000);
    if (check.exitStatus != 0)
        throw LaunchError(
            QStringLiteral("node %1: %2").arg(node_.name, launch::lastLine(check.err + check.out)),
            check.exitStatus == 2);

    at.pid = req.nodes.size() > 1 ? startMpi(req, at, eng, config) : startOne(at, eng, req.resume);
    return at;
}

} // namespace bcd::plugins
