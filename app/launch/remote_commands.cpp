#include "launch/remote_commands.h"

#include "launch/launcher.h"
#include "nodes/node_probe.h"

#include <QHash>
#include <QRegularExpression>
#include <algorithm>
#include <csignal>

namespace bcd::launch {

using nodes::ShellCommand;

ShellCommand detachedStart(const QString& dir, const QStringList& argv) {
    // "cd DIR && CMD &" would put the whole list in a background subshell, and $! would be that
    // subshell's pid, not the engine's: cd stands alone, and only the engine's command goes to
    // the background, so that $! is the process that execs nohup → setsid → the engine.
    ShellCommand c;
    c.op("cd").arg(dir).op("|| exit 1;").op("nohup").op("setsid").args(argv);
    c.redirect(">", dir + QStringLiteral("/engine.out"))
        .redirect("2>", dir + QStringLiteral("/engine.err"))
        .redirect("<", QStringLiteral("/dev/null"))
        .op("&")
        // The pid lands in the run folder too (kEnginePidFile; the shell is in it): a workbench
        // that dies before storing the pid finds the engine by it.
        .op("echo $! > engine.pid; echo $!");
    return c;
}

ShellCommand processCommandLine(qint64 pid) {
    return ShellCommand().op("cat").arg(QStringLiteral("/proc/%1/cmdline").arg(pid));
}

void checkRunFolderPath(const QString& dir) {
    const QStringList parts = dir.split(QLatin1Char('/'), Qt::SkipEmptyParts);
    const bool dotted = std::any_of(parts.begin(), parts.end(), [](const QString& p) {
        return p == QLatin1String(".") || p == QLatin1String("..");
    });
    if (!dir.startsWith(QLatin1Char('/')) || parts.isEmpty() || dotted)
        throw LaunchError(QStringLiteral("refusing to remove '%1': a run folder is an absolute "
                                         "path below the run root, without . or ..")
                              .arg(dir),
                          true);
}

ShellCommand runFolderRemoval(const QString& dir) {
    checkRunFolderPath(dir);
    return ShellCommand()
        .op("cd")
        .arg(dir)
        .op("2>/dev/null || exit 3; [ -f launch.json ] || exit 4; cd / && rm -rf --")
        .arg(dir);
}

ShellCommand signalProcess(qint64 pid, int signal) {
    ShellCommand c;
    c.op("kill");
    if (signal == SIGKILL)
        c.op("-KILL");
    else if (signal == SIGINT)
        c.op("-INT");
    else
        c.op("-TERM");
    return c.arg(pid);
}

bool commandLineHas(const QByteArray& cmdline, const QString& arg) {
    const QByteArray want = arg.toUtf8();
    for (const QByteArray& a : cmdline.split('\0'))
        if (a == want) return true;
    return false;
}

QVector<int> ranksPerNode(const QVector<nodes::NodeRecord>& nodes, int perNode) {
    if (perNode < 0 || perNode > 1024)
        throw LaunchError(
            QStringLiteral("processes per node: %1 (expected 1 to 1024, or 0 for the default)")
                .arg(perNode),
            true);
    QVector<int> ranks;
    for (const nodes::NodeRecord& n : nodes) {
        if (perNode > 0)
            ranks << perNode;
        else if (nodes.size() > 1)
            ranks << std::max(1, static_cast<int>(nodes::NodeProbe::fromJson(n.probe).gpus.size()));
        else
            ranks << 1;
    }
    return ranks;
}

int worldSize(const QVector<nodes::NodeRecord>& nodes, int perNode) {
    int n = 0;
    for (int r : ranksPerNode(nodes, perNode)) n += r;
    return n;
}

MpiPlan planMpirun(const QVector<MpiRank>& ranks, const QString& hostfilePath,
                   const QStringList& engineArgv, bool runAsRoot, const QString& mpirun) {
    static const QRegularExpression hostRe(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9._:-]*$"));
    if (ranks.isEmpty())
        throw LaunchError(QStringLiteral("a multi-node run needs at least one node"), true);
    MpiPlan plan;
    // OpenMPI refuses a hostfile that gives one host's slots twice: nodes on the same host (two
    // node records for one machine) share one line, in the order they first appear.
    QStringList hosts;
    QHash<QString, int> slotsOf;
    for (const MpiRank& r : ranks) {
        if (!hostRe.match(r.host).hasMatch())
            throw LaunchError(QStringLiteral("'%1' is not a host name mpirun can use").arg(r.host),
                              true);
        if (r.slotCount < 1 || r.slotCount > 1024)
            throw LaunchError(
                QStringLiteral("%1: %2 slots (expected 1 to 1024)").arg(r.host).arg(r.slotCount),
                true);
        if (!slotsOf.contains(r.host)) hosts << r.host;
        slotsOf[r.host] += r.slotCount;
        plan.processes += r.slotCount;
    }
    for (const QString& h : hosts)
        plan.hostfile += QStringLiteral("%1 slots=%2\n").arg(h).arg(slotsOf[h]);
    plan.argv << mpirun;
    if (runAsRoot) plan.argv << QStringLiteral("--allow-run-as-root");
    plan.argv << QStringLiteral("--hostfile") << hostfilePath << QStringLiteral("-np")
              << QString::number(plan.processes) << QStringLiteral("--map-by")
              << QStringLiteral("slot") << QStringLiteral("--bind-to") << QStringLiteral("none")
              << QStringLiteral("-x") << QStringLiteral("PATH") << QStringLiteral("-x")
              << QStringLiteral("LD_LIBRARY_PATH");
    plan.argv << engineArgv;
    return plan;
}

} // namespace bcd::launch
