#include "nodes/node_probe.h"

#include <QJsonArray>
#include <QRegularExpression>

namespace bcd::nodes {

QJsonObject NodeProbe::toJson() const {
    QJsonArray g;
    for (const auto& x : gpus) {
        QJsonObject o{{"index", x.index},
                      {"name", x.name},
                      {"uuid", x.uuid},
                      {"memory_mib", x.memoryMiB},
                      {"driver", x.driver}};
        if (x.memoryUsedMiB) o["memory_used_mib"] = *x.memoryUsedMiB;
        if (x.utilization) o["utilization"] = *x.utilization;
        if (!x.computeCapability.isEmpty()) o["compute_capability"] = x.computeCapability;
        g.append(o);
    }
    QJsonObject o{
        {"gpus", g},
        {"cpu_only", cpuOnly()},
        {"gpu_source", gpuSource},
        {"gpu_note", gpuNote},
        {"driver", driver},
        {"cpu", QJsonObject{{"name", cpuName}, {"threads", cpuThreads}}},
        {"memory_bytes", memoryBytes},
        {"arch", arch},
        {"engine",
         QJsonObject{{"path", engine}, {"version", engineVersion}, {"note", engineNote}}}};
    if (!slurmVersion.isEmpty() || !partitions.isEmpty()) {
        QJsonArray parts;
        for (const auto& p : partitions) parts.append(p.toJson());
        o["slurm"] = QJsonObject{{"version", slurmVersion}, {"partitions", parts}};
    }
    return o;
}

QJsonObject SlurmPartition::toJson() const {
    return QJsonObject{{"name", name},
                       {"default", isDefault},
                       {"up", up},
                       {"time_limit", timeLimit},
                       {"nodes", nodes},
                       {"states", QJsonArray::fromStringList(states)},
                       {"cpus_per_node", cpusPerNode},
                       {"memory_mib_per_node", memoryMiBPerNode},
                       {"gpus_per_node", gpusPerNode},
                       {"gpu_type", gpuType}};
}

SlurmPartition SlurmPartition::fromJson(const QJsonObject& o) {
    SlurmPartition p;
    p.name = o.value("name").toString();
    p.isDefault = o.value("default").toBool();
    p.up = o.value("up").toBool(true);
    p.timeLimit = o.value("time_limit").toString();
    p.nodes = o.value("nodes").toInt();
    for (const auto& v : o.value("states").toArray()) p.states << v.toString();
    p.cpusPerNode = o.value("cpus_per_node").toInt();
    p.memoryMiBPerNode = o.value("memory_mib_per_node").toInteger();
    p.gpusPerNode = o.value("gpus_per_node").toInt();
    p.gpuType = o.value("gpu_type").toString();
    return p;
}

QString SlurmPartition::summary() const {
    QString s = name + (isDefault ? QStringLiteral(" (default)") : QString());
    if (!up) s += QStringLiteral(" [down]");
    s += QStringLiteral(": %1 node(s) %2").arg(nodes).arg(states.join(' '));
    if (gpusPerNode > 0)
        s += QStringLiteral(", %1× gpu%2 per node")
                 .arg(gpusPerNode)
                 .arg(gpuType.isEmpty() ? QString() : ':' + gpuType);
    else
        s += QStringLiteral(", no GPUs");
    s += QStringLiteral(", %1 CPUs, %2 GiB per node, time limit %3")
             .arg(cpusPerNode)
             .arg(static_cast<double>(memoryMiBPerNode) / 1024.0, 0, 'f', 1)
             .arg(timeLimit);
    return s;
}

NodeProbe NodeProbe::fromJson(const QJsonObject& o) {
    NodeProbe p;
    for (const auto& v : o.value("gpus").toArray()) {
        const QJsonObject x = v.toObject();
        GpuInfo g;
        g.index = x.value("index").toInt();
        g.name = x.value("name").toString();
        g.uuid = x.value("uuid").toString();
        g.memoryMiB = x.value("memory_mib").toInteger();
        if (x.contains("memory_used_mib")) g.memoryUsedMiB = x.value("memory_used_mib").toInteger();
        if (x.contains("utilization")) g.utilization = x.value("utilization").toInt();
        g.driver = x.value("driver").toString();
        g.computeCapability = x.value("compute_capability").toString();
        p.gpus.push_back(g);
    }
    p.gpuSource = o.value("gpu_source").toString();
    p.gpuNote = o.value("gpu_note").toString();
    p.driver = o.value("driver").toString();
    p.cpuName = o.value("cpu").toObject().value("name").toString();
    p.cpuThreads = o.value("cpu").toObject().value("threads").toInt();
    p.memoryBytes = o.value("memory_bytes").toInteger();
    p.arch = o.value("arch").toString();
    const QJsonObject e = o.value("engine").toObject();
    p.engine = e.value("path").toString();
    p.engineVersion = e.value("version").toString();
    p.engineNote = e.value("note").toString();
    const QJsonObject slurm = o.value("slurm").toObject();
    p.slurmVersion = slurm.value("version").toString();
    for (const auto& v : slurm.value("partitions").toArray())
        p.partitions.push_back(SlurmPartition::fromJson(v.toObject()));
    return p;
}

QString NodeProbe::summary() const {
    QString s;
    if (!slurmVersion.isEmpty() || !partitions.isEmpty()) {
        QStringList parts;
        for (const auto& p : partitions) parts << p.summary();
        s = QStringLiteral("Slurm %1, %2 partition(s): %3")
                .arg(slurmVersion.isEmpty() ? QStringLiteral("?") : slurmVersion)
                .arg(partitions.size())
                .arg(parts.join(QStringLiteral("; ")));
        s += engineVersion.isEmpty()
                 ? "; engine: " + (engineNote.isEmpty() ? QStringLiteral("unknown") : engineNote)
                 : "; engine " + engineVersion;
        return s;
    }
    if (cpuOnly()) {
        s = QStringLiteral("CPU-only");
        if (!gpuNote.isEmpty()) s += " (" + gpuNote + ")";
    } else {
        // Alike boards once, with their count: "8× NVIDIA A100-SXM4-80GB 80 GiB", in first-seen
        // order.
        QStringList kinds;
        QList<int> counts;
        for (const auto& g : gpus) {
            const QString kind =
                QStringLiteral("%1 %2 GiB").arg(g.name).arg(g.memoryMiB / 1024.0, 0, 'f', 0);
            const auto at = kinds.indexOf(kind);
            if (at < 0) {
                kinds << kind;
                counts << 1;
            } else {
                ++counts[at];
            }
        }
        for (qsizetype i = 0; i < kinds.size(); ++i)
            if (counts[i] > 1) kinds[i] = QStringLiteral("%1× %2").arg(counts[i]).arg(kinds[i]);
        s = QStringLiteral("%1 GPU(s): %2, driver %3")
                .arg(gpus.size())
                .arg(kinds.join(", "), driver);
    }
    s += QStringLiteral("; %1, %2 threads, %3 GiB")
             .arg(cpuName.isEmpty() ? QStringLiteral("CPU") : cpuName)
             .arg(cpuThreads)
             .arg(static_cast<double>(memoryBytes) / (1024.0 * 1024 * 1024), 0, 'f', 1);
    s += engineVersion.isEmpty()
             ? "; engine: " + (engineNote.isEmpty() ? QStringLiteral("unknown") : engineNote)
             : "; engine " + engineVersion;
    return s;
}

QString parseEngineVersion(const QString& out) {
    static const QRegularExpression re(QStringLiteral("^bcd-train (\\d+\\.\\d+\\.\\d+\\S*)\\s*$"));
    const auto m = re.match(out.trimmed());
    return m.hasMatch() ? m.captured(1) : QString();
}

bool enginesCompatible(const QString& node, const QString& local) {
    const QStringList a = node.split('.'), b = local.split('.');
    return a.size() >= 2 && b.size() >= 2 && a[0] == b[0] && a[1] == b[1];
}

} // namespace bcd::nodes
