#include "slurm_fixture.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QRandomGenerator>
#include <QStandardPaths>
#include <QSysInfo>
#include <QTcpServer>
#include <QThread>
#include <csignal>
#ifdef Q_OS_LINUX
#include <sys/prctl.h>
#endif
#include <unistd.h>

namespace bcd::test {

namespace {

QString findTool(const QString& name) {
    const QString onPath = QStandardPaths::findExecutable(name);
    if (!onPath.isEmpty()) return onPath;
    return QStandardPaths::findExecutable(
        name,
        {QStringLiteral("/usr/sbin"), QStringLiteral("/usr/local/sbin"), QStringLiteral("/sbin")});
}

// Two free ports next to each other is not needed: each is asked for on its own.
int freePort() {
    QTcpServer s;
    if (!s.listen(QHostAddress::LocalHost, 0)) return 0;
    return s.serverPort();
}

bool writeFile(const QString& path, const QByteArray& text, QFile::Permissions perms) {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(text) != text.size())
        return false;
    f.close();
    return f.setPermissions(perms);
}

QString tail(const QString& file, int lines) {
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QStringList all = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    return all.mid(std::max<qsizetype>(0, all.size() - lines)).join('\n');
}

} // namespace

SlurmFixture::~SlurmFixture() {
    stop();
}

bool SlurmFixture::required() {
    return qEnvironmentVariable("CI") == QLatin1String("true");
}

bool SlurmFixture::startDaemon(const QString& program, const QStringList& args,
                               const QString& what) {
    auto p = std::make_unique<QProcess>();
    p->setProcessChannelMode(QProcess::MergedChannels);
    p->setStandardOutputFile(dir_ + QStringLiteral("/log/") + what + QStringLiteral(".out"));
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("SLURM_CONF"), conf());
    p->setProcessEnvironment(env);
    // A test that crashes takes its daemons along.
#ifdef Q_OS_LINUX
    p->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
#endif
    p->start(program, args);
    if (!p->waitForStarted(10000)) {
        skipReason_ = QStringLiteral("%1 does not start: %2").arg(program, p->errorString());
        return false;
    }
    daemons_.push_back(std::move(p));
    return true;
}

QByteArray SlurmFixture::client(const QString& tool, const QStringList& args,
                                QString* error) const {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("SLURM_CONF"), conf());
    p.setProcessEnvironment(env);
    p.start(tool, args);
    if (!p.waitForFinished(30000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        if (error)
            *error = QStringLiteral("%1 %2: %3 %4")
                         .arg(tool, args.join(' '), p.errorString(),
                              QString::fromUtf8(p.readAllStandardError()).trimmed());
        return {};
    }
    return p.readAllStandardOutput();
}

bool SlurmFixture::waitForIdleNode(int timeoutMs) {
    const QDeadlineTimer deadline(timeoutMs);
    QString last;
    while (!deadline.hasExpired()) {
        for (const auto& d : daemons_)
            if (d->state() != QProcess::Running) {
                skipReason_ = QStringLiteral("a Slurm daemon stopped at start: ") + logTail();
                return false;
            }
        QString error;
        last = QString::fromUtf8(client(QStringLiteral("sinfo"),
                                        {QStringLiteral("--noheader"), QStringLiteral("--Node"),
                                         QStringLiteral("--format=%T")},
                                        &error))
                   .trimmed();
        if (last.startsWith(QLatin1String("idle"))) return true;
        QThread::msleep(200);
    }
    skipReason_ = QStringLiteral("the Slurm node did not become idle within %1 s (sinfo: '%2'): %3")
                      .arg(timeoutMs / 1000)
                      .arg(last, logTail());
    return false;
}

