// RunController with the real local launcher and engine (app/launch/run_controller.h): a run
// launched, followed to its end with every step stored once; a run left alone and attached again
// later; bad input refused before anything runs; cancel = SIGTERM, then SIGKILL after the grace
// period for an engine that ignores SIGTERM.

#include "launch/run_config.h"
#include "launch/run_controller.h"
#include "launch/run_files.h"
#include "nodes/local_probe.h"
#include "store/run_status.h"
#include "store/store_service.h"
#include "test_runs.h"

#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <csignal>

using namespace bcd;

namespace {

// An engine that answers --version and validate, and whose train never ends: it writes its
// status, then ignores SIGTERM (IGNORE_TERM=1) or dies of it.
QString writeFakeEngine(const QString& file, bool ignoreTerm) {
    QFile f(file);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return {};
    f.write(QByteArray("#!/bin/sh\n"
                       "case \"$1\" in\n"
                       "  --version) echo 'bcd-train 0.1.0' ;;\n"
                       "  validate) exit 0 ;;\n"
                       "  train)\n") +
            (ignoreTerm ? "    trap '' TERM\n" : "") +
            "    echo '{\"state\":\"running\",\"pid\":'$$',\"step\":0,\"steps\":5}' > status.json\n"
            "    while :; do sleep 0.05; done ;;\n"
            "esac\n");
    f.close();
    f.setPermissions(f.permissions() | QFile::ExeOwner);
    return file;
}

// An engine whose validate never ends: it leaves a mark, then sleeps (exec: killing it ends it).
QString writeSlowValidateEngine(const QString& file, const QString& mark) {
    QFile f(file);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return {};
    f.write(QByteArray("#!/bin/sh\n"
                       "case \"$1\" in\n"
                       "  --version) echo 'bcd-train 0.1.0' ;;\n"
                       "  validate) touch '") +
            mark.toUtf8() +
            "'; exec sleep 60 ;;\n"
            "  train) exit 3 ;;\n"
            "esac\n");
    f.close();
    f.setPermissions(f.permissions() | QFile::ExeOwner);
    return file;
}

// Whether a process runs (a zombie has an empty command line).
bool alive(qint64 pid) {
    QFile c(QStringLiteral("/proc/%1/cmdline").arg(pid));
    return pid > 0 && c.open(QIODevice::ReadOnly) && !c.readAll().isEmpty();
}

} // namespace

class TestRunController : public QObject {
    Q_OBJECT

    QString dir_, model_, db_;
    launch::PluginRegistry plugins_;
    launch::LauncherContext ctx_;
    QList<qint64> pids_; // engines this test started, killed at the end if still alive

    launch::LauncherContext context(const QString& engine) const {
        launch::LauncherContext c = ctx_;
        c.localEngine = engine;
        return c;
    }

private slots:
    // A workbench opening the store follows again what is alive by a pid or a batch job (a Slurm
    // run has no pid: its job id is what it is found by), never what is over, nor a `starting`
    // run without either (maybe another workbench's launch in progress).
    void reattachesAtStart() {
        store::RunRecord r;
        r.status = store::status::kRunning;
        r.pid = 4242;
        QVERIFY(launch::RunController::reattachesAtStart(r));
        r.pid = 0;
        QVERIFY(!launch::RunController::reattachesAtStart(r));
        r.jobId = QStringLiteral("17");
        QVERIFY(launch::RunController::reattachesAtStart(r));
        r.status = store::status::kQueued;
        QVERIFY(launch::RunController::reattachesAtStart(r));
        for (const QString& over :
             {store::status::kFinished, store::status::kFailed, store::status::kCancelled}) {
            r.status = over;
            QVERIFY(!launch::RunController::reattachesAtStart(r));
        }
        r.status = store::status::kStarting;
        r.jobId.clear();
        QVERIFY(!launch::RunController::reattachesAtStart(r));
    }
    void initTestCase() {
        dir_ = test::freshDir(QStringLiteral("run-controller"));
        model_ = test::tinyModel(dir_);
        QVERIFY2(!model_.isEmpty(), "bcd-train init --preset tiny failed");
        db_ = dir_ + QStringLiteral("/store.sqlite");
        plugins_.load({test::pluginDir()});
        QVERIFY(plugins_.launcher(QStringLiteral("local")));
        ctx_.localEngine = test::trainExe();
        ctx_.localEngineVersion = nodes::localEngineVersion(ctx_.localEngine);
        QVERIFY(!ctx_.localEngineVersion.isEmpty());
        ctx_.localRunRoot = dir_ + QStringLiteral("/runs");
        ctx_.pollMs = 20;
    }

