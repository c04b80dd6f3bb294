#include "nodes/ssh_probe.h"

#include "nodes/nvidia_smi.h"
#include "nodes/shell_command.h"

namespace bcd::nodes {

QString remoteEngineVersion(SshSession& ssh, const QString& enginePath, QString* note) {
    const ExecResult r =
        ssh.exec(ShellCommand{enginePath, QStringLiteral("--version")}.text(), 60000);
    const QString v = parseEngineVersion(QString::fromUtf8(r.out));
    if (v.isEmpty() && note) {
        const QString err = QString::fromUtf8(r.err).trimmed().section('\n', -1);
        *note = r.exitStatus == 127 ? enginePath + QStringLiteral(" not found")
                                    : QStringLiteral("%1 --version failed (exit %2)%3")
                                          .arg(enginePath)
                                          .arg(r.exitStatus)
                                          .arg(err.isEmpty() ? QString() : ": " + err);
    }
    return v;
}

NodeProbe probeOverSsh(SshSession& ssh, const QString& enginePath) {
    NodeProbe p;
    p.gpuSource = QStringLiteral("nvidia-smi");
    const ExecResult smi = ssh.exec(nvidiaSmiCommand(), 60000);
    const NvidiaSmiResult g = parseNvidiaSmi(smi.out, smi.err, smi.exitStatus);
    p.gpus = g.gpus;
    p.driver = g.driver;
    p.gpuNote = g.note;

    // A fixed script: no argument comes from outside.
    const ExecResult sys =
        ssh.exec(QStringLiteral("nproc; uname -m; grep -m1 '^model name' /proc/cpuinfo; grep -m1 "
                                "'^MemTotal:' /proc/meminfo"),
                 30000);
    for (const QString& raw : QString::fromUtf8(sys.out).split('\n')) {
        const QString line = raw.trimmed();
        bool isNumber = false;
        const int n = line.toInt(&isNumber);
        if (isNumber && p.cpuThreads == 0)
            p.cpuThreads = n;
        else if (line.startsWith(QLatin1String("model name")))
            p.cpuName = line.section(':', 1).trimmed();
        else if (line.startsWith(QLatin1String("MemTotal:")))
            p.memoryBytes = line.mid(9).trimmed().section(' ', 0, 0).toLongLong() * 1024;
        else if (!line.isEmpty() && p.arch.isEmpty() && !isNumber)
            p.arch = line;
    }
    p.engine = enginePath;
    p.engineVersion = remoteEngineVersion(ssh, enginePath, &p.engineNote);
    return p;
}

} // namespace bcd::nodes
