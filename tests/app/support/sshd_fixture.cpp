#include "sshd_fixture.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>
#include <csignal>
#include <pwd.h>
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

int freePort() {
    QTcpServer s;
    if (!s.listen(QHostAddress::LocalHost, 0)) return 0;
    return s.serverPort();
}

QString publicKeyText(const QString& pubFile) {
    QFile f(pubFile);
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QStringList parts = QString::fromUtf8(f.readAll()).trimmed().split(' ');
    return parts.size() >= 2 ? parts[0] + ' ' + parts[1] : QString();
}

} // namespace

SshdFixture::~SshdFixture() {
    stop();
}

bool SshdFixture::run(const QString& program, const QStringList& args, QString* error,
                      QByteArray* out) {
    QProcess p;
    p.start(program, args);
    if (!p.waitForStarted(10000) || !p.waitForFinished(60000)) {
        if (error) *error = program + QStringLiteral(": ") + p.errorString();
        return false;
    }
    if (out) *out = p.readAllStandardOutput();
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        if (error)
            *error = QStringLiteral("%1 %2 failed (exit %3): %4")
                         .arg(program, args.join(' '))
                         .arg(p.exitCode())
                         .arg(QString::fromUtf8(p.readAllStandardError()).trimmed());
        return false;
    }
    return true;
}