    void cleanupTestCase() {
        for (qint64 pid : pids_)
            if (alive(pid)) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }

    // A local launch followed to the end: finished, every step stored exactly once with the
    // engine's loss, the offset at the end of the file.
    void launchFollowsToTheEnd() {
        const int steps = 60;
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/follow.json"), model_, steps);
        store::StoreService store(db_);
        launch::RunController runs(store, plugins_, ctx_);
        QSignalSpy launched(&runs, &launch::RunController::launched);
        QSignalSpy ended(&runs, &launch::RunController::runEnded);
        QSignalSpy failed(&runs, &launch::RunController::launchFailed);
        QSignalSpy progress(&runs, &launch::RunController::progress);
        launch::LaunchInput in;
        in.configFile = cfg;
        in.nodes = {QStringLiteral("local")};
        in.name = QStringLiteral("follow me");
        in.tags = {QStringLiteral("t1")};
        runs.launch(in);
        QTRY_COMPARE_WITH_TIMEOUT(ended.count() + failed.count(), 1, 60000);
        QVERIFY2(failed.isEmpty(),
                 failed.isEmpty() ? "" : qPrintable(failed.front().at(1).toString()));
        QCOMPARE(launched.count(), 1);
        const qint64 id = launched.front().at(0).toLongLong();
        const QString runDir = launched.front().at(1).toString();
        pids_ << launched.front().at(2).toLongLong();
        QCOMPARE(ended.front().at(0).toLongLong(), id);
        QCOMPARE(ended.front().at(1).toString(), QStringLiteral("finished"));
        QVERIFY(!progress.isEmpty());
        QCOMPARE(progress.back().at(1).toLongLong(), qint64(steps));
        QVERIFY2(runDir.endsWith(QStringLiteral("/%1-follow-me").arg(id)), qPrintable(runDir));
        QVERIFY(!runs.following(id));

        int records = 0;
        const auto file = test::fileStepLosses(runDir + QStringLiteral("/metrics.jsonl"), &records);
        QCOMPARE(records, steps);
        const auto [run, points] = store.callBlocking([id](store::RunStore& s) {
            return std::make_pair(*s.run(id), s.points(id, store::PointType::Step));
        });
        QCOMPARE(run.status, QStringLiteral("finished"));
        QCOMPARE(run.remoteDir, runDir);
        QCOMPARE(run.stepsTotal.value_or(0), qint64(steps));
        QCOMPARE(run.tags, QStringList{QStringLiteral("t1")});
        QCOMPARE(run.metricsOffset, QFileInfo(runDir + QStringLiteral("/metrics.jsonl")).size());
        QCOMPARE(points.size(), steps);
        for (int i = 0; i < points.size(); ++i) {
            QCOMPARE(points[i].step, qint64(i + 1));
            QCOMPARE(points[i].value(store::MetricColumn::Loss).value_or(-1), file.value(i + 1));
        }
        // The folder was stored before the engine started (docs/workbench.md, "Run lifecycle"),
        // and the launcher left the engine's pid in it.
        QStringList kinds;
        QString folder;
        for (const auto& e : store.callBlocking([id](store::RunStore& s) { return s.events(id); }))
            if (e.source == QLatin1String("workbench")) {
                kinds << e.kind;
                if (e.kind == QLatin1String("folder"))
                    folder = e.data.value(QLatin1String("dir")).toString();
            }
        QVERIFY2(
            kinds.indexOf(QStringLiteral("launch")) < kinds.indexOf(QStringLiteral("folder")) &&
                kinds.indexOf(QStringLiteral("folder")) < kinds.indexOf(QStringLiteral("started")),
            qPrintable(kinds.join(',')));
        QCOMPARE(folder, runDir);
        QFile pidFile(runDir + '/' + QLatin1String(launch::kEnginePidFile));
        QVERIFY(pidFile.open(QIODevice::ReadOnly));
        QCOMPARE(pidFile.readAll().trimmed().toLongLong(), launched.front().at(2).toLongLong());
    }

