// SshSession's SFTP side (app/nodes/ssh_sftp.cpp) against a real OpenSSH server: atomic writes,
// reads by offset, folders, uploads with a mode. The server is this machine, so what arrived is
// also checked on the local file system.

#include "nodes/ssh_session.h"
#include "sshd_fixture.h"
#include "test_runs.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QTest>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

using bcd::nodes::SshError;
using bcd::nodes::SshSession;

namespace {

QByteArray readLocal(const QString& file) {
    QFile f(file);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

int modeOf(const QString& file) {
    struct stat st {};
    return ::stat(QFile::encodeName(file).constData(), &st) == 0 ? int(st.st_mode & 07777) : -1;
}

QByteArray randomBytes(qsizetype n, quint32 seed) {
    QByteArray b(n, Qt::Uninitialized);
    QRandomGenerator rng(seed);
    for (qsizetype i = 0; i < n; ++i) b[i] = char(rng.bounded(256));
    return b;
}

} // namespace

class TestSshSftp : public QObject {
    Q_OBJECT
private:
    bcd::test::SshdFixture sshd_;
    QString dir_; // on "the node": the same file system
    std::unique_ptr<SshSession> ssh_;

private slots:
    void initTestCase() {
        const QString base = bcd::test::freshDir(QStringLiteral("sshsftp"));
        if (!sshd_.start(base + QStringLiteral("/sshd"))) QSKIP(qPrintable(sshd_.skipReason()));
        const QString known = base + QStringLiteral("/known_hosts");
        QFile k(known);
        QVERIFY(k.open(QIODevice::WriteOnly));
        k.write(sshd_.knownHostsLine().toUtf8());
        k.close();
        ssh_ = std::make_unique<SshSession>(sshd_.endpoint(known));
        dir_ = base + QStringLiteral("/remote files");
        QVERIFY(QDir().mkpath(dir_));
    }
    void cleanupTestCase() { ssh_.reset(); }

    void writeFileThenRead() {
        const QString path = dir_ + QStringLiteral("/run config 'a'.json");
        const QByteArray data = "{\"steps\": 10}\n";
        ssh_->writeFile(path, data);
        QCOMPARE(readLocal(path), data);
        QCOMPARE(modeOf(path), 0644);
        QVERIFY(!QFile::exists(path + QStringLiteral(".part")));
        qint64 size = -1;
        QCOMPARE(ssh_->readFile(path, 0, 1 << 20, &size), std::optional<QByteArray>(data));
        QCOMPARE(size, data.size());
        // An empty file is a file.
        ssh_->writeFile(dir_ + QStringLiteral("/empty"), {});
        QCOMPARE(ssh_->readFile(dir_ + QStringLiteral("/empty"), 0, 100),
                 std::optional<QByteArray>(QByteArray()));
    }

    // Over an existing file: replaced by one rename(2), never unlinked first (a reader would find
    // no file in between). Told apart by inotify: an unlink is IN_DELETE of the name, a rename
    // over it is IN_MOVED_TO alone.
    void writeFileReplacesAtomically() {
        const QString folder = dir_ + QStringLiteral("/atomic");
        QVERIFY(QDir().mkpath(folder));
        const QString path = folder + QStringLiteral("/state.json");
        ssh_->writeFile(path, "old");
        const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        QVERIFY(fd >= 0);
        const auto closeFd = qScopeGuard([fd] { ::close(fd); });
        // All four kinds: the .part's events between keep inotify from merging alike ones.
        QVERIFY(inotify_add_watch(fd, QFile::encodeName(folder).constData(),
                                  IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO) >= 0);
        for (int i = 0; i < 3; ++i) ssh_->writeFile(path, "new " + QByteArray::number(i), 0600);
        QCOMPARE(readLocal(path), QByteArray("new 2"));
        QCOMPARE(modeOf(path), 0600);
        QVERIFY(!QFile::exists(path + QStringLiteral(".part")));

        int deleted = 0, movedOver = 0;
        alignas(inotify_event) char buf[16384];
        ssize_t n = 0;
        while ((n = ::read(fd, buf, sizeof buf)) > 0)
            for (char* p = buf; p < buf + n;) {
                const auto* ev = reinterpret_cast<const inotify_event*>(p);
                if (ev->len && QByteArray(ev->name) == "state.json") {
                    if (ev->mask & IN_DELETE) ++deleted;
                    if (ev->mask & IN_MOVED_TO) ++movedOver;
                }
                p += sizeof(inotify_event) + ev->len;
            }
        QCOMPARE(deleted, 0);
        QCOMPARE(movedOver, 3);
    }