bool SshdFixture::start(const QString& dir) {
    dir_ = dir;
    const QString sshd = findTool(QStringLiteral("sshd"));
    const QString keygen = findTool(QStringLiteral("ssh-keygen"));
    if (sshd.isEmpty()) {
        skipReason_ = QStringLiteral(
            "sshd not found (install openssh-server: scripts/install-deps.sh --tests)");
        return false;
    }
    if (keygen.isEmpty()) {
        skipReason_ = QStringLiteral("ssh-keygen not found (install openssh-client)");
        return false;
    }
    const passwd* pw = getpwuid(geteuid());
    user_ = pw ? QString::fromLocal8Bit(pw->pw_name) : qEnvironmentVariable("USER");
    QDir().mkpath(dir);
    QString error;
    for (const char* key :
         {"host_ed25519", "other_host_ed25519", "user_ed25519", "wrong_ed25519"}) {
        QFile::remove(dir + '/' + key);
        QFile::remove(dir + '/' + key + QStringLiteral(".pub"));
        if (!run(keygen,
                 {QStringLiteral("-q"), QStringLiteral("-t"), QStringLiteral("ed25519"),
                  QStringLiteral("-N"), QString(), QStringLiteral("-C"), QString::fromLatin1(key),
                  QStringLiteral("-f"), dir + '/' + key},
                 &error)) {
            skipReason_ = QStringLiteral("ssh-keygen cannot make keys: ") + error;
            return false;
        }
    }
    QByteArray fp;
    if (!run(keygen,
             {QStringLiteral("-l"), QStringLiteral("-E"), QStringLiteral("sha256"),
              QStringLiteral("-f"), dir + QStringLiteral("/host_ed25519.pub")},
             &error, &fp)) {
        skipReason_ = error;
        return false;
    }
    hostFingerprint_ = QString::fromUtf8(fp).split(' ').value(1);
    QFile::remove(dir + QStringLiteral("/authorized_keys"));
    QFile::copy(dir + QStringLiteral("/user_ed25519.pub"),
                dir + QStringLiteral("/authorized_keys"));
    QDir().mkpath(binDir());
    QFile::setPermissions(dir + QStringLiteral("/authorized_keys"),
                          QFile::ReadOwner | QFile::WriteOwner);

    // sshd's privilege separation needs this folder; as root it can be made.
    if (!QDir(QStringLiteral("/run/sshd")).exists() && geteuid() == 0)
        QDir().mkpath(QStringLiteral("/run/sshd"));

    QString extraEnv; // every variable on the one SetEnv line
    for (const QString& nv : sessionEnv_) extraEnv += QStringLiteral(" \"%1\"").arg(nv);
    for (int attempt = 0; attempt < 3; ++attempt) {
        port_ = freePort();
        QFile cfg(dir + QStringLiteral("/sshd_config"));
        if (!cfg.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
            skipReason_ = QStringLiteral("cannot write ") + cfg.fileName();
            return false;
        }
        cfg.write(
            QStringLiteral(
                "Port %1\nListenAddress 127.0.0.1\nHostKey %2/host_ed25519\nPidFile %2/sshd.pid\n"
                "AuthorizedKeysFile %2/authorized_keys\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\nStrictModes "
                "no\n"
                "PermitRootLogin prohibit-password\nX11Forwarding no\nAllowTcpForwarding no\n"
                "Subsystem sftp internal-sftp\nLogLevel ERROR\nMaxStartups 50\n"
                "SetEnv "
                "\"PATH=%3:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"%4\n")
                .arg(port_)
                .arg(dir, binDir(), extraEnv)
                .toUtf8());
        cfg.close();
        sshd_.setProcessChannelMode(QProcess::MergedChannels);
        // A test that crashes takes its sshd along (no server left listening).
#ifdef Q_OS_LINUX
        sshd_.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
#endif
        sshd_.start(sshd, {QStringLiteral("-D"), QStringLiteral("-e"), QStringLiteral("-f"),
                           cfg.fileName()});
        if (!sshd_.waitForStarted(10000)) {
            skipReason_ = QStringLiteral("sshd does not start: ") + sshd_.errorString();
            return false;
        }
        const QDeadlineTimer deadline(10000);
        while (!deadline.hasExpired() && sshd_.state() == QProcess::Running) {
            QTcpSocket probe;
            probe.connectToHost(QHostAddress::LocalHost, static_cast<quint16>(port_));
            if (probe.waitForConnected(200)) return true;
            QThread::msleep(50);
        }
        sshd_.waitForFinished(2000);
        skipReason_ = QStringLiteral("sshd did not start listening on 127.0.0.1:%1: %2")
                          .arg(port_)
                          .arg(QString::fromUtf8(sshd_.readAll()).trimmed());
        sshd_.kill();
        sshd_.waitForFinished(2000);
    }
    return false;
}

void SshdFixture::stop() {
    if (sshd_.state() != QProcess::NotRunning) {
        sshd_.terminate();
        if (!sshd_.waitForFinished(5000)) {
            sshd_.kill();
            sshd_.waitForFinished(2000);
        }
    }
}

QString SshdFixture::takeLog() {
    while (sshd_.waitForReadyRead(100)) {
    }
    return QString::fromUtf8(sshd_.readAll());
}

QString SshdFixture::knownHostsLine() const {
    return QStringLiteral("[127.0.0.1]:%1 %2\n")
        .arg(port_)
        .arg(publicKeyText(dir_ + QStringLiteral("/host_ed25519.pub")));
}

QString SshdFixture::otherKnownHostsLine() const {
    return QStringLiteral("[127.0.0.1]:%1 %2\n")
        .arg(port_)
        .arg(publicKeyText(dir_ + QStringLiteral("/other_host_ed25519.pub")));
}

nodes::SshEndpoint SshdFixture::endpoint(const QString& knownHosts, const QString& identity) const {
    nodes::SshEndpoint ep;
    ep.host = QStringLiteral("127.0.0.1");
    ep.port = port_;
    ep.user = user_;
    ep.identity = identity.isEmpty() ? userKey() : identity;
    ep.knownHosts = knownHosts;
    ep.timeoutSeconds = 10;
    return ep;
}

nodes::NodeRecord SshdFixture::node(const QString& name, const QString& knownHosts,
                                    const QString& engine) const {
    QFile kh(knownHosts);
    if (!kh.open(QIODevice::WriteOnly | QIODevice::Truncate) ||
        kh.write(knownHostsLine().toUtf8() + '\n') < 0)
        return {};
    nodes::NodeRecord n;
    n.name = name;
    n.kind = QStringLiteral("ssh");
    n.host = QStringLiteral("127.0.0.1");
    n.port = port_;
    n.user = user_;
    n.identity = userKey();
    n.knownHosts = knownHosts;
    n.engine = engine;
    return n;
}

} // namespace bcd::test
