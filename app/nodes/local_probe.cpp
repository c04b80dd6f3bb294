#include "nodes/local_probe.h"

#include "nodes/nvml_gpus.h"

#include <QFile>
#include <QProcess>
#include <QSysInfo>
#include <QThread>

namespace bcd::nodes {

void fillLocalCpu(NodeProbe* p) {
    p->cpuThreads = QThread::idealThreadCount();
    p->arch = QSysInfo::currentCpuArchitecture();
    QFile cpu(QStringLiteral("/proc/cpuinfo"));
    if (cpu.open(QIODevice::ReadOnly))
        for (const QByteArray& line : cpu.readAll().split('\n'))
            if (line.startsWith("model name")) {
                p->cpuName = QString::fromUtf8(line.mid(line.indexOf(':') + 1)).trimmed();
                break;
            }
    QFile mem(QStringLiteral("/proc/meminfo"));
    if (mem.open(QIODevice::ReadOnly))
        for (const QByteArray& line : mem.readAll().split('\n'))
            if (line.startsWith("MemTotal:")) {
                p->memoryBytes = line.mid(9).trimmed().split(' ').value(0).toLongLong() * 1024;
                break;
            }
}

QString localEngineVersion(const QString& enginePath, QString* note) {
    QProcess p;
    p.start(enginePath, {QStringLiteral("--version")});
    if (!p.waitForStarted(10000)) {
        if (note) *note = QStringLiteral("%1 does not start: %2").arg(enginePath, p.errorString());
        return {};
    }
    if (!p.waitForFinished(30000)) {
        p.kill();
        p.waitForFinished(1000);
        if (note) *note = enginePath + QStringLiteral(" --version did not finish");
        return {};
    }
    const QString v = parseEngineVersion(QString::fromUtf8(p.readAllStandardOutput()));
    if (v.isEmpty() && note)
        *note = QStringLiteral("%1 --version printed no version (exit %2)")
                    .arg(enginePath)
                    .arg(p.exitCode());
    return v;
}

NodeProbe probeLocal(const QString& enginePath, const char* nvmlLibrary) {
    NodeProbe p;
    const NvmlResult nvml = probeNvml(nvmlLibrary);
    p.gpus = nvml.gpus;
    p.driver = nvml.driver;
    p.gpuSource = QStringLiteral("nvml");
    p.gpuNote = nvml.note;
    fillLocalCpu(&p);
    p.engine = enginePath;
    p.engineVersion = localEngineVersion(enginePath, &p.engineNote);
    return p;
}

} // namespace bcd::nodes
