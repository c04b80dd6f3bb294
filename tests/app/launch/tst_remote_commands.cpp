// The command lines the workbench runs on nodes (app/launch/remote_commands.h): run through real
// shells (sh and bash, as an SSH node's login shell would), they start the engine detached and
// print its own pid, and hostile words stay single arguments; the mpirun plan.

#include "launch/launcher.h"
#include "launch/remote_commands.h"
#include "test_runs.h"

#include <QFile>
#include <QJsonArray>
#include <QProcess>
#include <QStandardPaths>
#include <QTest>
#include <QThread>
#include <csignal>
#include <sys/types.h>

using namespace bcd;

namespace {

QByteArray readProc(qint64 pid, const char* what) {
    QFile f(QStringLiteral("/proc/%1/%2").arg(pid).arg(QLatin1String(what)));
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// The session id of a process (field 6 of /proc/PID/stat; the command name may hold spaces).
qint64 sessionOf(qint64 pid) {
    const QByteArray stat = readProc(pid, "stat");
    const qsizetype close = stat.lastIndexOf(')');
    if (close < 0) return -1;
    const QList<QByteArray> f = stat.mid(close + 2).split(' '); // state ppid pgrp session ...
    return f.size() > 3 ? f[3].toLongLong() : -1;
}

QByteArray nul(const QStringList& words) {
    QByteArray b;
    for (const QString& w : words) b += w.toUtf8() + '\0';
    return b;
}

struct ShellRun {
    int code = -1;
    QByteArray out, err;
};

ShellRun runShell(const QString& shell, const QString& command) {
    QProcess p;
    p.start(shell, {QStringLiteral("-c"), command});
    ShellRun r;
    if (!p.waitForFinished(20000)) {
        p.kill();
        p.waitForFinished();
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

} // namespace

class TestRemoteCommands : public QObject {
    Q_OBJECT

private slots:
    void detachedStart_data() {
        QTest::addColumn<QString>("shell");
        for (const char* s : {"sh", "bash"}) {
            const QString path = QStandardPaths::findExecutable(QLatin1String(s));
            if (!path.isEmpty()) QTest::newRow(s) << path;
        }
    }

    // The printed pid is the engine's own process (so isRunning and kill reach it), in a session
    // of its own, running in the run folder with its output there; hostile words run nothing.
    void detachedStart() {
        QFETCH(QString, shell);
        const QString base =
            test::freshDir(QStringLiteral("detached-") + QFileInfo(shell).fileName());
        const QString dir =
            base + QStringLiteral("/it's a $(touch MARK1) `touch MARK2` run; touch MARK3");
        QVERIFY(QDir().mkpath(dir));
        const QString hostile =
            QStringLiteral("x'; touch %1/PWNED; echo '$(touch %1/PWNED2)\"`touch %1/PWNED3`")
                .arg(base);
        // sh -c SCRIPT NAME: the hostile word is $0, one plain argument of the engine's stand-in.
        // The stand-in runs until the test removes its "hold" file: the start command can only
        // have returned (below) without waiting for it, however slow the machine.
        const QString hold = dir + QStringLiteral("/hold");
        QVERIFY(QFile(hold).open(QIODevice::WriteOnly));
        const QStringList argv{
            QStringLiteral("/bin/sh"), QStringLiteral("-c"),
            QStringLiteral("echo out; echo err >&2; while [ -e hold ]; do sleep 0.1; done"),
            hostile};
        const nodes::ShellCommand cmd = launch::detachedStart(dir, argv);

        const ShellRun r = runShell(shell, cmd.text());
        QCOMPARE(r.code, 0);
        bool ok = false;
        const qint64 pid = QString::fromUtf8(r.out).trimmed().toLongLong(&ok);
        QVERIFY2(ok && pid > 0, r.out.constData());
        QVERIFY2(QFileInfo::exists(QStringLiteral("/proc/%1").arg(pid)),
                 "the start command returned after the engine had ended");

        // The same pid in the run folder, where a restarted workbench finds it.
        QFile pidFile(dir + '/' + QLatin1String(launch::kEnginePidFile));
        QVERIFY(pidFile.open(QIODevice::ReadOnly));
        QCOMPARE(pidFile.readAll().trimmed().toLongLong(), pid);

        // nohup and setsid exec: within a moment the printed pid runs argv itself (a wrapping
        // subshell's pid would never do).
        QTRY_COMPARE_WITH_TIMEOUT(readProc(pid, "cmdline"), nul(argv), 5000);
        QVERIFY(launch::commandLineHas(readProc(pid, "cmdline"), hostile));
        QCOMPARE(sessionOf(pid), pid); // setsid: a session of its own, out of the SSH session's
        QCOMPARE(QFileInfo(QStringLiteral("/proc/%1/cwd").arg(pid)).symLinkTarget(),
                 QFileInfo(dir).canonicalFilePath());
        QTRY_COMPARE_WITH_TIMEOUT(QFile(dir + QStringLiteral("/engine.out")).size(), qint64(4),
                                  5000);
        QTRY_COMPARE_WITH_TIMEOUT(QFile(dir + QStringLiteral("/engine.err")).size(), qint64(4),
                                  5000);

        QVERIFY(QFile::remove(hold));              // the stand-in ends by itself now
        ::kill(-static_cast<pid_t>(pid), SIGKILL); // its process group: sh and its sleep
        for (const QString& mark :
             {QStringLiteral("MARK1"), QStringLiteral("MARK2"), QStringLiteral("MARK3")}) {
            QVERIFY2(!QFile::exists(base + '/' + mark), qPrintable(mark));
            QVERIFY2(!QFile::exists(dir + '/' + mark), qPrintable(mark));
            QVERIFY2(!QFile::exists(mark), qPrintable(mark));
        }
        for (const QString& mark :
             {QStringLiteral("PWNED"), QStringLiteral("PWNED2"), QStringLiteral("PWNED3")})
            QVERIFY2(!QFile::exists(base + '/' + mark), qPrintable(mark));
    }

    // A run folder that cannot be entered: nothing starts, and the command fails.
    void detachedStartInMissingFolder() {
        const QString base = test::freshDir(QStringLiteral("detached-missing"));
        const QString marker = base + QStringLiteral("/started");
        const nodes::ShellCommand cmd = launch::detachedStart(base + QStringLiteral("/absent"),
                                                              {QStringLiteral("touch"), marker});
        const ShellRun r = runShell(QStringLiteral("/bin/sh"), cmd.text());
        QVERIFY(r.code != 0);
        // "cd DIR || exit 1" ends the script before the "&" line: no process was put in the
        // background, so no pid was printed (echo $! follows it) and nothing can touch the marker
        // later. Said by the shell itself, not by waiting a while and looking.
        QVERIFY2(r.out.trimmed().isEmpty(), r.out.constData());
        QVERIFY(!QFile::exists(marker));
    }

    void processCommandLine() {
        const qint64 self = QCoreApplication::applicationPid();
        const ShellRun r =
            runShell(QStringLiteral("/bin/sh"), launch::processCommandLine(self).text());
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out, readProc(self, "cmdline"));
        QVERIFY(launch::commandLineHas(r.out, QCoreApplication::applicationFilePath()) ||
                launch::commandLineHas(r.out, QCoreApplication::arguments().front()));
        // A pid that cannot exist (above any pid_max): the command fails.
        const ShellRun gone =
            runShell(QStringLiteral("/bin/sh"), launch::processCommandLine(99999999).text());
        QVERIFY(gone.code != 0);
        QVERIFY(gone.out.isEmpty());
    }

    void signalProcess_data() {
        QTest::addColumn<int>("signal");
        QTest::addColumn<QString>("text");
        QTest::newRow("TERM") << int(SIGTERM) << QStringLiteral("kill -TERM 4242");
        QTest::newRow("KILL") << int(SIGKILL) << QStringLiteral("kill -KILL 4242");
        QTest::newRow("INT") << int(SIGINT) << QStringLiteral("kill -INT 4242");
    }

    void signalProcess() {
        QFETCH(int, signal);
        QFETCH(QString, text);
        QCOMPARE(launch::signalProcess(4242, signal).text(), text);
        // And it reaches a real process with that signal.
        QProcess victim;
        victim.start(QStringLiteral("sleep"), {QStringLiteral("30")});
        QVERIFY(victim.waitForStarted());
        const ShellRun r = runShell(QStringLiteral("/bin/sh"),
                                    launch::signalProcess(victim.processId(), signal).text());
        QCOMPARE(r.code, 0);
        QVERIFY(victim.waitForFinished(20000)); // the signal ends it; 20 s only bounds a hang
        QCOMPARE(victim.exitStatus(), QProcess::CrashExit);
    }

    void commandLineHas() {
        const QByteArray cmd =
            nul({QStringLiteral("/opt/bcd-train"), QStringLiteral("train"),
                 QStringLiteral("--config"), QStringLiteral("/runs/7-a b/launch.json")});
        QVERIFY(launch::commandLineHas(cmd, QStringLiteral("/runs/7-a b/launch.json")));
        QVERIFY(launch::commandLineHas(cmd, QStringLiteral("train")));
        QVERIFY(!launch::commandLineHas(
            cmd, QStringLiteral("/runs/7-a b/launch"))); // a prefix is not the argument
        QVERIFY(!launch::commandLineHas(cmd, QStringLiteral("launch.json"))); // nor a suffix
        QVERIFY(!launch::commandLineHas(cmd, QStringLiteral("/runs/7-a")));
        QVERIFY(!launch::commandLineHas(QByteArray(),
                                        QStringLiteral("/runs/7-a b/launch.json"))); // a zombie
        // The shell line of a wrapper holds the path inside one argument: not the run.
        const QByteArray wrapper =
            nul({QStringLiteral("bash"), QStringLiteral("-c"),
                 QStringLiteral("bcd-train train --config /runs/7-a b/launch.json")});
        QVERIFY(!launch::commandLineHas(wrapper, QStringLiteral("/runs/7-a b/launch.json")));
    }

    void planMpirun() {
        const QVector<launch::MpiRank> ranks{{QStringLiteral("gpu-1.cluster"), 2},
                                             {QStringLiteral("10.0.0.5"), 1},
                                             {QStringLiteral("fe80::1"), 4}};
        const QStringList engine{QStringLiteral("/e/bcd-train"), QStringLiteral("train"),
                                 QStringLiteral("--config"), QStringLiteral("/r/launch.json")};
        const launch::MpiPlan p =
            launch::planMpirun(ranks, QStringLiteral("/r/hostfile"), engine, false);
        QCOMPARE(p.hostfile,
                 QStringLiteral("gpu-1.cluster slots=2\n10.0.0.5 slots=1\nfe80::1 slots=4\n"));
        QCOMPARE(p.processes, 7);
        const QStringList expected = QStringList{QStringLiteral("mpirun"),
                                                 QStringLiteral("--hostfile"),
                                                 QStringLiteral("/r/hostfile"),
                                                 QStringLiteral("-np"),
                                                 QStringLiteral("7"),
                                                 QStringLiteral("--map-by"),
                                                 QStringLiteral("slot"),
                                                 QStringLiteral("--bind-to"),
                                                 QStringLiteral("none"),
                                                 QStringLiteral("-x"),
                                                 QStringLiteral("PATH"),
                                                 QStringLiteral("-x"),
                                                 QStringLiteral("LD_LIBRARY_PATH")} +
                                     engine;
        QCOMPARE(p.argv, expected);

        const launch::MpiPlan root =
            launch::planMpirun({{QStringLiteral("h"), 1}}, QStringLiteral("/hf"), engine, true,
                               QStringLiteral("/usr/bin/mpirun"));
        QCOMPARE(root.argv.value(0), QStringLiteral("/usr/bin/mpirun"));
        QCOMPARE(root.argv.value(1), QStringLiteral("--allow-run-as-root"));
        QCOMPARE(root.processes, 1);
        QCOMPARE(root.hostfile, QStringLiteral("h slots=1\n"));
        // Two node records on one host share its line (OpenMPI refuses a host given twice).
        const launch::MpiPlan shared = launch::planMpirun({{QStringLiteral("127.0.0.1"), 1},
                                                           {QStringLiteral("b"), 2},
                                                           {QStringLiteral("127.0.0.1"), 1}},
                                                          QStringLiteral("/hf"), engine, false);
        QCOMPARE(shared.hostfile, QStringLiteral("127.0.0.1 slots=2\nb slots=2\n"));
        QCOMPARE(shared.processes, 4);
        // Limits are inclusive.
        QCOMPARE(
            launch::planMpirun({{QStringLiteral("h"), 1024}}, QStringLiteral("/hf"), engine, false)
                .processes,
            1024);
    }

    void planMpirunRefuses_data() {
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("slotCount");
        QTest::newRow("space") << QStringLiteral("a b") << 1;
        QTest::newRow("semicolon") << QStringLiteral("h;touch /tmp/x") << 1;
        QTest::newRow("subshell") << QStringLiteral("$(touch x)") << 1;
        QTest::newRow("backticks") << QStringLiteral("`id`") << 1;
        QTest::newRow("quote") << QStringLiteral("a'b") << 1;
        QTest::newRow("option") << QStringLiteral("-oProxyCommand=sh") << 1;
        QTest::newRow("newline: a second hostfile line")
            << QStringLiteral("h\nother slots=999") << 1;
        QTest::newRow("empty") << QString() << 1;
        QTest::newRow("slots=0") << QStringLiteral("h") << 0;
        QTest::newRow("slots<0") << QStringLiteral("h") << -3;
        QTest::newRow("slots>1024") << QStringLiteral("h") << 1025;
    }

    void planMpirunRefuses() {
        QFETCH(QString, host);
        QFETCH(int, slotCount);
        const QVector<launch::MpiRank> ranks{{QStringLiteral("good"), 1}, {host, slotCount}};
        try {
            launch::planMpirun(ranks, QStringLiteral("/hf"), {QStringLiteral("e")}, false);
            QFAIL("accepted");
        } catch (const launch::LaunchError& e) {
            QVERIFY2(e.badInput(), e.what());
            QVERIFY2(
                QString::fromUtf8(e.what()).contains(host.isEmpty() ? QStringLiteral("''") : host),
                e.what());
        }
    }

    void planMpirunNeedsANode() {
        try {
            launch::planMpirun({}, QStringLiteral("/hf"), {QStringLiteral("e")}, false);
            QFAIL("accepted");
        } catch (const launch::LaunchError& e) {
            QVERIFY(e.badInput());
        }
    }

    // Processes per node: the asked count on every node; by default one per probed GPU (at
    // least one) over several nodes and one on a single node; a count out of range is bad input.
    void ranksPerNode() {
        nodes::NodeRecord gpus4, cpu, unprobed;
        gpus4.probe = QJsonObject{
            {"gpus", QJsonArray{QJsonObject{{"name", "A"}}, QJsonObject{{"name", "A"}},
                                QJsonObject{{"name", "A"}}, QJsonObject{{"name", "A"}}}}};
        cpu.probe = QJsonObject{{"cpu_only", true}, {"gpus", QJsonArray{}}};
        QCOMPARE(launch::ranksPerNode({gpus4}, 0), QVector<int>{1});
        QCOMPARE(launch::ranksPerNode({gpus4, cpu, unprobed}, 0), (QVector<int>{4, 1, 1}));
        QCOMPARE(launch::ranksPerNode({gpus4, cpu}, 3), (QVector<int>{3, 3}));
        QCOMPARE(launch::worldSize({cpu}, 2), 2);
        QCOMPARE(launch::worldSize({gpus4, cpu}, 0), 5);
        for (int bad : {-1, 1025}) {
            try {
                launch::ranksPerNode({cpu}, bad);
                QFAIL("accepted");
            } catch (const launch::LaunchError& e) {
                QVERIFY(e.badInput());
                QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("processes per node")),
                         e.what());
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestRemoteCommands)
#include "tst_remote_commands.moc"
