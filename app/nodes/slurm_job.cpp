#include "nodes/slurm_job.h"

#include <QJsonArray>
#include <QRegularExpression>

namespace bcd::nodes {

namespace {

// Options the batch script sets from the run itself; an extra line must not contradict them.
const QStringList& reservedOptions() {
    static const QStringList r{QStringLiteral("job-name"), QStringLiteral("chdir"),
                               QStringLiteral("output"),   QStringLiteral("error"),
                               QStringLiteral("input"),    QStringLiteral("open-mode"),
                               QStringLiteral("wrap"),     QStringLiteral("parsable"),
                               QStringLiteral("ntasks"),   QStringLiteral("ntasks-per-node"),
                               QStringLiteral("array")};
    return r;
}

} // namespace

QJsonObject SlurmJobDefaults::toJson() const {
    QJsonObject o;
    if (!partition.isEmpty()) o["partition"] = partition;
    if (!account.isEmpty()) o["account"] = account;
    if (!qos.isEmpty()) o["qos"] = qos;
    if (!timeLimit.isEmpty()) o["time"] = timeLimit;
    o["nodes"] = nodes;
    o["gpus_per_node"] = gpusPerNode;
    if (cpusPerTask > 0) o["cpus_per_task"] = cpusPerTask;
    if (memPerTaskMiB > 0) o["mem_per_task_mib"] = memPerTaskMiB;
    if (!extraLines.isEmpty()) o["extra"] = QJsonArray::fromStringList(extraLines);
    return o;
}

SlurmJobDefaults SlurmJobDefaults::fromJson(const QJsonObject& o) {
    SlurmJobDefaults d;
    d.partition = o.value("partition").toString();
    d.account = o.value("account").toString();
    d.qos = o.value("qos").toString();
    d.timeLimit = o.value("time").toString();
    d.nodes = o.value("nodes").toInt(1);
    d.gpusPerNode = o.value("gpus_per_node").toInt(0);
    d.cpusPerTask = o.value("cpus_per_task").toInt(0);
    d.memPerTaskMiB = o.value("mem_per_task_mib").toInteger(0);
    for (const auto& v : o.value("extra").toArray()) d.extraLines << v.toString();
    return d;
}

bool isSlurmName(const QString& name) {
    static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9_.-]{1,64}$"));
    return re.match(name).hasMatch();
}

bool isSlurmTimeLimit(const QString& limit) {
    static const QRegularExpression re(
        QStringLiteral("^(UNLIMITED|unlimited|infinite|INFINITE|\\d{1,6}(:\\d{1,2}){0,2}|\\d{1,4}-"
                       "\\d{1,2}(:\\d{1,2}){0,2})$"));
    return re.match(limit).hasMatch();
}

bool isBatchSafePath(const QString& path) {
    static const QRegularExpression re(QStringLiteral("^(/|~/)[A-Za-z0-9_.,/+@%-]*$"));
    return re.match(path).hasMatch() && !path.contains(QLatin1String("/../"));
}

QString checkExtraSbatchLine(const QString& line) {
    static const QRegularExpression re(
        QStringLiteral("^#SBATCH --([a-z][a-z0-9-]{0,39})(=[A-Za-z0-9_.,:=@%/+-]{1,200})?$"));
    const auto m = re.match(line);
    if (!m.hasMatch())
        return QStringLiteral("'%1': expected '#SBATCH --option' or '#SBATCH --option=value' "
                              "(value of letters, digits and _.,:=@%/+-)")
            .arg(line.left(80));
    if (reservedOptions().contains(m.captured(1)))
        return QStringLiteral("'%1': --%2 is set by the workbench from the run")
            .arg(line.left(80), m.captured(1));
    return {};
}

QString SlurmJobDefaults::validate() const {
    if (!partition.isEmpty() && !isSlurmName(partition))
        return QStringLiteral("partition '%1': expected a Slurm name (letters, digits, _ - .)")
            .arg(partition.left(80));
    if (!account.isEmpty() && !isSlurmName(account))
        return QStringLiteral("account '%1': expected a Slurm name (letters, digits, _ - .)")
            .arg(account.left(80));
    if (!qos.isEmpty() && !isSlurmName(qos))
        return QStringLiteral("qos '%1': expected a Slurm name (letters, digits, _ - .)")
            .arg(qos.left(80));
    if (!timeLimit.isEmpty() && !isSlurmTimeLimit(timeLimit))
        return QStringLiteral("time '%1': expected a Slurm time limit (MIN, H:M:S, D-H:M:S or "
                              "UNLIMITED)")
            .arg(timeLimit.left(80));
    if (nodes < 1 || nodes > 4096) return QStringLiteral("nodes: expected 1 to 4096");
    if (gpusPerNode < 0 || gpusPerNode > 64)
        return QStringLiteral("gpus per node: expected 0 to 64");
    if (cpusPerTask < 0 || cpusPerTask > 4096)
        return QStringLiteral("cpus per task: expected 0 (the cluster's default) to 4096");
    if (memPerTaskMiB < 0 || memPerTaskMiB > (qint64(1) << 32))
        return QStringLiteral("memory per task: expected 0 (the cluster's default) or MiB");
    for (const QString& line : extraLines)
        if (const QString why = checkExtraSbatchLine(line); !why.isEmpty())
            return QStringLiteral("extra #SBATCH line %1").arg(why);
    return {};
}

QString SlurmJobDefaults::summary() const {
    QStringList parts;
    parts << (partition.isEmpty() ? QStringLiteral("default partition")
                                  : QStringLiteral("partition ") + partition);
    if (nodes > 1) parts << QStringLiteral("%1 nodes").arg(nodes);
    parts << (gpusPerNode > 0 ? QStringLiteral("%1 GPU(s)/node").arg(gpusPerNode)
                              : QStringLiteral("no GPUs"));
    if (!timeLimit.isEmpty()) parts << QStringLiteral("time ") + timeLimit;
    if (!account.isEmpty()) parts << QStringLiteral("account ") + account;
    if (!qos.isEmpty()) parts << QStringLiteral("qos ") + qos;
    return parts.join(QStringLiteral(", "));
}

} // namespace bcd::nodes
