// bcd-workbench: dispatch, the store's default place, and error → exit code.

#include "cli/cli.h"
#include "launch/run_files.h"
#include "nodes/ssh_session.h"
#include "store/store_types.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <cstdio>

#ifndef BCD_WORKBENCH_VERSION
#define BCD_WORKBENCH_VERSION "0.0.0"
#endif

namespace bcd::cli {

namespace {

const char* const kUsage = R"(usage: bcd-workbench [--db FILE] COMMAND ...

The BCD Workbench: nodes, runs and their metrics in one store. Without a command it opens the
GUI (in builds that have it; otherwise it prints this text and exits with 2).

nodes:
  node add NAME --host H [--port P] [--user U] [--identity FILE] [--known-hosts FILE]
           [--engine REMOTE_PATH] [--run-root DIR] [--price-per-hour USD]
           [--accept-new-host-key[=SHA256:...]] [--no-probe]
                             an SSH node; an unknown host key is refused (its fingerprint shown)
                             unless accepted here; a changed one is always refused
  node add NAME --slurm --host LOGIN_HOST [the SSH options above] [--partition P]
           [--account A] [--qos Q] [--time LIMIT] [--nodes N] [--gpus-per-node N]
           [--cpus-per-task N] [--mem-per-task MIB] [--sbatch '#SBATCH --opt=value']...
                             a Slurm cluster through its login host: runs are batch jobs (with
                             these defaults) in --run-root, a folder the cluster's nodes share
  node list [--json]         the nodes ('local' is always one)
  node probe NAME [--json]   GPUs (NVML locally, nvidia-smi over SSH; Slurm: partitions and
                             their GPUs from sinfo), CPU, memory, engine
  node price NAME USD|none [--json]
                             the node's price per hour: new runs get it, and so do its active
                             runs from their current elapsed time (finished runs keep their
                             cost); none clears it (runs keep the prices they had)
  node remove NAME

runs:
  run launch --config RUN.json --node NAME [--node NAME]... [--name N] [--tag T]...
             [--notes TEXT] [--price-per-hour USD] [--processes-per-node N] [--detach]
                             start bcd-train on the node(s) (several: mpirun from the first) and
                             follow it; prints the run's id alone on the last line of stdout;
                             --processes-per-node: N ranks on each node (mpirun; default: one
                             per GPU over several nodes, one on a single node)
  run list [--all] [--json]  the runs (--all: archived ones too)
  run show ID [--json]       the run, its config, events and every step
  run attach ID              follow a run (after a restart: from where the store stopped)
  run resume ID [--detach]   start a stopped run again from its newest checkpoint (a Slurm
                             run: its batch script submitted again) and follow it
  run fork ID [--checkpoint final|step-N] [--set KEY=VALUE]... [--node NAME]... [--name N]
           [--tag T]... [--detach]
                             a new run from a checkpoint of a run, on the run's node (its
                             weights; optimizer and schedule start afresh) with changed settings
                             (--set optim.lr=1e-4); tagged fork-of:ID@CHECKPOINT
  run delete ID [--files]    remove a stopped or finished run from the store (--files: its
                             folder first, on whatever node it is; kept when that fails)
  run archive ID...          hide finished runs from lists (the tag "archived"); nothing
                             is deleted; run unarchive ID... shows them again
  run cancel ID [--grace SECONDS]
                             SIGTERM (the engine checkpoints), SIGKILL after the grace period (30)
  run export ID --csv FILE   the metric points as CSV
  run checkpoints ID         the run's complete checkpoints (final, then step-N newest first),
                             listed where the run lives (this machine, an SSH or Slurm node)
  run sample ID --prompt TEXT [--checkpoint final|step-N] [--max-new N] [--temperature T]
             [--top-p P] [--seed S]
                             bcd-train sample on a checkpoint (default: final, else the newest),
                             on the run's node (Slurm: a job step, queued like any job); the
                             text streams to stdout
  compare ID... [--json]     summaries and config differences

options:
  --db FILE      the store (default: in the user's data folder; printed below)
  --help, -h     this text
  --version      the workbench's version

exit codes: 0 ok (a followed run finished; run cancel: the run is over), 1 failure, 2 bad input
or a host key refusal, 130 a followed run was cancelled or following was interrupted
)";

QString defaultDb() {
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) +
           QStringLiteral("/store.sqlite");
}