    void writeFileIntoAMissingFolder() {
        const QString path = dir_ + QStringLiteral("/no/such/folder/file");
        try {
            ssh_->writeFile(path, "x");
            QFAIL("wrote into a missing folder");
        } catch (const SshError& e) {
            QCOMPARE(e.kind(), SshError::Kind::Sftp);
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("no such file")), e.what());
        }
    }

    void readFileByOffset_data() {
        QTest::addColumn<qint64>("offset");
        QTest::addColumn<qint64>("maxBytes");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("all") << qint64(0) << qint64(100) << QByteArray("0123456789");
        QTest::newRow("exactly all") << qint64(0) << qint64(10) << QByteArray("0123456789");
        QTest::newRow("middle") << qint64(3) << qint64(4) << QByteArray("3456");
        QTest::newRow("tail, cut by the end") << qint64(8) << qint64(10) << QByteArray("89");
        QTest::newRow("at the end") << qint64(10) << qint64(10) << QByteArray();
        QTest::newRow("past the end") << qint64(25) << qint64(10) << QByteArray();
        QTest::newRow("nothing asked") << qint64(2) << qint64(0) << QByteArray();
    }
    void readFileByOffset() {
        QFETCH(qint64, offset);
        QFETCH(qint64, maxBytes);
        QFETCH(QByteArray, expected);
        const QString path = dir_ + QStringLiteral("/digits");
        if (readLocal(path) != "0123456789") ssh_->writeFile(path, "0123456789");
        qint64 size = -1;
        const auto got = ssh_->readFile(path, offset, maxBytes, &size);
        QVERIFY(got.has_value());
        QCOMPARE(*got, expected);
        QCOMPARE(size, 10);
    }

    // How the workbench tails metrics.jsonl: by byte offset while the file grows.
    void readFileFollowsAGrowingFile() {
        const QString path = dir_ + QStringLiteral("/metrics.jsonl");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Unbuffered));
        QByteArray seen;
        for (int i = 0; i < 5; ++i) {
            f.write("{\"step\":" + QByteArray::number(i) + "}\n");
            qint64 size = 0;
            const auto more = ssh_->readFile(path, seen.size(), 1 << 20, &size);
            QVERIFY(more.has_value());
            seen += *more;
            QCOMPARE(size, seen.size());
        }
        QCOMPARE(seen, readLocal(path));
    }

    void readLargeFile() {
        const QString path = dir_ + QStringLiteral("/large.bin");
        const QByteArray data = randomBytes(700001, 7);
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(data);
        f.close();
        QCOMPARE(ssh_->readFile(path, 0, 1 << 30), std::optional<QByteArray>(data));
        QCOMPARE(ssh_->readFile(path, 123457, 300000),
                 std::optional<QByteArray>(data.mid(123457, 300000)));
    }

    void readMissingFile() {
        qint64 size = 77;
        QCOMPARE(ssh_->readFile(dir_ + QStringLiteral("/not here"), 0, 10, &size), std::nullopt);
        QCOMPARE(size, 77); // left alone
        QCOMPARE(ssh_->readFile(dir_ + QStringLiteral("/no folder/not here"), 0, 10), std::nullopt);
    }

    void existsAndCanonicalPath() {
        ssh_->writeFile(dir_ + QStringLiteral("/here"), "x");
        QVERIFY(ssh_->exists(dir_ + QStringLiteral("/here")));
        QVERIFY(ssh_->exists(dir_));
        QVERIFY(!ssh_->exists(dir_ + QStringLiteral("/not here")));
        const QString name = QFileInfo(dir_).fileName();
        QCOMPARE(
            ssh_->canonicalPath(dir_ + QStringLiteral("/../") + name + QStringLiteral("/./here")),
            dir_ + QStringLiteral("/here"));
        // Relative paths start in the remote home folder.
        QCOMPARE(ssh_->canonicalPath(QStringLiteral(".")),
                 QString::fromUtf8(ssh_->exec(QStringLiteral("pwd -P")).out.trimmed()));
    }

    void makeDirs() {
        const QString deep = dir_ + QStringLiteral("/runs/it's a run/ckpt");
        ssh_->makeDirs(deep, 0750);
        QVERIFY(QFileInfo(deep).isDir());
        QCOMPARE(modeOf(deep), 0750);
        QCOMPARE(modeOf(dir_ + QStringLiteral("/runs")), 0750);
        ssh_->makeDirs(deep);                                                // already there: fine
        ssh_->makeDirs(dir_ + QStringLiteral("//runs///it's a run//more/")); // doubled slashes
        QVERIFY(QFileInfo(dir_ + QStringLiteral("/runs/it's a run/more")).isDir());
        // A file in the way.
        ssh_->writeFile(dir_ + QStringLiteral("/plain file"), "x");
        try {
            ssh_->makeDirs(dir_ + QStringLiteral("/plain file/sub"));
            QFAIL("made a folder under a file");
        } catch (const SshError& e) {
            QCOMPARE(e.kind(), SshError::Kind::Sftp);
            QVERIFY2(QString::fromUtf8(e.what()).contains(QLatin1String("plain file")), e.what());
        }
    }

    void uploadFileWithMode() {
        const QString local =
            bcd::test::freshDir(QStringLiteral("sshsftp-local")) + QStringLiteral("/tool.sh");
        QFile f(local);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("#!/bin/sh\necho \"tool ran with $#: $1\"\n");
        f.close();
        const QString remote = dir_ + QStringLiteral("/bin dir/tool.sh");
        ssh_->makeDirs(dir_ + QStringLiteral("/bin dir"));
        ssh_->uploadFile(local, remote, 0755);
        QCOMPARE(readLocal(remote), readLocal(local));
        QCOMPARE(modeOf(remote), 0755);
        const auto r = ssh_->exec(QStringLiteral("'%1' 'a b'").arg(remote));
        QCOMPARE(r.out, QByteArray("tool ran with 1: a b\n"));
        // Again, over the first one, narrower.
        ssh_->uploadFile(local, remote, 0600);
        QCOMPARE(modeOf(remote), 0600);
        QVERIFY(!QFile::exists(remote + QStringLiteral(".part")));
    }

    // Larger than one read of the local file and many SFTP writes.
    void uploadLargeFile() {
        const QString local =
            bcd::test::freshDir(QStringLiteral("sshsftp-large")) + QStringLiteral("/weights.bin");
        const QByteArray data = randomBytes((1 << 20) + 12345, 11);
        QFile f(local);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(data);
        f.close();
        ssh_->uploadFile(local, dir_ + QStringLiteral("/weights.bin"), 0644);
        QCOMPARE(readLocal(dir_ + QStringLiteral("/weights.bin")), data);
    }

    void uploadMissingLocalFile() {
        try {
            ssh_->uploadFile(dir_ + QStringLiteral("/no such local file"),
                             dir_ + QStringLiteral("/target"), 0644);
            QFAIL("uploaded a file that does not exist");
        } catch (const SshError& e) {
            QCOMPARE(e.kind(), SshError::Kind::Sftp);
            QVERIFY2(QString::fromUtf8(e.what()).startsWith(QLatin1String("cannot read")),
                     e.what());
        }
        QVERIFY(!QFile::exists(dir_ + QStringLiteral("/target")));
        QVERIFY(!QFile::exists(dir_ + QStringLiteral("/target.part")));
    }
};

QTEST_GUILESS_MAIN(TestSshSftp)
#include "tst_sshsftp.moc"
