// RunStore (app/store/run_store.cpp, schema.cpp): opening, refusal of files it must not touch,
// migration of the committed version-1 fixture, nodes, runs and workbench events.

#include "metrics_lines.h"
#include "store/run_store.h"
#include "store/schema.h"
#include "store_test_util.h"

#include <QDir>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTest>
#include <functional>
#include <thread>

using namespace bcd::store;
using bcd::test::fileBytes;
using bcd::test::freshDir;

namespace {

// Runs fn, which must throw StoreError; returns its message (empty when nothing was thrown).
template <class Fn> QString storeError(Fn fn) {
    try {
        fn();
    } catch (const StoreError& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

} // namespace

class TestRunStore : public QObject {
    Q_OBJECT
private slots:
    // --- Opening ----------------------------------------------------------------------------

    void opensNewStoreWithItsFolder() {
        const QString dir = freshDir(QStringLiteral("run_store/new"));
        const QString path = dir + QStringLiteral("/a/b/store.sqlite");
        {
            RunStore s(path);
            QVERIFY(QFileInfo(path).isFile());
            QCOMPARE(s.path(), path);
            QCOMPARE(s.versionFoundOnOpen(), 0);
            QCOMPARE(s.schemaVersion(), schema::kVersion);
            QCOMPARE(s.pragma(QStringLiteral("journal_mode")).toString(), QStringLiteral("wal"));
            QCOMPARE(s.pragma(QStringLiteral("foreign_keys")).toInt(), 1);
            QVERIFY(s.pragma(QStringLiteral("busy_timeout")).toInt() >= 1000);
            const auto local = s.node(QStringLiteral("local"));
            QVERIFY(local);
            QCOMPARE(local->kind, QStringLiteral("local"));
            QCOMPARE(s.nodes().size(), 1);
            // pragma() takes a name, not SQL.
            QVERIFY(!storeError([&] {
                         s.pragma(QStringLiteral("user_version; DROP TABLE runs"));
                     }).isEmpty());
            bcd::test::addRun(s);
        }
        RunStore again(path);
        QCOMPARE(again.versionFoundOnOpen(), schema::kVersion);
        QCOMPARE(again.nodes().size(), 1); // "local" is not added twice
        QCOMPARE(again.runs().size(), 1);
        QCOMPARE(again.pragma(QStringLiteral("foreign_keys")).toInt(), 1);
    }

    void refusesADirectory() {
        const QString dir = freshDir(QStringLiteral("run_store/dir"));
        const QString msg = storeError([&] { RunStore s(dir); });
        QVERIFY2(msg.contains(dir), qPrintable(msg));
        QVERIFY(QFileInfo(dir).isDir());
        QVERIFY(QDir(dir).isEmpty());
    }

    void refusesGarbageAndLeavesItsBytes() {
        const QString dir = freshDir(QStringLiteral("run_store/garbage"));
        const QString path = dir + QStringLiteral("/store.sqlite");
        QByteArray garbage(8192, Qt::Uninitialized);
        QRandomGenerator rng(7);
        for (char& c : garbage) c = static_cast<char>(rng.bounded(256));
        QVERIFY(bcd::test::writeBytes(path, garbage));
        const QString msg = storeError([&] { RunStore s(path); });
        QVERIFY2(msg.contains(path), qPrintable(msg));
        QCOMPARE(fileBytes(path), garbage);

        // Text that merely looks like a file of ours.
        const QByteArray text = "SQLite format 3 - not really\n" + QByteArray(4000, 'x');
        QVERIFY(bcd::test::writeBytes(path, text));
        QVERIFY(storeError([&] { RunStore s(path); }).contains(path));
        QCOMPARE(fileBytes(path), text);
        QCOMPARE(QDir(dir).entryList(QDir::Files), QStringList{QStringLiteral("store.sqlite")});
    }

    void refusesANewerSchemaUntouched_data() {
        QTest::addColumn<QString>("journal");
        QTest::newRow("delete") << QStringLiteral("DELETE");
        QTest::newRow("wal") << QStringLiteral("WAL");
    }
    void refusesANewerSchemaUntouched() {
        QFETCH(QString, journal);
        const QString dir = freshDir(QStringLiteral("run_store/newer"));
        const QString path = dir + QStringLiteral("/store.sqlite");
        {
            RunStore s(path);
            bcd::test::addRun(s);
        }
        const QByteArray sql = QStringLiteral("PRAGMA user_version = %1; PRAGMA journal_mode = %2;")
                                   .arg(schema::kVersion + 7)
                                   .arg(journal)
                                   .toUtf8();
        QCOMPARE(bcd::test::rawSql(path, sql.constData()), QString());
        const QByteArray before = fileBytes(path);
        const QString msg = storeError([&] { RunStore s(path); });
        QVERIFY2(msg.contains(path) && msg.contains(QLatin1String("newer")) &&
                     msg.contains(QString::number(schema::kVersion + 7)),
                 qPrintable(msg));
        QCOMPARE(fileBytes(path), before);
        QCOMPARE(bcd::test::rawInt(path, "PRAGMA user_version"), qint64(schema::kVersion + 7));
        QCOMPARE(bcd::test::rawInt(path, "SELECT COUNT(*) FROM runs"), qint64(1));
    }

    // Two connections creating the same new store at once (the GUI and a CLI started together)
    // both end up with a migrated store.
    void concurrentFirstOpen() {
        for (int round = 0; round < 5; ++round) {
            const QString dir = freshDir(QStringLiteral("run_store/concurrent"));
            const QString path = dir + QStringLiteral("/store.sqlite");
            QString errors[2];
            std::thread threads[2];
            for (int i = 0; i < 2; ++i)
                threads[i] = std::thread([&, i] {
                    try {
                        RunStore s(path);
                        if (s.schemaVersion() != schema::kVersion)
                            errors[i] = QStringLiteral("old schema");
                        if (!s.node(QStringLiteral("local")))
                            errors[i] = QStringLiteral("no local node");
                    } catch (const std::exception& e) {
                        errors[i] = QString::fromUtf8(e.what());
                    }
                });
            for (auto& t : threads) t.join();
            QVERIFY2(errors[0].isEmpty(), qPrintable(errors[0]));
            QVERIFY2(errors[1].isEmpty(), qPrintable(errors[1]));
            RunStore s(path);
            QCOMPARE(s.nodes().size(), 1);
        }
    }

    // --- Migration --------------------------------------------------------------------------

    // The fixture really is a version-1 store, made from store-v1.sql.
    void fixtureIsVersion1() {
        const QString dir = freshDir(QStringLiteral("run_store/fixture"));
        const QString path = bcd::test::copyV1Fixture(dir);
        QVERIFY(!path.isEmpty());
        QCOMPARE(bcd::test::rawInt(path, "PRAGMA user_version"), qint64(1));
        QCOMPARE(bcd::test::rawInt(path, "SELECT COUNT(*) FROM metric_points"), qint64(112));
        QCOMPARE(bcd::test::rawInt(path, "SELECT COUNT(*) FROM events"), qint64(7));
        QCOMPARE(bcd::test::rawInt(path, "SELECT COUNT(*) FROM pragma_table_info('metric_points') "
                                         "WHERE name = 'type' AND type = 'TEXT'"),
                 qint64(1));
    }

    void migratesVersion1() {
        const QString dir = freshDir(QStringLiteral("run_store/migrate"));
        const QString path = bcd::test::copyV1Fixture(dir);
        {
            RunStore s(path);
            QCOMPARE(s.versionFoundOnOpen(), 1);
            QCOMPARE(s.schemaVersion(), schema::kVersion);
            QCOMPARE(s.pragma(QStringLiteral("journal_mode")).toString(), QStringLiteral("wal"));
            QCOMPARE(s.pragma(QStringLiteral("foreign_keys")).toInt(), 1);

            // Nodes, with the columns version 2 added empty.
            QCOMPARE(s.nodes().size(), 2);
            const auto box = s.node(QStringLiteral("box"));
            QVERIFY(box);
            QCOMPARE(box->kind, QStringLiteral("ssh"));
            QCOMPARE(box->host, QStringLiteral("box.lab"));
            QCOMPARE(box->port, 2222);
            QCOMPARE(box->user, QStringLiteral("ada"));
            QCOMPARE(box->identity, QStringLiteral("/home/ada/.ssh/id_ed25519"));
            QCOMPARE(box->engine, QStringLiteral("/opt/bcd/bin/bcd-train"));
            QCOMPARE(box->createdAt, 1700000001.0);
            QVERIFY(box->runRoot.isEmpty());
            QVERIFY(!box->pricePerHour);
            QVERIFY(box->probe.isEmpty());

            // Runs.
            const auto runs = s.runs();
            QCOMPARE(runs.size(), 2);
            const RunRecord& r1 = runs[0];
            QCOMPARE(r1.id, qint64(1));
            QCOMPARE(r1.name, QStringLiteral("v1-long"));
            QCOMPARE(r1.node, QStringLiteral("box"));
            QCOMPARE(r1.status, status::kFinished);
            QCOMPARE(r1.remoteDir, QStringLiteral("/home/ada/bcd-runs/1-v1-long"));
            QCOMPARE(r1.pid, qint64(4242));
            QCOMPARE(r1.metricsOffset, qint64(31337));
            QCOMPARE(r1.createdAt, 1700000100.0);
            QCOMPARE(r1.startedAt, std::optional<double>(1700000101.0));
            QCOMPARE(r1.endedAt, std::optional<double>(1700000200.0));
            QCOMPARE(r1.config.value(QLatin1String("optim"))
                         .toObject()
                         .value(QLatin1String("lr"))
                         .toDouble(),
                     0.001);
            QVERIFY(r1.tags.isEmpty());
            QVERIFY(r1.hosts.isEmpty());
            QVERIFY(r1.message.isEmpty());
            QCOMPARE(r1.lastStep, std::optional<qint64>(100)); // filled in by the migration
            QCOMPARE(runs[1].node, QStringLiteral("local"));
            QCOMPARE(runs[1].status, status::kCancelled);
            QCOMPARE(runs[1].lastStep, std::optional<qint64>(10));
            QCOMPARE(runs[1].metricsOffset, qint64(999));

            // Points, typed by integer now, values intact.
            QCOMPARE(s.pointCount(1, PointType::Step), qint64(100));
            QCOMPARE(s.pointCount(1, PointType::Eval), qint64(2));
            QCOMPARE(s.pointCount(2, PointType::Step), qint64(10));
            const auto pts = s.points(1, PointType::Step);
            QCOMPARE(pts.size(), 100);
            for (const MetricPoint& p : pts) {
                const qint64 n = p.step;
                QCOMPARE(p.value(MetricColumn::Tokens), std::optional<double>(n * 64));
                QCOMPARE(p.value(MetricColumn::Loss),
                         std::optional<double>(n == 37 ? 9.5 : 5.0 - n / 50.0));
                QCOMPARE(p.value(MetricColumn::Block), std::optional<double>((n - 1) / 25));
                QCOMPARE(p.value(MetricColumn::Mem), std::optional<double>(1000000));
                QVERIFY(!p.value(MetricColumn::ValLoss));
            }
            const auto evals = s.points(1, PointType::Eval);
            QCOMPARE(evals.size(), 2);
            QCOMPARE(evals[0].step, qint64(50));
            QCOMPARE(evals[0].value(MetricColumn::ValLoss), std::optional<double>(4.25));
            QCOMPARE(evals[1].value(MetricColumn::ValLoss), std::optional<double>(3.5));

            // Events: version 1's duplicate re-reads are stored once.
            const auto ev = s.events(1);
            QStringList kinds;
            for (const auto& e : ev) kinds << e.kind + '@' + QString::number(e.step.value_or(-1));
            QCOMPARE(kinds, (QStringList{"start@0", "switch@25", "ckpt@50", "end@100"}));
            QCOMPARE(ev[2].data.value(QLatin1String("path")).toString(),
                     QStringLiteral("checkpoints/step-00000050"));
            for (const auto& e : ev) QCOMPARE(e.source, QStringLiteral("engine"));
            const auto ev2 = s.events(2);
            QCOMPARE(ev2.size(), 1);
            QCOMPARE(ev2[0].kind, QStringLiteral("cancel"));
            QCOMPARE(ev2[0].source, QStringLiteral("workbench")); // version 1's step-less events

            // The levels of detail were built: a one-bucket series still finds the spike.
            const auto one = s.series(1, MetricColumn::Loss, 0, RunStore::kLastStep, 1);
            QCOMPARE(one.size(), 1);
            QCOMPARE(one[0].count, qint64(100));
            QCOMPARE(one[0].max, 9.5);
            QCOMPARE(one[0].maxStep, qint64(37));
            QCOMPARE(one[0].min, 3.0);
            QCOMPARE(one[0].minStep, qint64(100));

            // The migrated store ingests on from its stored offset.
            const IngestResult res = s.ingest(2, 999, bcd::test::stepLine(11));
            QVERIFY(res.accepted);
            QCOMPARE(s.pointCount(2, PointType::Step), qint64(11));
            QCOMPARE(s.run(2)->lastStep, std::optional<qint64>(11));
        }
        QCOMPARE(bcd::test::rawInt(path, "SELECT COUNT(*) FROM pragma_foreign_key_check"),
                 qint64(0));
        QCOMPARE(
            bcd::test::rawInt(
                path, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'"),
            qint64(0));
        RunStore again(path);
        QCOMPARE(again.versionFoundOnOpen(), schema::kVersion);
        QCOMPARE(again.pointCount(1, PointType::Step), qint64(100));
    }

    // A migration that fails (here: a run of a node that does not exist) is rolled back whole.
    void failedMigrationLeavesTheFile() {
        const QString dir = freshDir(QStringLiteral("run_store/failed-migration"));
        const QString path = bcd::test::copyV1Fixture(dir);
        QCOMPARE(bcd::test::rawSql(path, "UPDATE runs SET node_id = 99 WHERE id = 2"), QString());
        const QByteArray before = fileBytes(path);
        const QString msg = storeError([&] { RunStore s(path); });
        QVERIFY2(msg.contains(path) && msg.contains(QLatin1String("version 2")), qPrintable(msg));
        QCOMPARE(fileBytes(path), before);
        QCOMPARE(bcd::test::rawInt(path, "PRAGMA user_version"), qint64(1));
        QCOMPARE(bcd::test::rawInt(path, "SELECT COUNT(*) FROM metric_points"), qint64(112));
    }

    // --- Nodes ------------------------------------------------------------------------------

    void nodes() {
        RunStore s(freshDir(QStringLiteral("run_store/nodes")) + QStringLiteral("/store.sqlite"));
        NodeRecord n;
        n.name = QStringLiteral("gpu1");
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("10.0.0.5");
        n.port = 2200;
        n.user = QStringLiteral("bob");
        n.identity = QStringLiteral("/keys/id");
        n.knownHosts = QStringLiteral("/keys/known_hosts");
        n.engine = QStringLiteral("/opt/bcd-train");
        n.runRoot = QStringLiteral("/scratch/runs");
        n.pricePerHour = 2.5;
        QVERIFY(s.addNode(n) > 0);
        NodeRecord spare;
        spare.name = QStringLiteral("aspare");
        spare.kind = QStringLiteral("ssh");
        spare.host = QStringLiteral("h");
        s.addNode(spare);

        const auto got = s.node(QStringLiteral("gpu1"));
        QVERIFY(got);
        QCOMPARE(got->host, n.host);
        QCOMPARE(got->port, 2200);
        QCOMPARE(got->user, n.user);
        QCOMPARE(got->identity, n.identity);
        QCOMPARE(got->knownHosts, n.knownHosts);
        QCOMPARE(got->engine, n.engine);
        QCOMPARE(got->runRoot, n.runRoot);
        QCOMPARE(got->pricePerHour, std::optional<double>(2.5));
        QVERIFY(got->createdAt > 1.6e9);
        QVERIFY(!s.node(QStringLiteral("nope")));

        QStringList names;
        for (const auto& x : s.nodes()) names << x.name;
        QCOMPARE(names, (QStringList{"local", "aspare", "gpu1"})); // local first, then by name

        // A duplicate name is refused and changes nothing.
        NodeRecord dup = n;
        dup.host = QStringLiteral("elsewhere");
        QVERIFY(storeError([&] { s.addNode(dup); }).contains(QLatin1String("gpu1")));
        QCOMPARE(s.node(QStringLiteral("gpu1"))->host, n.host);
        QCOMPARE(s.nodes().size(), 3);

        QVERIFY(storeError([&] {
                    s.removeNode(QStringLiteral("local"));
                }).contains(QLatin1String("local")));
        QVERIFY(s.node(QStringLiteral("local")));

        bcd::test::addRun(s, QStringLiteral("on-gpu1"), QStringLiteral("gpu1"));
        QVERIFY(storeError([&] {
                    s.removeNode(QStringLiteral("gpu1"));
                }).contains(QLatin1String("runs")));
        QVERIFY(s.node(QStringLiteral("gpu1")));

        s.removeNode(QStringLiteral("aspare"));
        QVERIFY(!s.node(QStringLiteral("aspare")));
        QVERIFY(!storeError([&] { s.removeNode(QStringLiteral("aspare")); }).isEmpty());

        s.setNodeProbe(QStringLiteral("gpu1"), QJsonObject{{"gpus", 2}, {"driver", "550.54"}});
        const auto probed = s.node(QStringLiteral("gpu1"));
        QCOMPARE(probed->probe.value(QLatin1String("gpus")).toInt(), 2);
        QCOMPARE(probed->probe.value(QLatin1String("driver")).toString(), QStringLiteral("550.54"));
        QVERIFY(probed->probedAt > 1.6e9);
    }

    void updateNodeKeepsIdAndProbe() {
        RunStore s(freshDir(QStringLiteral("run_store/update_node")) +
                   QStringLiteral("/store.sqlite"));
        NodeRecord n;
        n.name = QStringLiteral("gpu1");
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("10.0.0.5");
        n.port = 2200;
        n.user = QStringLiteral("bob");
        n.identity = QStringLiteral("/keys/id");
        n.knownHosts = QStringLiteral("/keys/known_hosts");
        n.pricePerHour = 2.5;
        const qint64 id = s.addNode(n);
        const qint64 runId =
            bcd::test::addRun(s, QStringLiteral("on-gpu1"), QStringLiteral("gpu1"));
        s.setNodeProbe(QStringLiteral("gpu1"), QJsonObject{{"gpus", 2}});
        const NodeRecord before = *s.node(QStringLiteral("gpu1"));
        QVERIFY(before.probedAt > 0);

        // Settings that do not touch the connection: the probe, id and creation time stay.
        NodeRecord edit = before;
        edit.engine = QStringLiteral("/opt/bcd-train");
        edit.runRoot = QStringLiteral("/scratch/runs");
        edit.pricePerHour = 4.0;
        edit.createdAt = 1; // ignored
        edit.id = 999;      // ignored
        s.updateNode(edit);
        auto got = s.node(QStringLiteral("gpu1"));
        QCOMPARE(got->id, id);
        QCOMPARE(got->createdAt, before.createdAt);
        QCOMPARE(got->engine, edit.engine);
        QCOMPARE(got->runRoot, edit.runRoot);
        QCOMPARE(got->pricePerHour, std::optional<double>(4.0));
        QCOMPARE(got->probe.value(QLatin1String("gpus")).toInt(), 2);
        QCOMPARE(got->probedAt, before.probedAt);
        QCOMPARE(got->host, n.host);
        QCOMPARE(got->port, 2200);
        QCOMPARE(s.run(runId)->node, QStringLiteral("gpu1")); // the run still refers to it

        // A price can be cleared.
        edit.pricePerHour.reset();
        s.updateNode(edit);
        QVERIFY(!s.node(QStringLiteral("gpu1"))->pricePerHour);

        // Each connection field clears the probe.
        const QList<std::function<void(NodeRecord&)>> changes = {
            [](NodeRecord& r) { r.host = QStringLiteral("10.0.0.6"); },
            [](NodeRecord& r) { r.port = 2201; },
            [](NodeRecord& r) { r.user = QStringLiteral("alice"); },
            [](NodeRecord& r) { r.identity = QStringLiteral("/keys/other"); },
            [](NodeRecord& r) { r.knownHosts = QStringLiteral(""); },
        };
        for (qsizetype i = 0; i < changes.size(); ++i) {
            s.setNodeProbe(QStringLiteral("gpu1"), QJsonObject{{"gpus", 2}});
            NodeRecord c = *s.node(QStringLiteral("gpu1"));
            changes[i](c);
            s.updateNode(c);
            got = s.node(QStringLiteral("gpu1"));
            QVERIFY2(got->probe.isEmpty(), qPrintable(QString::number(i)));
            QCOMPARE(got->probedAt, 0.0);
            QCOMPARE(got->host, c.host);
            QCOMPARE(got->port, c.port);
            QCOMPARE(got->user, c.user);
            QCOMPARE(got->identity, c.identity);
            QCOMPARE(got->knownHosts, c.knownHosts);
            QCOMPARE(got->id, id);
        }
        QCOMPARE(s.nodes().size(), 2);

        // An unknown node, and an SSH node turned local, are refused.
        NodeRecord ghost = n;
        ghost.name = QStringLiteral("ghost");
        QVERIFY(storeError([&] { s.updateNode(ghost); }).contains(QLatin1String("ghost")));
        QVERIFY(!s.node(QStringLiteral("ghost")));
        NodeRecord toLocal = *s.node(QStringLiteral("gpu1"));
        toLocal.kind = QStringLiteral("local");
        QVERIFY(!storeError([&] { s.updateNode(toLocal); }).isEmpty());
        QCOMPARE(s.node(QStringLiteral("gpu1"))->kind, QStringLiteral("ssh"));
    }

    void updateNodeLocal() {
        RunStore s(freshDir(QStringLiteral("run_store/update_local")) +
                   QStringLiteral("/store.sqlite"));
        s.setNodeProbe(QStringLiteral("local"), QJsonObject{{"cpu_threads", 8}});
        const NodeRecord local = *s.node(QStringLiteral("local"));
        // Its price, engine and run root can change; the probe stays.
        NodeRecord edit = local;
        edit.pricePerHour = 0.25;
        edit.runRoot = QStringLiteral("/data/runs");
        s.updateNode(edit);
        auto got = s.node(QStringLiteral("local"));
        QCOMPARE(got->pricePerHour, std::optional<double>(0.25));
        QCOMPARE(got->runRoot, QStringLiteral("/data/runs"));
        QCOMPARE(got->kind, QStringLiteral("local"));
        QCOMPARE(got->id, local.id);
        QCOMPARE(got->probe.value(QLatin1String("cpu_threads")).toInt(), 8);
        // Its host and kind cannot.
        NodeRecord host = *got;
        host.host = QStringLiteral("elsewhere");
        QVERIFY(storeError([&] { s.updateNode(host); }).contains(QLatin1String("local")));
        NodeRecord kind = *got;
        kind.kind = QStringLiteral("ssh");
        kind.host = QStringLiteral("h");
        QVERIFY(storeError([&] { s.updateNode(kind); }).contains(QLatin1String("local")));
        got = s.node(QStringLiteral("local"));
        QCOMPARE(got->kind, QStringLiteral("local"));
        QVERIFY(got->host.isEmpty());
        QCOMPARE(got->pricePerHour, std::optional<double>(0.25));
    }

    // --- Runs -------------------------------------------------------------------------------

    void runsAndStatus() {
        RunStore s(freshDir(QStringLiteral("run_store/runs")) + QStringLiteral("/store.sqlite"));
        NodeRecord priced;
        priced.name = QStringLiteral("cloud");
        priced.kind = QStringLiteral("ssh");
        priced.host = QStringLiteral("c");
        priced.pricePerHour = 3.0;
        s.addNode(priced);

        NewRun nr;
        nr.name = QStringLiteral("first");
        nr.tags = QStringList{"bcd", "tiny"};
        nr.notes = QStringLiteral("a note");
        nr.config = QJsonObject{{"optim", QJsonObject{{"lr", 0.01}}}};
        nr.node = QStringLiteral("cloud");
        nr.hosts = QStringList{"cloud", "local"};
        nr.stepsTotal = 500;
        const double before = QDateTime::currentMSecsSinceEpoch() / 1000.0;
        const qint64 id = s.createRun(nr);
        const auto r = s.run(id);
        QVERIFY(r);
        QCOMPARE(r->name, nr.name);
        QCOMPARE(r->tags, nr.tags);
        QCOMPARE(r->notes, nr.notes);
        QCOMPARE(r->config, nr.config);
        QCOMPARE(r->node, QStringLiteral("cloud"));
        QCOMPARE(r->hosts, nr.hosts);
        QCOMPARE(r->stepsTotal, std::optional<qint64>(500));
        QCOMPARE(r->pricePerHour, std::optional<double>(3.0)); // the node's price
        QCOMPARE(r->status, status::kStarting);
        QCOMPARE(r->metricsOffset, qint64(0));
        QVERIFY(!r->startedAt && !r->endedAt && !r->lastStep);
        QVERIFY(r->createdAt >= before - 1 && r->createdAt <= before + 60);

        NewRun own = nr;
        own.name = QStringLiteral("second");
        own.pricePerHour = 0.5;
        own.notes = QString();
        const qint64 id2 = s.createRun(own);
        QCOMPARE(s.run(id2)->pricePerHour, std::optional<double>(0.5));
        QCOMPARE(s.run(id2)->notes, QString(""));
        QVERIFY(id2 > id);

        NewRun nowhere = nr;
        nowhere.node = QStringLiteral("mars");
        QVERIFY(storeError([&] { s.createRun(nowhere); }).contains(QLatin1String("mars")));
        QCOMPARE(s.runs().size(), 2);
        QCOMPARE(s.runs()[0].id, id);
        QVERIFY(!s.run(9999));

        // Status transitions: started and ended times, the message kept when none is given.
        s.setRunStatus(id, status::kRunning);
        auto cur = s.run(id);
        QCOMPARE(cur->status, status::kRunning);
        QVERIFY(cur->startedAt && !cur->endedAt);
        const double started = *cur->startedAt;
        QTest::qWait(20);
        s.setRunStatus(id, status::kRunning);
        QCOMPARE(*s.run(id)->startedAt, started);
        s.setRunStatus(id, status::kFinished, QStringLiteral("done"));
        cur = s.run(id);
        QCOMPARE(cur->status, status::kFinished);
        QCOMPARE(cur->message, QStringLiteral("done"));
        QVERIFY(cur->endedAt && *cur->endedAt >= started);
        s.setRunStatus(id, status::kFailed);
        QCOMPARE(s.run(id)->message, QStringLiteral("done"));
        s.setRunStatus(id, status::kFailed, QStringLiteral("")); // empty, not only null, keeps it
        QCOMPARE(s.run(id)->message, QStringLiteral("done"));
        QCOMPARE(s.run(id)->status, status::kFailed);
        QVERIFY(storeError([&] {
                    s.setRunStatus(id, QStringLiteral("exploded"));
                }).contains(QLatin1String("exploded")));
        QCOMPARE(s.run(id)->status, status::kFailed);
        QVERIFY(!storeError([&] { s.setRunStatus(9999, status::kRunning); }).isEmpty());
        // Running again (re-launched) clears the end time.
        s.setRunStatus(id, status::kRunning);
        QVERIFY(!s.run(id)->endedAt);

        QVERIFY(status::isTerminal(status::kCancelled) && !status::isTerminal(status::kRunning));
        QVERIFY(status::isValid(status::kStarting) && !status::isValid(QStringLiteral("")));

        s.setRunLocation(id, QStringLiteral("/scratch/runs/1-first"), 31337);
        QCOMPARE(s.run(id)->remoteDir, QStringLiteral("/scratch/runs/1-first"));
        QCOMPARE(s.run(id)->pid, qint64(31337));
        QVERIFY(!storeError([&] { s.setRunLocation(9999, QStringLiteral("/x"), 1); }).isEmpty());
    }

    void updateRunInfo() {
        RunStore s(freshDir(QStringLiteral("run_store/run_info")) +
                   QStringLiteral("/store.sqlite"));
        NewRun nr;
        nr.name = QStringLiteral("first");
        nr.tags = QStringList{"bcd"};
        nr.notes = QStringLiteral("old");
        nr.node = QStringLiteral("local");
        nr.config = QJsonObject{{"optim", QJsonObject{{"lr", 0.01}}}};
        nr.pricePerHour = 1.0;
        const qint64 id = s.createRun(nr);
        const qint64 other = bcd::test::addRun(s, QStringLiteral("other"));
        s.setRunStatus(id, status::kRunning, QStringLiteral("msg"));
        const RunRecord before = *s.run(id);

        s.updateRunInfo(id, QStringLiteral("renamed"),
                        {QStringLiteral("sweep"), QStringLiteral("lr 3e-3")},
                        QStringLiteral("line one\nline two"));
        auto r = s.run(id);
        QCOMPARE(r->name, QStringLiteral("renamed"));
        QCOMPARE(r->tags, (QStringList{"sweep", "lr 3e-3"}));
        QCOMPARE(r->notes, QStringLiteral("line one\nline two"));
        // Nothing else changes.
        QCOMPARE(r->config, before.config);
        QCOMPARE(r->status, status::kRunning);
        QCOMPARE(r->message, QStringLiteral("msg"));
        QCOMPARE(r->pricePerHour, before.pricePerHour);
        QCOMPARE(r->createdAt, before.createdAt);
        QCOMPARE(r->startedAt, before.startedAt);
        QCOMPARE(s.run(other)->name, QStringLiteral("other"));

        // Tags and notes can be emptied.
        s.updateRunInfo(id, QStringLiteral("renamed"), {}, QString());
        r = s.run(id);
        QVERIFY(r->tags.isEmpty());
        QCOMPARE(r->notes, QString(""));

        // An empty name and an unknown run are refused and change nothing.
        QVERIFY(!storeError([&] {
                     s.updateRunInfo(id, QString(), {"x"}, QStringLiteral("n"));
                 }).isEmpty());
        QVERIFY(
            !storeError([&] { s.updateRunInfo(id, QStringLiteral("  "), {"x"}, {}); }).isEmpty());
        QCOMPARE(s.run(id)->name, QStringLiteral("renamed"));
        QVERIFY(s.run(id)->tags.isEmpty());
        QVERIFY(storeError([&] {
                    s.updateRunInfo(9999, QStringLiteral("x"), {}, {});
                }).contains(QLatin1String("9999")));
        QVERIFY(!s.run(9999));
    }

    // A run is deleted with its points and events (levels of detail too); live runs and unknown
    // ids are refused; other runs stay untouched.
    void deleteRun() {
        RunStore s(freshDir(QStringLiteral("run_store/delete")) + QStringLiteral("/store.sqlite"));
        const qint64 gone = bcd::test::addRun(s, QStringLiteral("gone"));
        const qint64 kept = bcd::test::addRun(s, QStringLiteral("kept"));
        for (qint64 id : {gone, kept}) {
            s.setRunStatus(id, status::kRunning);
            QVERIFY(
                s.ingest(id, 0, bcd::test::startLine() + bcd::test::stepLines(1, 300)).accepted);
            s.addEvent(id, QStringLiteral("launch"), QJsonObject{{"pid", 12}});
        }
        QVERIFY(storeError([&] { s.deleteRun(gone); }).contains(QLatin1String("cancel it")));
        QVERIFY(s.run(gone));
        s.setRunStatus(gone, status::kCancelled);
        s.deleteRun(gone);
        QVERIFY(!s.run(gone));
        QCOMPARE(s.pointCount(gone, PointType::Step), 0);
        QVERIFY(s.events(gone).isEmpty());
        QVERIFY(s.series(gone, MetricColumn::Loss, 0, RunStore::kLastStep, 10).isEmpty());
        QCOMPARE(s.pointCount(kept, PointType::Step), 300);
        QVERIFY(!s.events(kept).isEmpty());
        QVERIFY(storeError([&] { s.deleteRun(gone); }).contains(QLatin1String("no run")));
    }

    void workbenchEventsAppend() {
        RunStore s(freshDir(QStringLiteral("run_store/events")) + QStringLiteral("/store.sqlite"));
        const qint64 id = bcd::test::addRun(s);
        s.addEvent(id, QStringLiteral("launch"), QJsonObject{{"pid", 12}});
        s.addEvent(id, QStringLiteral("attach"), {});
        s.addEvent(id, QStringLiteral("launch"), QJsonObject{{"pid", 13}});
        const auto ev = s.events(id);
        QCOMPARE(ev.size(), 3);
        QCOMPARE(ev[0].kind, QStringLiteral("launch"));
        QCOMPARE(ev[0].data.value(QLatin1String("pid")).toInt(), 12);
        QCOMPARE(ev[2].data.value(QLatin1String("pid")).toInt(), 13);
        for (const auto& e : ev) {
            QCOMPARE(e.source, QStringLiteral("workbench"));
            QVERIFY(!e.step);
            QVERIFY(e.time > 1.6e9);
        }
        QVERIFY(ev[0].id < ev[1].id && ev[1].id < ev[2].id);
        // Engine records of the same kind do not replace workbench events.
        s.ingest(id, 0, bcd::test::startLine());
        QCOMPARE(s.events(id).size(), 4);
        // Events of a run that does not exist are refused (foreign key).
        QVERIFY(!storeError([&] { s.addEvent(9999, QStringLiteral("launch"), {}); }).isEmpty());
    }

    void ownerThreadOnly() {
        RunStore s(freshDir(QStringLiteral("run_store/thread")) + QStringLiteral("/store.sqlite"));
        QString msg;
        std::thread t([&] { msg = storeError([&] { s.nodes(); }); });
        t.join();
        QVERIFY2(msg.contains(QLatin1String("thread")), qPrintable(msg));
    }
};

QTEST_GUILESS_MAIN(TestRunStore)
#include "tst_run_store.moc"
