// The upgrade of a version-2 store (tests/app/fixtures/store-v2.sql) through versions 3 and 4 to 5:
// nodes and runs intact, the new columns empty, a run's world size taken from its engine's stored
// start record (version 4); the upgrade of a version-4 store (store-v4.sql) to 5: system columns,
// phases (a phase event moved); the upgrade of a version-5 store (store-v5.sql) to 6: run price
// schedules; then a Slurm node's job defaults and a run's batch job stored and
// read back, and the queue state followed by the run's status.

#include "nodes/slurm_job.h"
#include "store/compare.h"
#include "store/node_price.h"
#include "store/run_store.h"
#include "store/schema.h"
#include "store_test_util.h"

#include <QFile>
#include <QTest>
#include <sqlite3.h>

using namespace bcd;
using namespace bcd::store;

namespace {

// A store built from a committed SQL text (tests/app/fixtures/store-vN.sql); empty on failure.
QString storeFromSql(const QString& dir, int version) {
    QFile sql(test::sourceDir() + QStringLiteral("/tests/app/fixtures/store-v%1.sql").arg(version));
    if (!sql.open(QIODevice::ReadOnly)) return {};
    const QString path = dir + QStringLiteral("/store-v%1.sqlite").arg(version);
    QFile::remove(path);
    sqlite3* db = nullptr;
    char* err = nullptr;
    const bool ok =
        sqlite3_open(path.toUtf8().constData(), &db) == SQLITE_OK &&
        sqlite3_exec(db, sql.readAll().constData(), nullptr, nullptr, &err) == SQLITE_OK;
    if (err) qWarning("store-v%d.sql: %s", version, err);
    sqlite3_free(err);
    sqlite3_close(db);
    return ok ? path : QString();
}

QString v2Store(const QString& dir) {
    return storeFromSql(dir, 2);
}

} // namespace

class TestStoreUpgrade : public QObject {
    Q_OBJECT

private slots:
    void migratesVersion2() {
        const QString path = v2Store(test::freshDir(QStringLiteral("store-upgrade/v2")));
        QVERIFY(!path.isEmpty());
        QCOMPARE(test::rawInt(path, "PRAGMA user_version"), qint64(2));
        RunStore s(path);
        QCOMPARE(s.versionFoundOnOpen(), 2);
        QCOMPARE(s.schemaVersion(), schema::kVersion);
        QCOMPARE(schema::kVersion, 6);

        const auto box = s.node(QStringLiteral("box"));
        QVERIFY(box);
        QCOMPARE(box->kind, QStringLiteral("ssh"));
        QCOMPARE(box->port, 2222);
        QCOMPARE(box->runRoot, QStringLiteral("/scratch/ada/runs"));
        QCOMPARE(box->pricePerHour, std::optional<double>(2.5));
        QCOMPARE(box->probe.value(QLatin1String("cpu_only")).toBool(), true);
        QVERIFY(box->jobDefaults.isEmpty());

        const auto r = s.run(1);
        QVERIFY(r);
        QCOMPARE(r->name, QStringLiteral("v2-run"));
        QCOMPARE(r->status, status::kRunning);
        QCOMPARE(r->pid, qint64(4242));
        QCOMPARE(r->metricsOffset, qint64(777));
        QCOMPARE(r->tags, QStringList{QStringLiteral("a")});
        QCOMPARE(r->lastStep, std::optional<qint64>(3));
        QVERIFY(r->jobId.isEmpty());
        QVERIFY(r->jobState.isEmpty());
        QVERIFY(r->jobReason.isEmpty());
        QCOMPARE(s.pointCount(1, PointType::Step), qint64(3));
        // Version 4: the world size of the start record; unknown for a run that never started.
        QCOMPARE(r->worldSize, std::optional<int>(2));
        QCOMPARE(r->processesPerNode, 0);
        // The levels of detail were made again with comm_bytes; the old points have none.
        const auto loss = s.series(1, MetricColumn::Loss, 0, RunStore::kLastStep, 1);
        QCOMPARE(loss.size(), 1);
        QCOMPARE(loss[0].count, qint64(3));
        QCOMPARE(loss[0].min, 4.0);
        QCOMPARE(loss[0].max, 5.0);
        QVERIFY(!s.points(1, PointType::Step)[0].value(MetricColumn::CommBytes));
        const auto never = s.run(2);
        QVERIFY(never);
        QCOMPARE(never->status, status::kFailed);
        QVERIFY(!never->worldSize);
        QCOMPARE(test::rawInt(path, "PRAGMA foreign_key_check"), qint64(-1)); // no row
    }

