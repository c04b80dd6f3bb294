// launch::RunLogTail and launch::tailLines: the last lines of a run's train.log read off the
// caller's thread through the node's launcher session: a local run, a log longer than the session's
// 1 MiB window (the cut first line dropped), a run without a log yet, a node kind without a plugin,
// and a run on an SSH node (SFTP through the ssh plugin, against a real sshd).

#include "launch/log_tail.h"
#include "launch/run_log_tail.h"
#include "sshd_fixture.h"
#include "test_runs.h"

#include <QFile>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>

using namespace bcd;

namespace {

void writeLog(const QString& dir, int lines, int width) {
    QFile f(dir + QStringLiteral("/train.log"));
    QVERIFY(f.open(QIODevice::WriteOnly));
    for (int i = 0; i < lines; ++i)
        f.write(QStringLiteral("line %1 ").arg(i).leftJustified(width, 'x').toUtf8() + '\n');
}

} // namespace

class TestRunLogTail : public QObject {
    Q_OBJECT
    launch::PluginRegistry plugins_;
    launch::LauncherContext ctx_;
    test::SshdFixture sshd_;
    bool haveSshd_ = false;
    QString dir_;

    store::NodeRecord local() const {
        store::NodeRecord n;
        n.name = QStringLiteral("local");
        n.kind = QStringLiteral("local");
        return n;
    }

    // One request, its answer: lines, exists, error.
    QList<QVariant> tail(launch::RunLogTail& t, const store::NodeRecord& node, const QString& dir,
                         int maxLines) {
        QSignalSpy read(&t, &launch::RunLogTail::tailRead);
        t.request(7, node, dir, maxLines);
        if (!read.wait(30000)) return {};
        return read.first();
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        plugins_.load({test::pluginDir()});
        ctx_.localEngine = test::trainExe();
        dir_ = test::freshDir(QStringLiteral("run_log_tail"));
        haveSshd_ = sshd_.start(dir_ + QStringLiteral("/sshd"));
    }
    void cleanupTestCase() { sshd_.stop(); }

    void tailLinesCutsAndCounts() {
        QCOMPARE(launch::tailLines("a\nb\nc\n", false, 2), (QStringList{"b", "c"}));
        QCOMPARE(launch::tailLines("a\nb\nc", false, 5), (QStringList{"a", "b", "c"}));
        QCOMPARE(launch::tailLines("rtial\nb\nc\n", true, 5), (QStringList{"b", "c"}));
        QCOMPARE(launch::tailLines("no newline at all", true, 5), QStringList());
        QCOMPARE(launch::tailLines("", false, 5), QStringList());
    }

    void localRun() {
        const QString run = test::freshDir(QStringLiteral("run_log_tail/local"));
        writeLog(run, 300, 20);
        launch::RunLogTail t(plugins_, ctx_);
        const auto r = tail(t, local(), run, 50);
        QVERIFY(!r.isEmpty());
        QCOMPARE(r.at(0).toLongLong(), qint64(7));
        const QStringList lines = r.at(1).toStringList();
        QCOMPARE(lines.size(), 50);
        QVERIFY(lines.front().startsWith(QStringLiteral("line 250 ")));
        QVERIFY(lines.back().startsWith(QStringLiteral("line 299 ")));
        QVERIFY(r.at(2).toBool());
        QCOMPARE(r.at(3).toString(), QString());
    }

    // 20 000 lines of 100 bytes: 2 MB, of which the session reads the last MiB from inside a line.
    void longerThanTheWindow() {
        const QString run = test::freshDir(QStringLiteral("run_log_tail/long"));
        writeLog(run, 20000, 99);
        launch::RunLogTail t(plugins_, ctx_);
        const auto r = tail(t, local(), run, 100000);
        QVERIFY(!r.isEmpty());
        const QStringList lines = r.at(1).toStringList();
        // Every line is whole: 1 MiB / 100 bytes, less the cut one.
        QCOMPARE(lines.size(), (1 << 20) / 100);
        for (const QString& l : lines) QCOMPARE(l.size(), 99);
        QVERIFY(lines.back().startsWith(QStringLiteral("line 19999 ")));
    }

    void noLogYet() {
        launch::RunLogTail t(plugins_, ctx_);
        const auto r = tail(t, local(), test::freshDir(QStringLiteral("run_log_tail/empty")), 10);
        QVERIFY(!r.isEmpty());
        QVERIFY(r.at(1).toStringList().isEmpty());
        QVERIFY(!r.at(2).toBool());
        QCOMPARE(r.at(3).toString(), QString());
    }

    void kindWithoutPlugin() {
        launch::RunLogTail t(plugins_, ctx_);
        store::NodeRecord n;
        n.name = QStringLiteral("odd");
        n.kind = QStringLiteral("teleport");
        const auto r = tail(t, n, dir_, 10);
        QVERIFY(!r.isEmpty());
        QVERIFY(!r.at(2).toBool());
        QCOMPARE(r.at(3).toString(), plugins_.missingReason(n.kind));
    }

    void sshRun() {
        if (!haveSshd_) QSKIP(qPrintable(sshd_.skipReason()));
        const QString run = test::freshDir(QStringLiteral("run_log_tail/ssh"));
        writeLog(run, 30, 20);
        const QString knownHosts = dir_ + QStringLiteral("/known_hosts");
        const store::NodeRecord n = sshd_.node(QStringLiteral("box"), knownHosts);
        QVERIFY(!n.name.isEmpty());
        launch::RunLogTail t(plugins_, ctx_);
        auto r = tail(t, n, run, 10);
        QVERIFY(!r.isEmpty());
        QCOMPARE(r.at(3).toString(), QString());
        QCOMPARE(r.at(1).toStringList().size(), 10);
        QVERIFY(r.at(1).toStringList().back().startsWith(QStringLiteral("line 29 ")));
        // The session stays open: a second read sees the lines written since.
        QFile more(run + QStringLiteral("/train.log"));
        QVERIFY(more.open(QIODevice::Append));
        more.write("the newest line\n");
        more.close();
        r = tail(t, n, run, 2);
        QCOMPARE(r.at(1).toStringList().back(), QStringLiteral("the newest line"));
    }
};

QTEST_GUILESS_MAIN(TestRunLogTail)
#include "tst_run_log_tail.moc"