int dispatch(const QStringList& all) {
    QStringList rest;
    QString db;
    for (qsizetype i = 0; i < all.size(); ++i) {
        if (all[i] == QLatin1String("--db")) {
            if (i + 1 >= all.size()) throw UsageError(QStringLiteral("--db needs a file"));
            db = all[++i];
        } else if (all[i].startsWith(QLatin1String("--db="))) {
            db = all[i].mid(5);
        } else {
            rest << all[i];
        }
    }
    if (rest.contains(QLatin1String("--help")) || rest.contains(QLatin1String("-h")) ||
        (!rest.isEmpty() && rest.front() == QLatin1String("help"))) {
        std::fputs(kUsage, stdout);
        out(QStringLiteral("default store: ") + defaultDb());
        return kExitOk;
    }
    if (!rest.isEmpty() && rest.front() == QLatin1String("--version")) {
        out(QStringLiteral("bcd-workbench ") + QStringLiteral(BCD_WORKBENCH_VERSION));
        return kExitOk;
    }
    if (rest.isEmpty()) {
        // A build without the GUI (app/main.cpp opens it when it is there): say so, and fail.
        std::fputs(kUsage, stderr);
        err(QStringLiteral(
            "bcd-workbench: this build has no GUI; give a command (node, run, compare)"));
        return kExitBadInput;
    }

    Context ctx;
    ctx.db = db.isEmpty() ? defaultDb() : QFileInfo(db).absoluteFilePath();
    ctx.launcher.localEngine = launch::findLocalEngine();
    ctx.launcher.localRunRoot = QFileInfo(ctx.db).absolutePath() + QStringLiteral("/runs");
    const QString group = rest.takeFirst();
    if (group == QLatin1String("compare")) {
        ctx.args = rest;
        return cmdCompare(ctx);
    }
    if (group != QLatin1String("node") && group != QLatin1String("run"))
        throw UsageError(
            QStringLiteral("unknown command '%1' (expected node, run or compare; see --help)")
                .arg(group));
    if (rest.isEmpty()) throw UsageError(QStringLiteral("%1: which one? (see --help)").arg(group));
    const QString verb = rest.takeFirst();
    ctx.args = rest;
    if (group == QLatin1String("node")) return cmdNode(verb, ctx);
    if (verb == QLatin1String("launch") || verb == QLatin1String("attach") ||
        verb == QLatin1String("resume") || verb == QLatin1String("cancel") ||
        verb == QLatin1String("fork"))
        return cmdFollow(verb, ctx);
    if (verb == QLatin1String("sample") || verb == QLatin1String("checkpoints"))
        return cmdSample(verb, ctx);
    return cmdRun(verb, ctx);
}

} // namespace

void out(const QString& line) {
    std::fputs(line.toLocal8Bit().constData(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void err(const QString& line) {
    std::fputs(line.toLocal8Bit().constData(), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

qint64 parseRunId(const QString& text) {
    bool ok = false;
    const qint64 id = text.toLongLong(&ok);
    if (!ok || id <= 0)
        throw UsageError(
            QStringLiteral("'%1' is not a run id (a positive number; see run list)").arg(text));
    return id;
}

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("bcd-workbench"));
    QCoreApplication::setApplicationVersion(QStringLiteral(BCD_WORKBENCH_VERSION));
    QStringList args = QCoreApplication::arguments();
    args.removeFirst();
    const auto oneLine = [](QString m) { return m.replace('\n', QLatin1String("; ")); };
    try {
        return dispatch(args);
    } catch (const UsageError& e) {
        err(QStringLiteral("bcd-workbench: error: ") + oneLine(QString::fromUtf8(e.what())));
        return kExitBadInput;
    } catch (const launch::LaunchError& e) {
        err(QStringLiteral("bcd-workbench: error: ") + oneLine(QString::fromUtf8(e.what())));
        return e.badInput() ? kExitBadInput : kExitFailure;
    } catch (const nodes::SshError& e) {
        err(QStringLiteral("bcd-workbench: error: ") + oneLine(QString::fromUtf8(e.what())));
        const bool refusal = e.kind() == nodes::SshError::Kind::HostKeyUnknown ||
                             e.kind() == nodes::SshError::Kind::HostKeyChanged;
        return refusal ? kExitBadInput : kExitFailure;
    } catch (const std::exception& e) {
        err(QStringLiteral("bcd-workbench: error: ") + oneLine(QString::fromUtf8(e.what())));
        return kExitFailure;
    }
}

} // namespace bcd::cli
