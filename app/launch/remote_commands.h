#pragma once
// The command lines the workbench runs on nodes, every variable part a quoted argument
// (nodes/shell_command.h), and the plan of a multi-node (mpirun) start.

#include "nodes/node_record.h"
#include "nodes/shell_command.h"

#include <QVector>

namespace bcd::launch {

// cd DIR || exit 1; nohup setsid ARGV... >DIR/engine.out 2>DIR/engine.err </dev/null & echo $!
// The process leaves the SSH session's process group and ignores SIGHUP, so it survives the
// workbench (and the connection) going away; the command prints its pid — the engine's own, as
// nohup and setsid exec (a background command is no process group leader, so setsid does not fork).
nodes::ShellCommand detachedStart(const QString& dir, const QStringList& argv);

// Prints the NUL-separated command line of a process (empty for a zombie, fails when gone).
nodes::ShellCommand processCommandLine(qint64 pid);

// kill -TERM PID / kill -KILL PID.
nodes::ShellCommand signalProcess(qint64 pid, int signal);

// Removing a run folder (LauncherSession::removeRunFolder): a LaunchError(badInput) unless `dir`
// can be one — absolute, not "/", no "." or ".." component; the folder itself must also hold
// launch.json, which the removal checks where the folder lives.
void checkRunFolderPath(const QString& dir);
// cd DIR || exit 3; [ -f launch.json ] || exit 4; cd / && rm -rf -- DIR  (checkRunFolderPath
// first). Exit 3: no such folder (nothing to remove); 4: not a run folder (nothing removed).
nodes::ShellCommand runFolderRemoval(const QString& dir);
inline constexpr int kRemovalNoFolderExit = 3;
inline constexpr int kRemovalNotRunFolderExit = 4;

// Whether a /proc/PID/cmdline text holds `arg` as one of its arguments.
bool commandLineHas(const QByteArray& cmdline, const QString& arg);

struct MpiRank {
    QString host;      // as the head node reaches it
    int slotCount = 1; // processes on that host (its GPUs)
};

struct MpiPlan {
    QString hostfile; // OpenMPI hostfile text: "HOST slots=N" per line
    QStringList argv; // mpirun ... ENGINE train --config CONFIG
    int processes = 0;
};

// The processes (ranks) each node runs: `perNode` when it is ≥ 1; otherwise one per GPU of the
// node's last probe (at least one) on a run over several nodes, and one on a single node. Throws
// LaunchError(badInput) for a count outside 0..1024.
QVector<int> ranksPerNode(const QVector<nodes::NodeRecord>& nodes, int perNode);
// Their sum: the run's world size.
int worldSize(const QVector<nodes::NodeRecord>& nodes, int perNode);

// Several processes on the node the command runs on: mpirun over "localhost" (OpenMPI starts
// them itself, no ssh).
inline constexpr char kLocalMpiHost[] = "localhost";

// One process per slot, ranks in host order, environment forwarded. Throws LaunchError(badInput)
// for a host name that is not a plain host name or address, or a slot count outside 1..1024.
MpiPlan planMpirun(const QVector<MpiRank>& ranks, const QString& hostfilePath,
                   const QStringList& engineArgv, bool runAsRoot,
                   const QString& mpirun = QStringLiteral("mpirun"));

} // namespace bcd::launch
