#include "remote_run.h"

#include "launch/remote_commands.h"
#include "launch/run_files.h"
#include "nodes/node_probe.h"
#include "nodes/shell_command.h"

#include <QFileInfo>
#include <QJsonDocument>

namespace bcd::plugins {

using launch::LaunchError;
using launch::RunLocation;
using nodes::ShellCommand;

qint64 RemoteRun::startOne(const RunLocation& at, const QString& engine, bool resume) {
    QStringList argv{engine, QStringLiteral("train"), QStringLiteral("--config"), at.configPath()};
    if (resume) argv << QStringLiteral("--resume");
    const nodes::ExecResult r = node_.ssh().exec(launch::detachedStart(at.dir, argv).text(), 60000);
    bool ok = false;
    const qint64 pid = QString::fromUtf8(r.out).trimmed().section('\n', -1).toLongLong(&ok);
    if (r.exitStatus != 0 || !ok || pid <= 0)
        throw LaunchError(QStringLiteral("node %1: the engine did not start: %2")
                              .arg(node_.node().name, launch::lastLine(r.err + r.out)));
    return pid;
}

qint64 RemoteRun::startMpi(const launch::LaunchRequest& req, const RunLocation& at,
                           const QString& engine, const QJsonObject& config) {
    // Without mpirun on the head, nohup would fail after `echo $!` has printed a pid, and the run
    // would look started; say what is missing before anything is copied.
    if (node_.ssh()
            .exec(ShellCommand().op("command -v").arg(QStringLiteral("mpirun")).text(), 30000)
            .exitStatus != 0)
        throw LaunchError(
            QStringLiteral(
                "node %1: mpirun is not on its PATH; a run of several processes needs OpenMPI on "
                "the head node (Debian: apt install openmpi-bin)")
                .arg(node_.node().name));
    // Several processes on one node: mpirun starts them there itself ("localhost"), with no ssh
    // to the node's own name, which it might not reach.
    const QVector<int> perNode = launch::ranksPerNode(req.nodes, req.processesPerNode);
    QVector<launch::MpiRank> ranks;
    for (qsizetype i = 0; i < req.nodes.size(); ++i)
        ranks.push_back(
            {req.nodes.size() == 1 ? QString::fromLatin1(launch::kLocalMpiHost) : req.nodes[i].host,
             perNode[i]});
    const QString hostfile = at.dir + QStringLiteral("/hostfile");
    const launch::MpiPlan plan = launch::planMpirun(
        ranks, hostfile,
        {engine, QStringLiteral("train"), QStringLiteral("--config"), at.configPath()},
        runsAsRoot());
    // Every rank reads the same paths: the run folder, its inputs and the engine are copied to
    // each other node at the head's absolute paths.
    const QByteArray configText = QJsonDocument(config).toJson();
    for (qsizetype i = 1; i < req.nodes.size(); ++i) {
        nodes::SshSession other(sdk::endpointOf(req.nodes[i]));
        other.makeDirs(at.dir);
        sdk::RemoteNode::uploadInputs(other, req.config, at.dir);
        other.writeFile(at.configPath(), configText);
        if (!other.exists(engine)) {
            other.makeDirs(QFileInfo(engine).path());
            other.uploadFile(ctx_.localEngine, engine, 0755);
        }
    }
    node_.ssh().writeFile(hostfile, plan.hostfile.toUtf8());
    const nodes::ExecResult r =
        node_.ssh().exec(launch::detachedStart(at.dir, plan.argv).text(), 60000);
    bool ok = false;
    const qint64 pid = QString::fromUtf8(r.out).trimmed().section('\n', -1).toLongLong(&ok);
    if (r.exitStatus != 0 || !ok || pid <= 0)
        throw LaunchError(QStringLiteral("node %1: mpirun did not start: %2")
                              .arg(node_.node().name, launch::lastLine(r.err + r.out)));
    return pid;
}

qint64 RemoteRun::resumeMpi(const RunLocation& at, const QString& engine, const QString& hostfile) {
    const std::optional<QByteArray> text = node_.ssh().readFile(hostfile, 0, 1 << 20);
    QVector<launch::MpiRank> ranks;
    for (const QByteArray& line : text.value_or(QByteArray()).split('\n')) {
        const QList<QByteArray> f = line.simplified().split(' ');
        if (f.size() == 2 && f[1].startsWith("slots="))
            ranks.push_back({QString::fromUtf8(f[0]), f[1].mid(6).toInt()});
    }
    if (ranks.isEmpty())
        throw LaunchError(QStringLiteral("node %1: %2 names no host to resume the run on")
                              .arg(node_.node().name, hostfile));
    const launch::MpiPlan plan =
        launch::planMpirun(ranks, hostfile,
                           {engine, QStringLiteral("train"), QStringLiteral("--config"),
                            at.configPath(), QStringLiteral("--resume")},
                           runsAsRoot());
    const nodes::ExecResult r =
        node_.ssh().exec(launch::detachedStart(at.dir, plan.argv).text(), 60000);
    bool ok = false;
    const qint64 pid = QString::fromUtf8(r.out).trimmed().section('\n', -1).toLongLong(&ok);
    if (r.exitStatus != 0 || !ok || pid <= 0)
        throw LaunchError(QStringLiteral("node %1: mpirun did not start: %2")
                              .arg(node_.node().name, launch::lastLine(r.err + r.out)));
    return pid;
}

bool RemoteRun::runsAsRoot() {
    // The node's user may be left empty (the local user's name): ask the node.
    const nodes::ExecResult r = node_.ssh().exec(ShellCommand().op("id -u").text(), 30000);
    return r.exitStatus == 0 && r.out.trimmed() == "0";
}

RunLocation RemoteRun::start(const launch::LaunchRequest& req) {
    const QString eng = node_.engine();
    sdk::RemoteNode::PreparedRun p = node_.prepareRun(req, eng);
    p.at.pid = launch::worldSize(req.nodes, req.processesPerNode) > 1
                   ? startMpi(req, p.at, eng, p.config)
                   : startOne(p.at, eng, false);
    return p.at;
}

RunLocation RemoteRun::resume(const RunLocation& at) {
    if (!at.jobId.isEmpty() || at.dir.isEmpty())
        throw LaunchError(
            QStringLiteral("node %1: no run folder to resume").arg(node_.node().name));
    RunLocation next{at.dir, 0, {}};
    // A run over several nodes resumes on the same ones, from the hostfile its start left in the
    // run folder: the engine refuses another number of ranks (its checkpoint records them).
    const QString hostfile = at.dir + QStringLiteral("/hostfile");
    next.pid = node_.ssh().exists(hostfile) ? resumeMpi(next, node_.engine(), hostfile)
                                            : startOne(next, node_.engine(), true);
    return next;
}

} // namespace bcd::plugins
