#include "job_queue.h"

#include <QRegularExpression>
#include <QStringList>
#include <csignal>

namespace bcd::plugins::slurm {

using nodes::ShellCommand;

QString parseSbatchJobId(const QByteArray& out) {
    static const QRegularExpression re(QStringLiteral("^(\\d{1,12})(;[A-Za-z0-9_.-]*)?$"));
    const QString last = QString::fromUtf8(out).trimmed().section('\n', -1).trimmed();
    const auto m = re.match(last);
    return m.hasMatch() ? m.captured(1) : QString();
}

ShellCommand sbatchCommand(const QString& scriptPath) {
    return ShellCommand().op("sbatch").arg(QStringLiteral("--parsable")).arg(scriptPath);
}

ShellCommand squeueCommand(const QString& jobId) {
    return ShellCommand()
        .op("squeue")
        .arg(QStringLiteral("--noheader"))
        .arg(QStringLiteral("--states=all"))
        .arg(QStringLiteral("--jobs=") + jobId)
        .arg(QStringLiteral("--format=%T|%r"));
}

ShellCommand sacctCommand(const QString& jobId) {
    return ShellCommand()
        .op("sacct")
        .arg(QStringLiteral("--noheader"))
        .arg(QStringLiteral("--parsable2"))
        .arg(QStringLiteral("--allocations"))
        .arg(QStringLiteral("--jobs=") + jobId)
        .arg(QStringLiteral("--format=State,Reason"));
}

ShellCommand scancelCommand(const QString& jobId, int signal) {
    ShellCommand c;
    c.op("scancel");
    if (signal == SIGKILL) c.arg(QStringLiteral("--signal=KILL")).arg(QStringLiteral("--full"));
    return c.arg(jobId);
}

namespace {

std::optional<JobState> firstStateLine(const QByteArray& out) {
    static const QRegularExpression state(QStringLiteral("^[A-Z_]{3,32}$"));
    for (const QByteArray& raw : out.split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty()) continue;
        const QStringList f = line.split('|');
        const QString st = f.value(0).section(' ', 0, 0).trimmed();
        if (f.size() < 2 || !state.match(st).hasMatch()) continue;
        return JobState{st, f.value(1).trimmed().left(200)};
    }
    return std::nullopt;
}

} // namespace

std::optional<JobState> parseSqueue(const QByteArray& out) {
    return firstStateLine(out);
}

std::optional<JobState> parseSacct(const QByteArray& out) {
    return firstStateLine(out);
}

bool squeueSaysUnknownJob(const QByteArray& err) {
    return err.contains("Invalid job id");
}

bool jobAlive(const QString& state) {
    static const QStringList alive{QStringLiteral("PENDING"),       QStringLiteral("RUNNING"),
                                   QStringLiteral("CONFIGURING"),   QStringLiteral("COMPLETING"),
                                   QStringLiteral("SUSPENDED"),     QStringLiteral("REQUEUED"),
                                   QStringLiteral("REQUEUE_HOLD"),  QStringLiteral("REQUEUE_FED"),
                                   QStringLiteral("RESIZING"),      QStringLiteral("SIGNALING"),
                                   QStringLiteral("STAGE_OUT"),     QStringLiteral("STOPPED"),
                                   QStringLiteral("RESV_DEL_HOLD"), QStringLiteral("SPECIAL_EXIT")};
    return alive.contains(state);
}

} // namespace bcd::plugins::slurm
