#include "nodes/slurm_probe.h"

#include <QMap>
#include <QRegularExpression>
#include <QSet>

namespace bcd::nodes {

QStringList sinfoArguments() {
    return {QStringLiteral("--noheader"), QStringLiteral("--Node"),
            QStringLiteral("--format=%P|%a|%l|%N|%T|%c|%m|%G")};
}

int gresGpus(const QString& gres, QString* type) {
    int total = 0;
    // Entries are comma-separated, but a socket list "(S:0-1)" may hold commas too.
    static const QRegularExpression entry(
        QStringLiteral("(?:^|,)gpu(?::([A-Za-z0-9_.-]+))?:(\\d+)(?:\\([^)]*\\))?"));
    auto it = entry.globalMatch(gres);
    while (it.hasNext()) {
        const auto m = it.next();
        bool ok = false;
        const int n = m.captured(2).toInt(&ok);
        if (!ok || n < 0 || n > 4096) continue;
        total += n;
        if (type && type->isEmpty()) *type = m.captured(1);
    }
    return total;
}

QVector<SlurmPartition> parseSinfo(const QByteArray& out, int* skipped) {
    struct Acc {
        SlurmPartition p;
        QSet<QString> nodes;
        QMap<QString, int> states;
        bool first = true;
    };
    QVector<Acc> parts;
    int bad = 0;
    for (const QByteArray& raw : out.split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty()) continue;
        const QStringList f = line.split('|');
        bool okCpus = false, okMem = false;
        const int cpus = f.size() == 8 ? f[5].trimmed().toInt(&okCpus) : 0;
        // Memory may carry a '+' when nodes differ ("4000+").
        const qint64 mem =
            f.size() == 8 ? QString(f[6]).remove('+').trimmed().toLongLong(&okMem) : 0;
        QString name = f.value(0).trimmed();
        const bool isDefault = name.endsWith('*');
        if (isDefault) name.chop(1);
        if (f.size() != 8 || !okCpus || !okMem || name.isEmpty() || name.contains('*') ||
            cpus < 0 || mem < 0) {
            ++bad;
            continue;
        }
        auto at = std::find_if(parts.begin(), parts.end(),
                               [&](const Acc& a) { return a.p.name == name; });
        if (at == parts.end()) {
            parts.push_back({});
            at = parts.end() - 1;
            at->p.name = name;
        }
        Acc& a = *at;
        a.p.isDefault = a.p.isDefault || isDefault;
        a.p.up = f[1].trimmed() == QLatin1String("up");
        a.p.timeLimit = f[2].trimmed();
        QString gpuType;
        const int gpus = gresGpus(f[7].trimmed(), &gpuType);
        // The state as sinfo prints it, less the markers of its flags ("idle*" not responding,
        // "drain~", ...): the count per state is what a person reads.
        QString state = f[4].trimmed();
        while (!state.isEmpty() && !state.back().isLetter()) state.chop(1);
        if (!a.nodes.contains(f[3])) {
            a.nodes.insert(f[3]);
            a.states[state.isEmpty() ? QStringLiteral("unknown") : state] += 1;
        }
        if (a.first) {
            a.p.cpusPerNode = cpus;
            a.p.memoryMiBPerNode = mem;
            a.p.gpusPerNode = gpus;
            a.p.gpuType = gpuType;
            a.first = false;
        } else {
            a.p.cpusPerNode = std::min(a.p.cpusPerNode, cpus);
            a.p.memoryMiBPerNode = std::min(a.p.memoryMiBPerNode, mem);
            a.p.gpusPerNode = std::min(a.p.gpusPerNode, gpus);
            if (a.p.gpuType.isEmpty()) a.p.gpuType = gpuType;
        }
    }
    QVector<SlurmPartition> result;
    for (Acc& a : parts) {
        a.p.nodes = static_cast<int>(a.nodes.size());
        for (auto it = a.states.cbegin(); it != a.states.cend(); ++it)
            a.p.states << QStringLiteral("%1:%2").arg(it.key()).arg(it.value());
        result.push_back(a.p);
    }
    if (skipped) *skipped = bad;
    return result;
}

QString parseSlurmVersion(const QByteArray& out) {
    static const QRegularExpression re(
        QStringLiteral("^slurm(?:-wlm)? (\\d+\\.\\d+[0-9A-Za-z.-]*)$"));
    const auto m = re.match(QString::fromUtf8(out).trimmed());
    return m.hasMatch() ? m.captured(1) : QString();
}

} // namespace bcd::nodes