    // Version 4 → 5: the system columns (empty for old points, then stored), the levels of
    // detail made again with them, run_phases, and a phase record that version 4 kept as an event
    // moved there.
    void migratesVersion4() {
        const QString path = storeFromSql(test::freshDir(QStringLiteral("store-upgrade/v4")), 4);
        QVERIFY(!path.isEmpty());
        QCOMPARE(test::rawInt(path, "PRAGMA user_version"), qint64(4));
        QCOMPARE(test::rawInt(path, "SELECT COUNT(*) FROM events WHERE kind = 'phase'"), qint64(1));
        RunStore s(path);
        QCOMPARE(s.versionFoundOnOpen(), 4);
        QCOMPARE(s.schemaVersion(), schema::kVersion);
        QCOMPARE(s.run(1)->worldSize, std::optional<int>(2));
        QCOMPARE(s.pointCount(1, PointType::Step), qint64(3));
        QVERIFY(!s.points(1, PointType::Step)[0].value(MetricColumn::Rss));
        const auto loss = s.series(1, MetricColumn::Loss, 0, RunStore::kLastStep, 1);
        QCOMPARE(loss.size(), 1);
        QCOMPARE(loss[0].min, 4.0);
        QCOMPARE(loss[0].max, 5.0);
        QVERIFY(!s.series(1, MetricColumn::GpuTemp, 0, RunStore::kLastStep, 1)[0].hasValue);
        // The phase event is a phase now.
        QCOMPARE(test::rawInt(path, "SELECT COUNT(*) FROM events WHERE kind = 'phase'"), qint64(0));
        const auto phases = s.phases(1);
        QCOMPARE(phases.size(), 1);
        QCOMPARE(phases[0].phase, QStringLiteral("checkpoint"));
        QCOMPARE(phases[0].step, qint64(3));
        QVERIFY(phases[0].ended());
        QCOMPARE(phases[0].bytes, std::optional<qint64>(874734));
        QCOMPARE(phases[0].seconds, 0.5);
        QCOMPARE(phases[0].elapsed, std::optional<double>(12.5));
        QCOMPARE(test::rawInt(path, "PRAGMA foreign_key_check"), qint64(-1)); // no row
        // New points keep their system figures (and the levels of detail summarise them).
        s.setRunStatus(2, status::kRunning);
        const auto r = s.ingest(2, 0,
                                R"({"t":"step","step":1,"tokens":64,"loss":5,"rss_bytes":1048576,)"
                                R"("cpu_pct":99.5,"elapsed_s":0.5})"
                                "\n");
        QCOMPARE(r.points, qint64(1));
        QCOMPARE(s.points(2, PointType::Step)[0].value(MetricColumn::CpuPct),
                 std::optional<double>(99.5));
        QCOMPARE(s.series(2, MetricColumn::Rss, 0, RunStore::kLastStep, 1)[0].max, 1048576.0);
    }