    // follow = false: the engine runs alone; attach() later picks up every step written since.
    void detachThenAttach() {
        const int steps = 80;
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/detach.json"), model_, steps);
        qint64 id = 0;
        QString runDir;
        {
            store::StoreService store(db_);
            launch::RunController runs(store, plugins_, ctx_);
            QSignalSpy launched(&runs, &launch::RunController::launched);
            launch::LaunchInput in;
            in.configFile = cfg;
            in.nodes = {QStringLiteral("local")};
            in.follow = false;
            runs.launch(in);
            QTRY_COMPARE_WITH_TIMEOUT(launched.count(), 1, 30000);
            id = launched.front().at(0).toLongLong();
            runDir = launched.front().at(1).toString();
            pids_ << launched.front().at(2).toLongLong();
            QTRY_VERIFY(!runs.following(id));
            QCOMPARE(runDir, ctx_.localRunRoot +
                                 QStringLiteral("/%1-detach").arg(id)); // the config's base name
        } // the "workbench" closes; the engine goes on
        QTRY_VERIFY_WITH_TIMEOUT(launch::parseStatusFile([&] {
                                     QFile f(runDir + QStringLiteral("/status.json"));
                                     return f.open(QIODevice::ReadOnly) ? f.readAll()
                                                                        : QByteArray();
                                 }())
                                         .state == QLatin1String("finished"),
                                 60000);

        store::StoreService store(db_);
        launch::RunController runs(store, plugins_, ctx_);
        QSignalSpy attached(&runs, &launch::RunController::attached);
        QSignalSpy ended(&runs, &launch::RunController::runEnded);
        QCOMPARE(store.callBlocking(
                     [id](store::RunStore& s) { return s.pointCount(id, store::PointType::Step); }),
                 qint64(0));
        runs.attach(id);
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 1, 30000);
        QCOMPARE(attached.count(), 1);
        QCOMPARE(ended.front().at(1).toString(), QStringLiteral("finished"));
        const auto file = test::fileStepLosses(runDir + QStringLiteral("/metrics.jsonl"));
        const auto points = store.callBlocking(
            [id](store::RunStore& s) { return s.points(id, store::PointType::Step); });
        QCOMPARE(points.size(), steps);
        for (int i = 0; i < points.size(); ++i) {
            QCOMPARE(points[i].step, qint64(i + 1));
            QCOMPARE(points[i].value(store::MetricColumn::Loss).value_or(-1), file.value(i + 1));
        }
        // Attaching again to an ended run reads nothing new and stores nothing twice.
        QSignalSpy ended2(&runs, &launch::RunController::runEnded);
        runs.attach(id);
        QTRY_COMPARE_WITH_TIMEOUT(ended2.count(), 1, 30000);
        QCOMPARE(store.callBlocking(
                     [id](store::RunStore& s) { return s.pointCount(id, store::PointType::Step); }),
                 qint64(steps));
    }

    void badInputRunsNothing_data() {
        QTest::addColumn<QString>("config"); // relative to the test folder
        QTest::addColumn<QString>("node");
        QTest::addColumn<QString>("says");
        QTest::newRow("missing config") << QStringLiteral("absent.json") << QStringLiteral("local")
                                        << QStringLiteral("absent.json");
        QTest::newRow("bad JSON") << QStringLiteral("broken.json") << QStringLiteral("local")
                                  << QStringLiteral("not valid JSON");
        QTest::newRow("unknown node") << QStringLiteral("follow.json") << QStringLiteral("nowhere")
                                      << QStringLiteral("no node 'nowhere'");
    }

    void badInputRunsNothing() {
        QFETCH(QString, config);
        QFETCH(QString, node);
        QFETCH(QString, says);
        {
            QFile f(dir_ + QStringLiteral("/broken.json"));
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write("{\"model\": ");
        }
        store::StoreService store(db_);
        launch::RunController runs(store, plugins_, ctx_);
        const qint64 before =
            store.callBlocking([](store::RunStore& s) { return qint64(s.runs().size()); });
        QSignalSpy failed(&runs, &launch::RunController::launchFailed);
        QSignalSpy launched(&runs, &launch::RunController::launched);
        launch::LaunchInput in;
        in.configFile = dir_ + '/' + config;
        in.nodes = {node};
        runs.launch(in);
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
        QCOMPARE(failed.front().at(0).toLongLong(), qint64(0)); // no run was created
        QVERIFY2(failed.front().at(1).toString().contains(says),
                 qPrintable(failed.front().at(1).toString()));
        QCOMPARE(failed.front().at(2).toBool(), true);
        // No run was created, so none can be launched: no wait for a signal that cannot come.
        QCOMPARE(store.callBlocking([](store::RunStore& s) { return qint64(s.runs().size()); }),
                 before);
        QVERIFY(launched.isEmpty());
    }

    // A config the engine refuses (an unknown key): bad input, the engine's message, nothing runs.
    void engineRefusesConfig() {
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/unknown-key.json"), model_,
                                              10, 0, 1e-3, QStringLiteral("optim"),
                                              QJsonObject{{"lr", 1e-3}, {"flavour", "vanilla"}});
        store::StoreService store(db_);
        launch::RunController runs(store, plugins_, ctx_);
        QSignalSpy failed(&runs, &launch::RunController::launchFailed);
        QSignalSpy launched(&runs, &launch::RunController::launched);
        launch::LaunchInput in;
        in.configFile = cfg;
        in.nodes = {QStringLiteral("local")};
        runs.launch(in);
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 30000);
        QVERIFY(launched.isEmpty());
        const QString message = failed.front().at(1).toString();
        QVERIFY2(message.contains(QStringLiteral("flavour")), qPrintable(message));
        QCOMPARE(failed.front().at(2).toBool(), true);
        const qint64 id = failed.front().at(0).toLongLong();
        if (id > 0) { // the run record says why it never ran
            const auto run = store.callBlocking([id](store::RunStore& s) { return *s.run(id); });
            QCOMPARE(run.status, QStringLiteral("failed"));
            QVERIFY(!QFile::exists(run.remoteDir + QStringLiteral("/metrics.jsonl")));
        }
    }

    // A run over several nodes is priced at the sum of its nodes' prices (stored before the
    // launch; here the nodes do not answer, so the run fails after being recorded), unless the
    // launch names a price.
    void severalNodesPriceIsTheSum() {
        store::StoreService store(db_);
        store.callBlocking([](store::RunStore& s) {
            store::NodeRecord a;
            a.kind = QStringLiteral("ssh");
            a.host = QStringLiteral("127.0.0.1");
            a.port = 1; // nothing listens
            a.name = QStringLiteral("priced-a");
            a.pricePerHour = 1.5;
            store::NodeRecord b = a;
            b.name = QStringLiteral("priced-b");
            b.pricePerHour = 2.0;
            s.addNode(a);
            s.addNode(b);
        });
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/priced.json"), model_, 5);
        for (const std::optional<double> given : {std::optional<double>(), std::optional(9.0)}) {
            launch::RunController runs(store, plugins_, ctx_);
            QSignalSpy failed(&runs, &launch::RunController::launchFailed);
            launch::LaunchInput in;
            in.configFile = cfg;
            in.nodes = {QStringLiteral("priced-a"), QStringLiteral("priced-b")};
            in.pricePerHour = given;
            runs.launch(in);
            QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 60000);
            const qint64 id = failed.front().at(0).toLongLong();
            QVERIFY2(id > 0, qPrintable(failed.front().at(1).toString()));
            const auto run = store.callBlocking([id](store::RunStore& s) { return *s.run(id); });
            QCOMPARE(run.pricePerHour, std::optional<double>(given.value_or(3.5)));
            QCOMPARE(run.worldSize, std::optional<int>(2)); // one rank per unprobed node
        }
    }

    // cancel(): SIGTERM is ignored, so SIGKILL follows the grace period; the run is cancelled
    // and says so; the process is gone.
    void cancelKillsAfterGrace() {
        const QString fake = writeFakeEngine(dir_ + QStringLiteral("/stubborn-engine"), true);
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/stubborn.json"), model_, 5);
        store::StoreService store(db_);
        launch::RunController runs(store, plugins_, context(fake));
        QSignalSpy launched(&runs, &launch::RunController::launched);
        QSignalSpy ended(&runs, &launch::RunController::runEnded);
        launch::LaunchInput in;
        in.configFile = cfg;
        in.nodes = {QStringLiteral("local")};
        runs.launch(in);
        QTRY_COMPARE_WITH_TIMEOUT(launched.count(), 1, 20000);
        const qint64 id = launched.front().at(0).toLongLong();
        const qint64 pid = launched.front().at(2).toLongLong();
        pids_ << pid;
        QTRY_VERIFY_WITH_TIMEOUT(
            QFile::exists(launched.front().at(1).toString() + QStringLiteral("/status.json")),
            10000);
        QVERIFY(alive(pid)); // status.json is written after the trap: SIGTERM is ignored now
        // A lower bound from before the cancel: a slow machine only makes the time longer.
        QElapsedTimer t;
        t.start();
        runs.cancel(id, 700);
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 1, 20000);
        QVERIFY2(t.elapsed() >= 700, "killed before the grace period was over");
        QCOMPARE(ended.front().at(1).toString(), QStringLiteral("cancelled"));
        QVERIFY2(ended.front().at(2).toString().contains(QStringLiteral("SIGKILL")),
                 qPrintable(ended.front().at(2).toString()));
        QTRY_VERIFY_WITH_TIMEOUT(!alive(pid), 5000);
        const auto [run, events] = store.callBlocking(
            [id](store::RunStore& s) { return std::make_pair(*s.run(id), s.events(id)); });
        QCOMPARE(run.status, QStringLiteral("cancelled"));
        QStringList sent;
        for (const auto& e : events)
            if (e.kind == QLatin1String("signal"))
                sent << e.data.value(QLatin1String("signal")).toString();
        QCOMPARE(sent, (QStringList{QStringLiteral("SIGTERM"), QStringLiteral("SIGKILL")}));
    }

    // The controller destroyed while a launch waits for `bcd-train validate`: the launch stops at
    // once (no warning about a follower left running), nothing is stored or started; a later
    // attach stores the run as failed, never started.
    void closingStopsALaunch() {
        const QString mark = dir_ + QStringLiteral("/validating");
        QFile::remove(mark);
        const QString slow =
            writeSlowValidateEngine(dir_ + QStringLiteral("/slow-validate-engine"), mark);
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/closing.json"), model_, 5);
        store::StoreService store(db_);
        const qint64 before =
            store.callBlocking([](store::RunStore& s) { return qint64(s.runs().size()); });
        {
            launch::RunController runs(store, plugins_, context(slow));
            runs.followerShutdownMs = 20000; // well below validate's sleep, far above a stop
            launch::LaunchInput in;
            in.configFile = cfg;
            in.nodes = {QStringLiteral("local")};
            runs.launch(in);
            QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(mark), 20000);
            QTest::failOnWarning(QRegularExpression(QStringLiteral("inside a call")));
        }
        const auto runs = store.callBlocking([](store::RunStore& s) { return s.runs(); });
        QCOMPARE(qint64(runs.size()), before + 1);
        qint64 id = 0;
        for (const auto& r : runs) id = std::max(id, r.id);
        const auto run = store.callBlocking([id](store::RunStore& s) { return *s.run(id); });
        QCOMPARE(run.status, QStringLiteral("starting"));
        QVERIFY2(run.remoteDir.isEmpty(), qPrintable(run.remoteDir));
        QVERIFY(
            QFile::exists(ctx_.localRunRoot + QStringLiteral("/%1-closing/launch.json").arg(id)));
        QVERIFY(
            !QFile::exists(ctx_.localRunRoot + QStringLiteral("/%1-closing/engine.pid").arg(id)));

        launch::RunController again(store, plugins_, context(slow));
        QSignalSpy ended(&again, &launch::RunController::runEnded);
        again.attach(id);
        QVERIFY(ended.wait(10000));
        QCOMPARE(ended.front().at(1).toString(), QStringLiteral("failed"));
        QVERIFY2(ended.front().at(2).toString().contains(QStringLiteral("never started")),
                 qPrintable(ended.front().at(2).toString()));
    }

    // An engine that dies of SIGTERM before it could write a final status (a cancel that lands
    // while it starts) is cancelled, not failed.
    void cancelWhileStarting() {
        const QString fake = writeFakeEngine(dir_ + QStringLiteral("/meek-engine"), false);
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/meek.json"), model_, 5);
        store::StoreService store(db_);
        launch::RunController runs(store, plugins_, context(fake));
        QSignalSpy launched(&runs, &launch::RunController::launched);
        QSignalSpy ended(&runs, &launch::RunController::runEnded);
        launch::LaunchInput in;
        in.configFile = cfg;
        in.nodes = {QStringLiteral("local")};
        runs.launch(in);
        QTRY_COMPARE_WITH_TIMEOUT(launched.count(), 1, 20000);
        const qint64 id = launched.front().at(0).toLongLong();
        pids_ << launched.front().at(2).toLongLong();
        runs.cancel(id, 30000);
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 1, 20000);
        QCOMPARE(ended.front().at(1).toString(), QStringLiteral("cancelled"));
        QVERIFY2(ended.front().at(2).toString().contains(QStringLiteral("SIGTERM")),
                 qPrintable(ended.front().at(2).toString()));
    }
};

QTEST_GUILESS_MAIN(TestRunController)
#include "tst_run_controller.moc"