bool SlurmFixture::start(const QString& dir) {
    dir_ = dir;
    const QString munged = findTool(QStringLiteral("munged"));
    const QString ctld = findTool(QStringLiteral("slurmctld"));
    const QString slurmd = findTool(QStringLiteral("slurmd"));
    const QString sinfo = findTool(QStringLiteral("sinfo"));
    if (munged.isEmpty() || ctld.isEmpty() || slurmd.isEmpty() || sinfo.isEmpty()) {
        skipReason_ = QStringLiteral("Slurm is not installed (munged, slurmctld, slurmd, sinfo: "
                                     "scripts/install-deps.sh --tests installs munge, slurmctld, "
                                     "slurmd and slurm-client)");
        return false;
    }
    if (::geteuid() != 0) {
        skipReason_ = QStringLiteral("the test cluster's slurmd runs jobs as their user and needs "
                                     "root (CI runs as root)");
        return false;
    }
    QDir().mkpath(dir);
    for (const char* sub : {"munge", "state", "spool", "log"}) QDir(dir).mkpath(QLatin1String(sub));
    // munged refuses a socket folder that others cannot traverse.
    for (const QString& d : {dir, dir + QStringLiteral("/munge")})
        QFile::setPermissions(d, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner |
                                     QFile::ReadGroup | QFile::ExeGroup | QFile::ReadOther |
                                     QFile::ExeOther);
    QByteArray key(1024, '\0');
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32*>(key.data()), key.size() / 4);
    const QString keyFile = dir + QStringLiteral("/munge/munge.key");
    if (!writeFile(keyFile, key, QFile::ReadOwner | QFile::WriteOwner)) {
        skipReason_ = QStringLiteral("cannot write ") + keyFile;
        return false;
    }
    const QString socket = dir + QStringLiteral("/munge/munge.socket");
    if (!startDaemon(munged,
                     {QStringLiteral("-F"), QStringLiteral("--key-file=") + keyFile,
                      QStringLiteral("--socket=") + socket,
                      QStringLiteral("--pid-file=") + dir + QStringLiteral("/munge/munged.pid"),
                      QStringLiteral("--log-file=") + dir + QStringLiteral("/log/munged.log"),
                      QStringLiteral("--seed-file=") + dir + QStringLiteral("/munge/munged.seed")},
                     QStringLiteral("munged")))
        return false;
    for (QDeadlineTimer t(10000); !QFile::exists(socket) && !t.hasExpired();) QThread::msleep(50);
    if (!QFile::exists(socket)) {
        skipReason_ = QStringLiteral("munged did not create its socket: ") + logTail();
        return false;
    }

    // slurmctld accepts to be the controller only on the host named in SlurmctldHost.
    const QString host = QSysInfo::machineHostName().section('.', 0, 0);
    const int ctldPort = freePort(), slurmdPort = freePort();
    const QString conf =
        QStringLiteral(
            "ClusterName=bcdtest\n"
            "SlurmctldHost=%1(127.0.0.1)\n"
            "SlurmctldPort=%2\nSlurmdPort=%3\n"
            "SlurmUser=root\nSlurmdUser=root\n"
            "AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=%4\n"
            "StateSaveLocation=%5/state\nSlurmdSpoolDir=%5/spool\n"
            "SlurmctldPidFile=%5/slurmctld.pid\nSlurmdPidFile=%5/slurmd.pid\n"
            "SlurmctldLogFile=%5/log/slurmctld.log\nSlurmdLogFile=%5/log/slurmd.log\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
            "JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n"
            "JobCompType=jobcomp/none\nMpiDefault=none\nMailProg=/bin/true\n"
            "ReturnToService=2\nSchedulerType=sched/builtin\n"
            // A cancelled engine gets KillWait seconds between SIGTERM and SIGKILL to checkpoint;
            // finished jobs stay visible to squeue for MinJobAge seconds.
            "KillWait=15\nMinJobAge=600\nInactiveLimit=0\n"
            "SlurmctldTimeout=30\nSlurmdTimeout=30\n"
            "GresTypes=gpu\nSlurmdParameters=config_overrides\nDebugFlags=NO_CONF_HASH\n"
            "NodeName=bcdnode NodeAddr=127.0.0.1 CPUs=4 RealMemory=4000 Gres=gpu:tiny:2 "
            "State=UNKNOWN\n"
            "PartitionName=cpu Nodes=bcdnode Default=YES MaxTime=INFINITE State=UP\n"
            "PartitionName=gpu Nodes=bcdnode MaxTime=2:00:00 State=UP\n")
            .arg(host)
            .arg(ctldPort)
            .arg(slurmdPort)
            .arg(socket, dir);
    if (!writeFile(this->conf(), conf.toUtf8(),
                   QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther) ||
        !writeFile(dir + QStringLiteral("/gres.conf"),
                   // Slurm counts a GPU per device file; these two stand in for devices (the
                   // tests ask for none).
                   "NodeName=bcdnode Name=gpu Type=tiny File=/dev/null\n"
                   "NodeName=bcdnode Name=gpu Type=tiny File=/dev/zero\n",
                   QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther)) {
        skipReason_ = QStringLiteral("cannot write the Slurm configuration in ") + dir;
        return false;
    }
    if (!startDaemon(ctld, {QStringLiteral("-D"), QStringLiteral("-i")},
                     QStringLiteral("slurmctld")) ||
        !startDaemon(slurmd, {QStringLiteral("-D"), QStringLiteral("-N"), nodeName()},
                     QStringLiteral("slurmd")))
        return false;
    return waitForIdleNode(30000);
}

void SlurmFixture::stop() {
    // No job outlives the cluster: slurmstepd and the engines run apart from slurmd.
    if (!daemons_.empty()) {
        const QStringList jobs =
            QString::fromUtf8(client(QStringLiteral("squeue"),
                                     {QStringLiteral("--noheader"), QStringLiteral("--format=%i")}))
                .split('\n', Qt::SkipEmptyParts);
        if (!jobs.isEmpty()) {
            client(QStringLiteral("scancel"),
                   QStringList{QStringLiteral("--signal=KILL"), QStringLiteral("--full")} + jobs);
            client(QStringLiteral("scancel"), jobs);
            QThread::msleep(500);
        }
    }
    // slurmd first (it ends the jobs' processes), then the controller, then munged.
    for (auto it = daemons_.rbegin(); it != daemons_.rend(); ++it) {
        QProcess& p = **it;
        if (p.state() == QProcess::NotRunning) continue;
        p.terminate();
        if (!p.waitForFinished(10000)) {
            p.kill();
            p.waitForFinished(2000);
        }
    }
    daemons_.clear();
}

QString SlurmFixture::logTail() const {
    QStringList parts;
    for (const char* f : {"slurmctld.log", "slurmd.log", "munged.log", "slurmctld.out",
                          "slurmd.out", "munged.out"}) {
        const QString t = tail(dir_ + QStringLiteral("/log/") + QLatin1String(f), 6);
        if (!t.isEmpty()) parts << QStringLiteral("[%1] %2").arg(QLatin1String(f), t);
    }
    return parts.join('\n');
}

} // namespace bcd::test