    // Version 5 → 6: run_prices, empty, and runs.own_price, 0; every run keeps its launch price
    // as its one segment and its cost; then a node price change reaches the running run from its
    // newest elapsed time, and a deleted run takes its changes with it.
    void migratesVersion5() {
        const QString path = storeFromSql(test::freshDir(QStringLiteral("store-upgrade/v5")), 5);
        QVERIFY(!path.isEmpty());
        QCOMPARE(test::rawInt(path, "PRAGMA user_version"), qint64(5));
        QCOMPARE(test::rawInt(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'run_prices'"),
                 qint64(0));
        RunStore s(path);
        QCOMPARE(s.versionFoundOnOpen(), 5);
        QCOMPARE(s.schemaVersion(), 6);
        QCOMPARE(test::rawInt(path, "SELECT COUNT(*) FROM run_prices"), qint64(0));
        const auto r = s.run(1);
        QVERIFY(r);
        QCOMPARE(r->status, status::kRunning);
        QCOMPARE(r->prices.segments().size(), 1);
        QCOMPARE(r->prices.current(), std::optional<double>(2.5));
        QCOMPARE(summarize(s, 1).cost, std::optional<double>(2.5 * 0.3 / 3600.0));
        QVERIFY(!s.run(2)->prices.hasPrice());
        // Existing runs took their node's price: a node change reaches them (own_price 0).
        QVERIFY(!r->ownPrice);
        QCOMPARE(test::rawInt(path, "SELECT COUNT(*) FROM runs WHERE own_price <> 0"), qint64(0));
        QCOMPARE(s.phases(1).size(), 1); // version 5's data intact
        QCOMPARE(s.pointCount(2, PointType::Step), qint64(1));

        auto box = *s.node(QStringLiteral("box"));
        box.pricePerHour = 5.0;
        const NodePriceChange c = saveNodeSettings(s, box);
        QCOMPARE(c.runs.size(), 1);
        QCOMPARE(c.runs[0].runId, qint64(1));
        QCOMPARE(c.runs[0].fromElapsed, 0.3);
        QCOMPARE(s.run(1)->prices.segments().size(), 2);
        QCOMPARE(test::rawInt(path, "PRAGMA foreign_key_check"), qint64(-1)); // no row
        s.setRunStatus(1, status::kCancelled);
        s.deleteRun(1);
        QCOMPARE(test::rawInt(path, "SELECT COUNT(*) FROM run_prices"), qint64(0));
    }

    void slurmNodeAndJob() {
        const QString path = v2Store(test::freshDir(QStringLiteral("store-upgrade/slurm")));
        QVERIFY(!path.isEmpty());
        RunStore s(path);
        nodes::SlurmJobDefaults d;
        d.partition = QStringLiteral("gpu");
        d.timeLimit = QStringLiteral("4:00:00");
        d.gpusPerNode = 4;
        d.extraLines = {QStringLiteral("#SBATCH --constraint=a100")};
        NodeRecord n;
        n.name = QStringLiteral("cluster");
        n.kind = QStringLiteral("slurm");
        n.host = QStringLiteral("login.hpc.lab");
        n.runRoot = QStringLiteral("/shared/bcd-runs");
        n.jobDefaults = d.toJson();
        s.addNode(n);
        auto back = s.node(QStringLiteral("cluster"));
        QVERIFY(back);
        QCOMPARE(back->jobDefaults, d.toJson());
        QCOMPARE(nodes::SlurmJobDefaults::fromJson(back->jobDefaults).extraLines, d.extraLines);
        d.timeLimit = QStringLiteral("8:00:00");
        n.jobDefaults = d.toJson();
        s.updateNode(n);
        QCOMPARE(s.node(QStringLiteral("cluster"))->jobDefaults.value("time").toString(),
                 QStringLiteral("8:00:00"));

        const qint64 id = test::addRun(s, QStringLiteral("on slurm"), QStringLiteral("cluster"));
        s.setRunLocation(id, QStringLiteral("/shared/bcd-runs/2-on-slurm"), 0,
                         QStringLiteral("77"));
        s.setRunStatus(id, status::kQueued);
        s.setRunJobState(id, QStringLiteral("PENDING"), QStringLiteral("Priority"));
        auto r = s.run(id);
        QCOMPARE(r->jobId, QStringLiteral("77"));
        QCOMPARE(r->status, status::kQueued);
        QCOMPARE(r->jobReason, QStringLiteral("Priority"));
        QVERIFY(!r->startedAt);
        s.setRunJobState(id, QStringLiteral("RUNNING"), QStringLiteral("None"));
        r = s.run(id);
        QCOMPARE(r->status, status::kRunning);
        QVERIFY(r->startedAt);
        // A requeued job waits again; a finished run stays finished whatever the queue says.
        s.setRunJobState(id, QStringLiteral("PENDING"), QStringLiteral("BeginTime"));
        QCOMPARE(s.run(id)->status, status::kQueued);
        s.setRunStatus(id, status::kFinished);
        s.setRunJobState(id, QStringLiteral("COMPLETED"), QStringLiteral("None"));
        r = s.run(id);
        QCOMPARE(r->status, status::kFinished);
        QCOMPARE(r->jobState, QStringLiteral("COMPLETED"));
    }
};

QTEST_GUILESS_MAIN(TestStoreUpgrade)
#include "tst_store_upgrade.moc"
