// SshSession (app/nodes/ssh_session.cpp) against a real OpenSSH server (SshdFixture): host keys
// checked against known_hosts (unknown: refused until accepted with its fingerprint; changed:
// refused, known_hosts untouched), public-key authentication, and exec with output, exit status
// and timeout.

#include "nodes/shell_command.h"
#include "nodes/ssh_session.h"
#include "sshd_fixture.h"
#include "test_runs.h"

#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QScopeGuard>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTest>
#include <csignal>

using bcd::nodes::HostKeyTrust;
using bcd::nodes::ShellCommand;
using bcd::nodes::SshError;
using bcd::nodes::SshSession;

namespace {

QByteArray readAll(const QString& file) {
    QFile f(file);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool writeAll(const QString& file, const QByteArray& data) {
    QFile f(file);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(data) == data.size();
}

const char* kindName(SshError::Kind k) {
    switch (k) {
    case SshError::Kind::Connect:
        return "Connect";
    case SshError::Kind::HostKeyUnknown:
        return "HostKeyUnknown";
    case SshError::Kind::HostKeyChanged:
        return "HostKeyChanged";
    case SshError::Kind::Auth:
        return "Auth";
    case SshError::Kind::Command:
        return "Command";
    case SshError::Kind::Sftp:
        return "Sftp";
    case SshError::Kind::Timeout:
        return "Timeout";
    }
    return "?";
}

// The error a connection attempt ends with; nullopt when it connects.
template <class F> std::optional<SshError> failure(F&& f) {
    try {
        f();
    } catch (const SshError& e) {
        return e;
    }
    return std::nullopt;
}

bool processAlive(qint64 pid) {
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

} // namespace

#define EXPECT_SSH_ERROR(error, wantKind)                                                          \
    do {                                                                                           \
        QVERIFY2((error).has_value(), "connected, but should not have");                           \
        QVERIFY2((error)->kind() == (wantKind),                                                    \
                 qPrintable(QStringLiteral("%1: %2").arg(QLatin1String(kindName((error)->kind())), \
                                                         QString::fromUtf8((error)->what()))));    \
    } while (false)

class TestSshSession : public QObject {
    Q_OBJECT
private:
    bcd::test::SshdFixture sshd_;
    QString dir_;
    QString known_; // known_hosts holding the server's real key

    QString knownHostsWith(const QString& name, const QString& content) {
        const QString file = dir_ + '/' + name;
        QFile::remove(file);
        if (!content.isNull() && !writeAll(file, content.toUtf8()))
            qFatal("cannot write %s", qPrintable(file));
        return file;
    }

private slots:
    void initTestCase() {
        dir_ = bcd::test::freshDir(QStringLiteral("sshsession"));
        if (!sshd_.start(dir_ + QStringLiteral("/sshd"))) QSKIP(qPrintable(sshd_.skipReason()));
        known_ = knownHostsWith(QStringLiteral("known_hosts"), sshd_.knownHostsLine());
        QVERIFY(sshd_.hostFingerprint().startsWith(QLatin1String("SHA256:")));
    }

    void knownHostConnectsAndRuns() {
        SshSession ssh(sshd_.endpoint(known_));
        QCOMPARE(ssh.hostKey().type, QStringLiteral("ssh-ed25519"));
        QCOMPARE(ssh.hostKey().sha256, sshd_.hostFingerprint());
        QVERIFY(!ssh.hostKeyAdded());
        QCOMPARE(ssh.endpoint().display(),
                 QStringLiteral("%1@127.0.0.1:%2").arg(sshd_.user()).arg(sshd_.port()));

        const auto r =
            ssh.exec(QStringLiteral("echo out; echo err >&2; printf 'no newline'; exit 3"));
        QCOMPARE(r.out, QByteArray("out\nno newline"));
        QCOMPARE(r.err, QByteArray("err\n"));
        QCOMPARE(r.exitStatus, 3);
        const auto ok = ssh.exec(QStringLiteral("true"));
        QCOMPARE(ok.exitStatus, 0);
        QVERIFY(ok.out.isEmpty() && ok.err.isEmpty());
        // The remote user is the one asked for.
        QCOMPARE(ssh.exec(QStringLiteral("id -un")).out.trimmed(), sshd_.user().toUtf8());
        // Nothing on stdin: a command reading it sees the end at once.
        QCOMPARE(ssh.exec(QStringLiteral("cat; echo done")).out, QByteArray("done\n"));
    }

    // Everything is read before the exit status is asked for, whatever the size.
    void largeOutputOnBothStreams() {
        SshSession ssh(sshd_.endpoint(known_));
        const auto r = ssh.exec(QStringLiteral("head -c 3000000 /dev/zero | tr '\\0' o; head -c "
                                               "200000 /dev/zero | tr '\\0' e >&2; exit 7"));
        QCOMPARE(r.exitStatus, 7);
        QCOMPARE(r.out.size(), 3000000);
        QCOMPARE(r.err.size(), 200000);
        QCOMPARE(r.out.count('o'), 3000000);
        QCOMPARE(r.err.count('e'), 200000);
    }

    // Quoted words travel through the remote login shell intact (DESIGN.md §4).
    void quotedWordsReachTheRemoteProgram() {
        SshSession ssh(sshd_.endpoint(known_));
        const QStringList words{QStringLiteral("two words"),
                                QStringLiteral("it's"),
                                QStringLiteral("$(touch MARKER)"),
                                QStringLiteral("`touch MARKER`"),
                                QStringLiteral("; touch MARKER"),
                                QStringLiteral("*"),
                                QString(),
                                QStringLiteral("line\nbreak"),
                                QStringLiteral("ünïcødé ✓")};
        const QString marker = dir_ + QStringLiteral("/MARKER");
        ShellCommand c{QStringLiteral("cd"), dir_};
        c.op("&&").arg(QStringLiteral("printf")).arg(QStringLiteral("%s\\0")).args(words);
        const auto r = ssh.exec(c.text());
        QCOMPARE(r.exitStatus, 0);
        QStringList got = QString::fromUtf8(r.out).split(QChar(0));
        QCOMPARE(got.takeLast(), QString()); // after the last NUL
        QCOMPARE(got, words);
        QVERIFY(!QFile::exists(marker));
    }

    void unknownHostKeyRefused() {
        const QString file = knownHostsWith(QStringLiteral("known_hosts-absent"), QString());
        const auto e = failure([&] { SshSession(sshd_.endpoint(file)); });
        EXPECT_SSH_ERROR(e, SshError::Kind::HostKeyUnknown);
        // The fingerprint shown is ssh-keygen's.
        QCOMPARE(e->hostKey().sha256, sshd_.hostFingerprint());
        QCOMPARE(e->hostKey().type, QStringLiteral("ssh-ed25519"));
        QVERIFY2(QString::fromUtf8(e->what()).contains(sshd_.hostFingerprint()), e->what());
        QVERIFY(!QFile::exists(file));

        // Another host's entry in the file does not help.
        const QString other =
            knownHostsWith(QStringLiteral("known_hosts-other-host"),
                           sshd_.knownHostsLine().replace(QStringLiteral("[127.0.0.1]"),
                                                          QStringLiteral("[10.9.8.7]")));
        const QByteArray before = readAll(other);
        EXPECT_SSH_ERROR(failure([&] { SshSession(sshd_.endpoint(other)); }),
                         SshError::Kind::HostKeyUnknown);
        QCOMPARE(readAll(other), before);
    }

    void acceptNewWithTheShownFingerprint() {
        const QString file = knownHostsWith(QStringLiteral("known_hosts-accept"), QString());
        const auto e = failure([&] { SshSession(sshd_.endpoint(file)); });
        EXPECT_SSH_ERROR(e, SshError::Kind::HostKeyUnknown);
        {
            SshSession ssh(sshd_.endpoint(file), HostKeyTrust::AcceptNew, e->hostKey().sha256);
            QVERIFY(ssh.hostKeyAdded());
            QCOMPARE(ssh.exec(QStringLiteral("echo hi")).out, QByteArray("hi\n"));
        }
        // ssh-keygen finds the entry that was written.
        QByteArray found;
        QString error;
        QVERIFY2(bcd::test::SshdFixture::run(QStringLiteral("ssh-keygen"),
                                             {QStringLiteral("-F"),
                                              QStringLiteral("[127.0.0.1]:%1").arg(sshd_.port()),
                                              QStringLiteral("-f"), file},
                                             &error, &found),
                 qPrintable(error));
        QVERIFY2(found.contains("ssh-ed25519"), found.constData());
        // From now on the key is known.
        SshSession again(sshd_.endpoint(file));
        QVERIFY(!again.hostKeyAdded());
        QCOMPARE(again.exec(QStringLiteral("echo again")).out, QByteArray("again\n"));
    }

    // AcceptNew without a fingerprint: what `node add --accept-new-host-key` does.
    void acceptNewWithoutFingerprint() {
        const QString file = knownHostsWith(QStringLiteral("sub/dir/known_hosts"), QString());
        SshSession ssh(sshd_.endpoint(file), HostKeyTrust::AcceptNew);
        QVERIFY(ssh.hostKeyAdded());
        QVERIFY(readAll(file).contains(
            QStringLiteral("[127.0.0.1]:%1 ssh-ed25519 ").arg(sshd_.port()).toUtf8()));
        SshSession again(sshd_.endpoint(file), HostKeyTrust::AcceptNew);
        QVERIFY(!again.hostKeyAdded());
    }

    void acceptNewWithAnotherFingerprintRefused() {
        const QString file = knownHostsWith(QStringLiteral("known_hosts-wrong-fp"), QString());
        const QString wrong = QStringLiteral("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
        const auto e =
            failure([&] { SshSession(sshd_.endpoint(file), HostKeyTrust::AcceptNew, wrong); });
        EXPECT_SSH_ERROR(e, SshError::Kind::HostKeyUnknown);
        QCOMPARE(e->hostKey().sha256, sshd_.hostFingerprint());
        QVERIFY2(QString::fromUtf8(e->what()).contains(wrong), e->what());
        QVERIFY(!QFile::exists(file));
    }

    void changedHostKeyRefused_data() {
        QTest::addColumn<int>("trust");
        QTest::addColumn<bool>("withFingerprint");
        QTest::newRow("known only") << int(HostKeyTrust::KnownOnly) << false;
        QTest::newRow("accept new") << int(HostKeyTrust::AcceptNew) << false;
        QTest::newRow("accept new, this very fingerprint") << int(HostKeyTrust::AcceptNew) << true;
    }
    void changedHostKeyRefused() {
        QFETCH(int, trust);
        QFETCH(bool, withFingerprint);
        const QString file =
            knownHostsWith(QStringLiteral("known_hosts-changed"), sshd_.otherKnownHostsLine());
        const QByteArray before = readAll(file);
        const auto e = failure([&] {
            SshSession(sshd_.endpoint(file), HostKeyTrust(trust),
                       withFingerprint ? sshd_.hostFingerprint() : QString());
        });
        EXPECT_SSH_ERROR(e, SshError::Kind::HostKeyChanged);
        QCOMPARE(e->hostKey().sha256, sshd_.hostFingerprint());
        QVERIFY2(QString::fromUtf8(e->what()).contains(QLatin1String("CHANGED")), e->what());
        QCOMPARE(readAll(file), before);
    }

    // known_hosts holds a key of another type for this server (SSH_KNOWN_HOSTS_OTHER): refused too.
    void otherKeyTypeRefused() {
        const QString key = dir_ + QStringLiteral("/ecdsa_host");
        QFile::remove(key);
        QFile::remove(key + QStringLiteral(".pub"));
        QString error;
        QVERIFY2(bcd::test::SshdFixture::run(QStringLiteral("ssh-keygen"),
                                             {QStringLiteral("-q"), QStringLiteral("-t"),
                                              QStringLiteral("ecdsa"), QStringLiteral("-N"),
                                              QString(), QStringLiteral("-f"), key},
                                             &error),
                 qPrintable(error));
        const QStringList pub = QString::fromUtf8(readAll(key + QStringLiteral(".pub"))).split(' ');
        const QString file = knownHostsWith(
            QStringLiteral("known_hosts-ecdsa"),
            QStringLiteral("[127.0.0.1]:%1 %2 %3\n").arg(sshd_.port()).arg(pub[0], pub[1]));
        const QByteArray before = readAll(file);
        const auto e = failure([&] { SshSession(sshd_.endpoint(file), HostKeyTrust::AcceptNew); });
        EXPECT_SSH_ERROR(e, SshError::Kind::HostKeyChanged);
        QCOMPARE(readAll(file), before);
    }

    void wrongUserKeyRefused() {
        const auto e = failure([&] { SshSession(sshd_.endpoint(known_, sshd_.wrongUserKey())); });
        EXPECT_SSH_ERROR(e, SshError::Kind::Auth);
        const QString msg = QString::fromUtf8(e->what());
        QVERIFY2(msg.contains(QLatin1String("did not accept")) &&
                     msg.contains(sshd_.wrongUserKey()) && msg.contains(QLatin1String("SHA256:")),
                 e->what());
    }

    void unreadableIdentityRefused() {
        const QString missing = dir_ + QStringLiteral("/no-such-key");
        const auto e = failure([&] { SshSession(sshd_.endpoint(known_, missing)); });
        EXPECT_SSH_ERROR(e, SshError::Kind::Auth);
        QVERIFY2(QString::fromUtf8(e->what()).contains(missing), e->what());
        // A public key where the private one belongs.
        const auto pub = failure(
            [&] { SshSession(sshd_.endpoint(known_, sshd_.userKey() + QStringLiteral(".pub"))); });
        EXPECT_SSH_ERROR(pub, SshError::Kind::Auth);
        // A key locked by a passphrase: the message says to use the agent.
        const QString locked = dir_ + QStringLiteral("/locked_ed25519");
        QFile::remove(locked);
        QFile::remove(locked + QStringLiteral(".pub"));
        QString error;
        QVERIFY2(bcd::test::SshdFixture::run(
                     QStringLiteral("ssh-keygen"),
                     {QStringLiteral("-q"), QStringLiteral("-t"), QStringLiteral("ed25519"),
                      QStringLiteral("-N"), QStringLiteral("secret"), QStringLiteral("-f"), locked},
                     &error),
                 qPrintable(error));
        const auto e2 = failure([&] { SshSession(sshd_.endpoint(known_, locked)); });
        EXPECT_SSH_ERROR(e2, SshError::Kind::Auth);
        QVERIFY2(QString::fromUtf8(e2->what()).contains(QLatin1String("passphrase")), e2->what());
    }

    // No identity file: the agent's keys (and ~/.ssh's defaults, which this server does not know).
    void agentKeys() {
        const QString agentExe = QStandardPaths::findExecutable(QStringLiteral("ssh-agent"));
        const QString addExe = QStandardPaths::findExecutable(QStringLiteral("ssh-add"));
        if (agentExe.isEmpty() || addExe.isEmpty())
            QSKIP("ssh-agent or ssh-add not found (openssh-client)");
        auto ep = sshd_.endpoint(known_);
        ep.identity.clear();
        const QByteArray savedSock = qgetenv("SSH_AUTH_SOCK");
        const auto restore = qScopeGuard([&] {
            if (savedSock.isEmpty())
                qunsetenv("SSH_AUTH_SOCK");
            else
                qputenv("SSH_AUTH_SOCK", savedSock);
        });
        {
            qunsetenv("SSH_AUTH_SOCK");
            const auto e = failure([&] { SshSession{ep}; });
            EXPECT_SSH_ERROR(e, SshError::Kind::Auth);
            QVERIFY2(QString::fromUtf8(e->what()).contains(QLatin1String("agent")), e->what());
        }
        const QString sock = dir_ + QStringLiteral("/agent.sock");
        QFile::remove(sock);
        QProcess agent;
        agent.start(agentExe, {QStringLiteral("-D"), QStringLiteral("-a"), sock});
        QVERIFY(agent.waitForStarted(5000));
        const auto stopAgent = qScopeGuard([&] {
            agent.terminate();
            agent.waitForFinished(5000);
        });
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(sock), 5000);
        QProcess add;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("SSH_AUTH_SOCK"), sock);
        add.setProcessEnvironment(env);
        add.start(addExe, {sshd_.userKey()});
        QVERIFY(add.waitForFinished(10000));
        QVERIFY2(add.exitCode() == 0, add.readAllStandardError().constData());
        qputenv("SSH_AUTH_SOCK", sock.toUtf8());
        SshSession ssh(ep);
        QCOMPARE(ssh.exec(QStringLiteral("echo agent")).out, QByteArray("agent\n"));
    }

    // Something listens but never speaks SSH: the connect timeout ends the wait.
    void silentServerTimesOut() {
        QTcpServer silent; // the kernel accepts the connection; nobody sends a banner
        QVERIFY(silent.listen(QHostAddress::LocalHost, 0));
        auto ep = sshd_.endpoint(known_);
        ep.port = silent.serverPort();
        ep.timeoutSeconds = 1;
        QElapsedTimer t;
        t.start();
        const auto e = failure([&] { SshSession{ep}; });
        // The error's kind and text say it was the timeout that ended the wait; the wait lasted
        // at least the timeout (a lower bound: a slow machine only makes it longer).
        EXPECT_SSH_ERROR(e, SshError::Kind::Timeout);
        QVERIFY2(QString::fromUtf8(e->what()).contains(QStringLiteral("timed out: 127.0.0.1")),
                 e->what());
        QVERIFY2(t.elapsed() >= 900, qPrintable(QString::number(t.elapsed())));
    }

    void closedPortRefused() {
        int port = 0;
        {
            QTcpServer s; // a port that was free a moment ago, and is closed again
            QVERIFY(s.listen(QHostAddress::LocalHost, 0));
            port = s.serverPort();
        }
        auto ep = sshd_.endpoint(known_);
        ep.port = port;
        const auto e = failure([&] { SshSession{ep}; }); // refused, not timed out: the kind says
        EXPECT_SSH_ERROR(e, SshError::Kind::Connect);
        QVERIFY2(QString::fromUtf8(e->what()).startsWith(
                     QStringLiteral("cannot connect to %1: connection refused: nothing accepts "
                                    "SSH connections on port %2")
                         .arg(ep.display())
                         .arg(port)),
                 e->what());
    }

    // A name that cannot be resolved is said in plain words.
    void unknownHostName() {
        auto ep = sshd_.endpoint(known_);
        ep.host = QStringLiteral("no-such-host.invalid");
        ep.timeoutSeconds = 5;
        const auto e = failure([&] { SshSession{ep}; });
        QVERIFY(e.has_value());
        QVERIFY2(QString::fromUtf8(e->what()).contains(
                     QStringLiteral("unknown host: the name no-such-host.invalid cannot be "
                                    "resolved")),
                 e->what());
    }

    // A command that does not finish, or never stops printing, times out (the error says which
    // limit ended it); the session stays usable.
    void execTimeout() {
        SshSession ssh(sshd_.endpoint(known_));
        const QString pidFile = dir_ + QStringLiteral("/quiet.pid");
        QFile::remove(pidFile);
        const auto quiet = failure([&] {
            ssh.exec(ShellCommand{QStringLiteral("sh"), QStringLiteral("-c"),
                                  QStringLiteral("echo $$ > \"$1\"; exec sleep 30"),
                                  QStringLiteral("sh"), pidFile}
                         .text(),
                     700);
        });
        EXPECT_SSH_ERROR(quiet, SshError::Kind::Timeout);
        QVERIFY2(
            QString::fromUtf8(quiet->what()).contains(QLatin1String("did not finish within 0.7 s")),
            quiet->what());
        // Whether the sleeper was stopped is remoteProcessStoppedOnTimeout's question; here it
        // only must not outlive the test (as root it does: see there).
        if (const qint64 pid = readAll(pidFile).trimmed().toLongLong();
            pid > 0 && processAlive(pid))
            ::kill(static_cast<pid_t>(pid), SIGKILL);

        const auto chatty =
            failure([&] { ssh.exec(QStringLiteral("while :; do echo spam; done"), 700); });
        EXPECT_SSH_ERROR(chatty, SshError::Kind::Timeout);
        QVERIFY2(QString::fromUtf8(chatty->what())
                     .contains(QLatin1String("did not finish within 0.7 s")),
                 chatty->what());

        QCOMPARE(ssh.exec(QStringLiteral("echo still here")).out, QByteArray("still here\n"));
    }

    // The remote process of a timed-out command is stopped (a signal request on its channel).
    void remoteProcessStoppedOnTimeout() {
        if (sshd_.user() == QLatin1String("root"))
            QSKIP("the test server runs as root, and OpenSSH refuses \"signal\" requests in root's "
                  "sessions (\"session signalling requires privilege separation\"): a timed-out "
                  "command's process cannot be stopped there; run the tests as another user");
        SshSession ssh(sshd_.endpoint(known_));
        const QString pidFile = dir_ + QStringLiteral("/sleeper.pid");
        QFile::remove(pidFile);
        const auto quiet = failure([&] {
            ssh.exec(ShellCommand{QStringLiteral("sh"), QStringLiteral("-c"),
                                  QStringLiteral("echo $$ > \"$1\"; exec sleep 30"),
                                  QStringLiteral("sh"), pidFile}
                         .text(),
                     700);
        });
        EXPECT_SSH_ERROR(quiet, SshError::Kind::Timeout);
        const qint64 pid = readAll(pidFile).trimmed().toLongLong();
        QVERIFY(pid > 0);
        QTRY_VERIFY_WITH_TIMEOUT(!processAlive(pid), 10000);
    }

    // Sessions on several threads at once, one each (STYLE.md).
    void sessionsOnSeveralThreads() {
        QList<QThread*> threads;
        QAtomicInt ok = 0;
        for (int i = 0; i < 4; ++i)
            threads << QThread::create([&, i] {
                try {
                    SshSession ssh(sshd_.endpoint(known_));
                    if (ssh.exec(QStringLiteral("echo %1").arg(i)).out ==
                        QByteArray::number(i) + '\n')
                        ok.fetchAndAddRelaxed(1);
                } catch (const SshError& e) {
                    qWarning("thread %d: %s", i, e.what());
                }
            });
        for (QThread* t : threads) t->start();
        for (QThread* t : threads) {
            QVERIFY(t->wait(30000));
            delete t;
        }
        QCOMPARE(ok.loadRelaxed(), 4);
    }
};

QTEST_GUILESS_MAIN(TestSshSession)
#include "tst_sshsession.moc"
