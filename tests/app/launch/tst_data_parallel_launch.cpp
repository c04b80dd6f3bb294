// A data-parallel run launched from the workbench's core on this machine (label mpi): the
// RunController with the real local launcher, OpenMPI's mpirun and the built engine. Two ranks
// on the local node (processes per node 2): started detached, re-attached, followed to the end
// with every step stored once and the world size stored with the run; then a 2-rank run
// cancelled (SIGTERM to mpirun: the engine checkpoints) and resumed over as many ranks.

#include "launch/run_config.h"
#include "launch/run_controller.h"
#include "nodes/local_probe.h"
#include "store/store_service.h"
#include "test_runs.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>
#include <csignal>

using namespace bcd;

namespace {

QByteArray readAll(const QString& file) {
    QFile f(file);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// The world_size of the metrics file's start records, in order.
QList<int> startWorldSizes(const QString& metricsFile) {
    QList<int> out;
    for (const QByteArray& line : readAll(metricsFile).split('\n')) {
        const QJsonObject o = QJsonDocument::fromJson(line).object();
        if (o.value(QLatin1String("t")).toString() == QLatin1String("start"))
            out << o.value(QLatin1String("world_size")).toInt(-1);
    }
    return out;
}

bool alive(qint64 pid) {
    QFile c(QStringLiteral("/proc/%1/cmdline").arg(pid));
    return pid > 0 && c.open(QIODevice::ReadOnly) && !c.readAll().isEmpty();
}

} // namespace

class TestDataParallelLaunch : public QObject {
    Q_OBJECT

    QString dir_, model_, db_;
    launch::PluginRegistry plugins_;
    launch::LauncherContext ctx_;
    QList<qint64> pids_;

    // Every stored step once, 1..steps, with the loss the file holds (the last record of a step
    // wins, as in the store).
    void checkSteps(store::StoreService& store, qint64 id, const QString& runDir, int steps) {
        const auto file = test::fileStepLosses(runDir + QStringLiteral("/metrics.jsonl"));
        const auto points = store.callBlocking(
            [id](store::RunStore& s) { return s.points(id, store::PointType::Step); });
        QCOMPARE(points.size(), steps);
        for (int i = 0; i < points.size(); ++i) {
            QCOMPARE(points[i].step, qint64(i + 1));
            QCOMPARE(points[i].value(store::MetricColumn::Loss).value_or(-1), file.value(i + 1));
        }
    }

private slots:
    void initTestCase() {
        if (QStandardPaths::findExecutable(QStringLiteral("mpirun")).isEmpty())
            QSKIP("skipped: OpenMPI's mpirun is not on PATH (apt install openmpi-bin)");
        dir_ = test::freshDir(QStringLiteral("data-parallel-launch"));
        model_ = test::tinyModel(dir_);
        QVERIFY2(!model_.isEmpty(), "bcd-train init --preset tiny failed");
        db_ = dir_ + QStringLiteral("/store.sqlite");
        plugins_.load({test::pluginDir()});
        QVERIFY(plugins_.launcher(QStringLiteral("local")));
        ctx_.localEngine = test::trainExe();
        ctx_.localEngineVersion = nodes::localEngineVersion(ctx_.localEngine);
        QVERIFY(!ctx_.localEngineVersion.isEmpty());
        ctx_.localRunRoot = dir_ + QStringLiteral("/runs");
        ctx_.pollMs = 50;
    }

    void cleanupTestCase() {
        for (qint64 pid : pids_)
            if (alive(pid)) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }

    // Started detached with 2 processes on the local node; the "workbench" closes; attach()
    // later follows the run to its end: finished, every step once, world size 2 in the store
    // and in the engine's start record, one mpirun over "localhost slots=2".
    void twoRanksDetachedThenAttached() {
        const int steps = 40;
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/dp.json"), model_, steps);
        qint64 id = 0;
        QString runDir;
        {
            store::StoreService store(db_);
            launch::RunController runs(store, plugins_, ctx_);
            QSignalSpy launched(&runs, &launch::RunController::launched);
            QSignalSpy failed(&runs, &launch::RunController::launchFailed);
            launch::LaunchInput in;
            in.configFile = cfg;
            in.nodes = {QStringLiteral("local")};
            in.processesPerNode = 2;
            in.follow = false;
            runs.launch(in);
            QTRY_COMPARE_WITH_TIMEOUT(launched.count() + failed.count(), 1, 60000);
            QVERIFY2(failed.isEmpty(),
                     failed.isEmpty() ? "" : qPrintable(failed.front().at(1).toString()));
            id = launched.front().at(0).toLongLong();
            runDir = launched.front().at(1).toString();
            const qint64 pid = launched.front().at(2).toLongLong();
            pids_ << pid;
            QVERIFY(readAll(QStringLiteral("/proc/%1/cmdline").arg(pid)).contains("mpirun"));
            QTRY_VERIFY(!runs.following(id));
            const auto run = store.callBlocking([id](store::RunStore& s) { return *s.run(id); });
            QCOMPARE(run.processesPerNode, 2);
            QCOMPARE(run.worldSize, std::optional<int>(2));
        }
        QCOMPARE(readAll(runDir + QStringLiteral("/hostfile")), QByteArray("localhost slots=2\n"));

        store::StoreService store(db_);
        launch::RunController runs(store, plugins_, ctx_);
        QSignalSpy attached(&runs, &launch::RunController::attached);
        QSignalSpy ended(&runs, &launch::RunController::runEnded);
        runs.attach(id);
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 1, 300000);
        QCOMPARE(attached.count(), 1);
        QVERIFY2(ended.front().at(1).toString() == QLatin1String("finished"),
                 qPrintable(ended.front().at(2).toString() + "\n" +
                            readAll(runDir + QStringLiteral("/engine.err"))));
        QCOMPARE(startWorldSizes(runDir + QStringLiteral("/metrics.jsonl")), QList<int>{2});
        checkSteps(store, id, runDir, steps);
        const auto run = store.callBlocking([id](store::RunStore& s) { return *s.run(id); });
        QCOMPARE(run.status, QStringLiteral("finished"));
        QCOMPARE(run.worldSize, std::optional<int>(2));
        QCOMPARE(run.metricsOffset, QFileInfo(runDir + QStringLiteral("/metrics.jsonl")).size());
    }

    // Cancel = SIGTERM to mpirun: the ranks checkpoint and stop; resume starts mpirun over as
    // many ranks again (the hostfile), and the run finishes with every step stored once.
    void twoRanksCancelledThenResumed() {
        const int steps = 400;
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/dp-resume.json"), model_,
                                              steps, /*checkpointEvery=*/10);
        store::StoreService store(db_);
        launch::RunController runs(store, plugins_, ctx_);
        QSignalSpy launched(&runs, &launch::RunController::launched);
        QSignalSpy failed(&runs, &launch::RunController::launchFailed);
        QSignalSpy progress(&runs, &launch::RunController::progress);
        QSignalSpy ended(&runs, &launch::RunController::runEnded);
        launch::LaunchInput in;
        in.configFile = cfg;
        in.nodes = {QStringLiteral("local")};
        in.processesPerNode = 2;
        runs.launch(in);
        QTRY_COMPARE_WITH_TIMEOUT(launched.count() + failed.count(), 1, 60000);
        QVERIFY2(failed.isEmpty(),
                 failed.isEmpty() ? "" : qPrintable(failed.front().at(1).toString()));
        const qint64 id = launched.front().at(0).toLongLong();
        const QString runDir = launched.front().at(1).toString();
        pids_ << launched.front().at(2).toLongLong();
        QTRY_VERIFY_WITH_TIMEOUT(!progress.isEmpty() && progress.back().at(1).toLongLong() >= 15,
                                 300000);
        runs.cancel(id, 60000);
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 1, 120000);
        QCOMPARE(ended.front().at(1).toString(), QStringLiteral("cancelled"));
        const qint64 stoppedAt = store.callBlocking(
            [id](store::RunStore& s) { return s.run(id)->lastStep.value_or(0); });
        QVERIFY2(stoppedAt < steps, "the run ended before the cancel reached it");

        runs.resume(id);
        QTRY_COMPARE_WITH_TIMEOUT(launched.count() + failed.count(), 2, 60000);
        QVERIFY2(failed.isEmpty(),
                 failed.isEmpty() ? "" : qPrintable(failed.front().at(1).toString()));
        pids_ << launched.back().at(2).toLongLong();
        QVERIFY(readAll(QStringLiteral("/proc/%1/cmdline").arg(launched.back().at(2).toLongLong()))
                    .contains("mpirun"));
        QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 2, 600000);
        QVERIFY2(ended.back().at(1).toString() == QLatin1String("finished"),
                 qPrintable(ended.back().at(2).toString() + "\n" +
                            readAll(runDir + QStringLiteral("/engine.err"))));
        // Both starts were 2 ranks (the engine refuses another world size on resume).
        QCOMPARE(startWorldSizes(runDir + QStringLiteral("/metrics.jsonl")), QList<int>{2});
        QCOMPARE(readAll(runDir + QStringLiteral("/train.log")).count("data parallel: 2 ranks"),
                 qsizetype(2));
        checkSteps(store, id, runDir, steps);
    }
};

QTEST_GUILESS_MAIN(TestDataParallelLaunch)
#include "tst_data_parallel_launch.moc"
