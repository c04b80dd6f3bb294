#include "batch_script.h"

#include "launch/launch_outcome.h"
#include "launch/run_config.h"
#include "nodes/shell_command.h"

#include <QRegularExpression>

namespace bcd::plugins::slurm {

using launch::LaunchError;
using nodes::ShellCommand;

QString jobName(qint64 runId, const QString& runName) {
    return QStringLiteral("bcd-%1-%2").arg(runId).arg(launch::runSlug(runName)).left(64);
}

namespace {

bool isEngine(const QString& engine) {
    static const QRegularExpression bare(QStringLiteral("^[A-Za-z0-9_.+-]+$"));
    return nodes::isBatchSafePath(engine) || bare.match(engine).hasMatch();
}

// A comment line may hold anything but a line break; keep it printable and short.
QString commentText(const QString& text) {
    QString s;
    for (const QChar c : text.left(80)) s += c.isPrint() ? c : QChar('?');
    return s;
}

} // namespace

QVector<QPair<QString, QString>> jobOptions(const nodes::SlurmJobDefaults& j) {
    QVector<QPair<QString, QString>> o;
    if (!j.partition.isEmpty()) o.push_back({QStringLiteral("partition"), j.partition});
    if (!j.account.isEmpty()) o.push_back({QStringLiteral("account"), j.account});
    if (!j.qos.isEmpty()) o.push_back({QStringLiteral("qos"), j.qos});
    if (!j.timeLimit.isEmpty()) o.push_back({QStringLiteral("time"), j.timeLimit});
    return o;
}

QStringList sampleSrun(const nodes::SlurmJobDefaults& j, bool gpu) {
    if (const QString why = j.validate(); !why.isEmpty()) throw LaunchError(why, true);
    QStringList a{QStringLiteral("srun")};
    for (const auto& [option, value] : jobOptions(j))
        a << QStringLiteral("--%1=%2").arg(option, value);
    a << QStringLiteral("--nodes=1") << QStringLiteral("--ntasks=1");
    if (j.cpusPerTask > 0) a << QStringLiteral("--cpus-per-task=%1").arg(j.cpusPerTask);
    if (j.memPerTaskMiB > 0) a << QStringLiteral("--mem=%1M").arg(j.memPerTaskMiB);
    if (gpu) a << QStringLiteral("--gres=gpu:1");
    a << QStringLiteral("--quiet");
    return a;
}

QString batchScript(const BatchJob& b) {
    if (const QString why = b.job.validate(); !why.isEmpty()) throw LaunchError(why, true);
    if (!nodes::isBatchSafePath(b.runDir) || (!b.preview && !b.runDir.startsWith('/')))
        throw LaunchError(
            QStringLiteral("run folder '%1': a Slurm run folder must be an absolute path of "
                           "letters, digits and _.,/+@%- (set the node's run root)")
                .arg(b.runDir.left(120)),
            true);
    if (!isEngine(b.engine))
        throw LaunchError(QStringLiteral("engine '%1': expected an absolute path of letters, "
                                         "digits and _.,/+@%-, or a program name")
                              .arg(b.engine.left(120)),
                          true);
    if (b.tasksPerNode < 1 || b.tasksPerNode > 64)
        throw LaunchError(QStringLiteral("tasks per node: expected 1 to 64"), true);
    static const QRegularExpression mpiType(QStringLiteral("^[a-z0-9_]{1,16}$"));
    if (!b.mpi.isEmpty() && !mpiType.match(b.mpi).hasMatch())
        throw LaunchError(
            QStringLiteral("mpi '%1': expected a Slurm MPI type (pmix, pmi2)").arg(b.mpi.left(40)),
            true);

    const nodes::SlurmJobDefaults& j = b.job;
    const int tasks = j.nodes * b.tasksPerNode;
    QStringList s;
    s << QStringLiteral("#!/bin/bash");
    s << QStringLiteral("# BCD Workbench run %1 (%2), written as %3 in its run folder.")
             .arg(b.runId)
             .arg(commentText(b.runName), QLatin1String(kBatchScriptName));
    s << QStringLiteral("# Submitted again (sbatch %1), requeued or restarted, it continues from "
                        "the run's")
             .arg(QLatin1String(kBatchScriptName));
    s << QStringLiteral("# newest complete checkpoint.");
    const auto sbatch = [&s](const QString& option, const QString& value = {}) {
        s << QStringLiteral("#SBATCH --") + option + (value.isEmpty() ? QString() : '=' + value);
    };
    sbatch(QStringLiteral("job-name"), jobName(b.runId, b.runName));
    sbatch(QStringLiteral("chdir"), b.runDir);
    sbatch(QStringLiteral("output"), b.runDir + QStringLiteral("/slurm-%j.out"));
    sbatch(QStringLiteral("open-mode"), QStringLiteral("append"));
    sbatch(QStringLiteral("requeue"));
    for (const auto& [option, value] : jobOptions(j)) sbatch(option, value);
    sbatch(QStringLiteral("nodes"), QString::number(j.nodes));
    sbatch(QStringLiteral("ntasks-per-node"), QString::number(b.tasksPerNode));
    if (j.gpusPerNode > 0) sbatch(QStringLiteral("gpus-per-node"), QString::number(j.gpusPerNode));
    if (j.cpusPerTask > 0) sbatch(QStringLiteral("cpus-per-task"), QString::number(j.cpusPerTask));
    // Memory per node: what each of its tasks needs.
    if (j.memPerTaskMiB > 0)
        sbatch(QStringLiteral("mem"),
               QStringLiteral("%1M").arg(j.memPerTaskMiB * static_cast<qint64>(b.tasksPerNode)));
    if (!j.extraLines.isEmpty()) s << QStringLiteral("# The node's extra lines:");
    for (const QString& line : j.extraLines) s << line;
    s << QString();
    s << QStringLiteral("set -u");
    s << ShellCommand().op("cd").arg(b.runDir).op("|| exit 1").text();
    if (j.cpusPerTask > 0) s << QStringLiteral("export OMP_NUM_THREADS=%1").arg(j.cpusPerTask);
    s << QStringLiteral("# The engine's own rule: a folder that holds a run is continued, never "
                        "overwritten.");
    s << QStringLiteral("resume=");
    s << QStringLiteral("if [ -e run.json ] || [ -e metrics.jsonl ]; then resume=--resume; fi");
    ShellCommand srun;
    srun.op("srun").arg(QStringLiteral("--nodes=%1").arg(j.nodes));
    srun.arg(QStringLiteral("--ntasks=%1").arg(tasks));
    srun.arg(QStringLiteral("--ntasks-per-node=%1").arg(b.tasksPerNode));
    // srun does not take --cpus-per-task from the allocation since Slurm 22.05.
    if (j.cpusPerTask > 0) srun.arg(QStringLiteral("--cpus-per-task=%1").arg(j.cpusPerTask));
    if (!b.mpi.isEmpty()) srun.arg(QStringLiteral("--mpi=") + b.mpi);
    srun.arg(QStringLiteral("--kill-on-bad-exit=1"));
    ShellCommand engine;
    engine.arg(b.engine)
        .arg(QStringLiteral("train"))
        .arg(QStringLiteral("--config"))
        .arg(b.runDir + QStringLiteral("/launch.json"))
        .op("$resume")
        .redirect(">>", QStringLiteral("engine.out"))
        .redirect("2>>", QStringLiteral("engine.err"));
    s << srun.text() + QStringLiteral(" \\");
    s << QStringLiteral("    ") + engine.text();
    s << QString();
    return s.join('\n');
}

} // namespace bcd::plugins::slurm
