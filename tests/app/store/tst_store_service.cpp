// StoreService (app/store/store_service.cpp): a RunStore on its own thread. Work runs there,
// results and errors come back on the caller's thread, dropped with their context; the ingest()
// signal path; a store that cannot be opened; shutdown with work in flight, and with a call that
// outlasts the shutdown's bounds (left to end, never killed).

#include "metrics_lines.h"
#include "store/schema.h"
#include "store/store_service.h"
#include "store_test_util.h"

#include <QRegularExpression>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>
#include <atomic>

using namespace bcd::store;
using namespace bcd::test;

class TestStoreService : public QObject {
    Q_OBJECT

    static QString storePath(const QString& name) {
        return freshDir(QStringLiteral("service/") + name) + QStringLiteral("/store.sqlite");
    }

private slots:
    void initTestCase() { qRegisterMetaType<bcd::store::IngestResult>(); }

    void callsRunOnTheStoreThread() {
        StoreService svc(storePath(QStringLiteral("calls")));
        QSignalSpy opened(&svc, &StoreService::opened);
        QVERIFY(opened.wait(10000));
        QCOMPARE(opened.first().first().toInt(), schema::kVersion);

        QThread* const mine = QThread::currentThread();
        QThread* ranOn = nullptr;
        QThread* doneOn = nullptr;
        QVector<NodeRecord> nodes;
        svc.call(
            [&](RunStore& s) {
                ranOn = QThread::currentThread();
                return s.nodes();
            },
            this,
            [&](const QVector<NodeRecord>& n) {
                doneOn = QThread::currentThread();
                nodes = n;
            });
        QVERIFY(!doneOn); // delivered later, through the event loop
        QTRY_VERIFY(doneOn);
        QVERIFY(ranOn && ranOn != mine);
        QCOMPARE(doneOn, mine);
        QCOMPARE(nodes.size(), 1);
        QCOMPARE(nodes[0].name, QStringLiteral("local"));

        // Calls run in the order they were posted; void calls report completion.
        QStringList order;
        for (int i = 0; i < 5; ++i)
            svc.call([i](RunStore& s) { addRun(s, QStringLiteral("r%1").arg(i)); }, this,
                     [&order, i] { order << QString::number(i); });
        QTRY_COMPARE(order, (QStringList{"0", "1", "2", "3", "4"}));

        // callBlocking returns the value; a thrown StoreError comes back as one.
        const auto runs = svc.callBlocking([](RunStore& s) { return s.runs(); });
        QCOMPARE(runs.size(), 5);
        QCOMPARE(runs[4].name, QStringLiteral("r4"));
        const auto thread = svc.callBlocking([](RunStore&) { return QThread::currentThread(); });
        QCOMPARE(thread, ranOn);
        bool threw = false;
        try {
            svc.callBlocking([](RunStore& s) { s.removeNode(QStringLiteral("local")); });
        } catch (const StoreError& e) {
            threw = QString::fromUtf8(e.what()).contains(QLatin1String("local"));
        }
        QVERIFY(threw);
    }

    void errorsAreDelivered() {
        StoreService svc(storePath(QStringLiteral("errors")));
        QSignalSpy errors(&svc, &StoreService::error);
        QString failed;
        bool doneCalled = false;
        svc.call([](RunStore& s) { return addRun(s, QStringLiteral("x"), QStringLiteral("mars")); },
                 this, [&](qint64) { doneCalled = true; }, [&](const QString& m) { failed = m; });
        QTRY_VERIFY(!failed.isEmpty());
        QVERIFY(failed.contains(QLatin1String("mars")));
        QVERIFY(!doneCalled);
        QCOMPARE(errors.size(), 0);

        // Without a fail callback: the error() signal.
        svc.call([](RunStore& s) { s.setRunStatus(12345, status::kRunning); }, this,
                 [&] { doneCalled = true; });
        QVERIFY(errors.wait(10000));
        QVERIFY(errors.first().first().toString().contains(QLatin1String("12345")));
        QVERIFY(!doneCalled);
    }

    void deadContextDropsTheCallback() {
        StoreService svc(storePath(QStringLiteral("context")));
        auto* ctx = new QObject;
        bool dropped = true, later = false;
        svc.call([](RunStore& s) { return s.nodes().size(); }, ctx,
                 [&](qsizetype) { dropped = false; });
        delete ctx;
        svc.call([](RunStore& s) { return s.nodes().size(); }, this,
                 [&](qsizetype) { later = true; });
        QTRY_VERIFY(later);
        QVERIFY(dropped);
    }

    void ingestSignals() {
        StoreService svc(storePath(QStringLiteral("ingest")));
        const qint64 id = svc.callBlocking([](RunStore& s) { return addRun(s); });
        QSignalSpy ingested(&svc, &StoreService::ingested);
        QSignalSpy newData(&svc, &StoreService::newData);
        QSignalSpy failed(&svc, &StoreService::ingestFailed);

        const QByteArray data = startLine() + stepLines(1, 20) + stepLine(21).left(10);
        svc.ingest(id, 0, data);
        QVERIFY(ingested.wait(10000));
        QCOMPARE(ingested.first().at(0).toLongLong(), id);
        const auto r = ingested.first().at(1).value<IngestResult>();
        QVERIFY(r.accepted);
        QCOMPARE(r.points, qint64(20));
        QCOMPARE(r.offset, qint64(data.size() - 10));
        QCOMPARE(r.status, status::kRunning);
        QCOMPARE(newData.size(), 1);
        QCOMPARE(newData.first().first().toLongLong(), id);

        // A wrong offset: reported, nothing new to show.
        svc.ingest(id, 7, stepLine(21));
        QVERIFY(ingested.wait(10000));
        QVERIFY(!ingested.last().at(1).value<IngestResult>().accepted);
        QCOMPARE(ingested.last().at(1).value<IngestResult>().offset, r.offset);
        QCOMPARE(newData.size(), 1);

        // A run that does not exist.
        svc.ingest(id + 50, 0, stepLine(1));
        QVERIFY(failed.wait(10000));
        QCOMPARE(failed.first().at(0).toLongLong(), id + 50);
        QVERIFY(!failed.first().at(1).toString().isEmpty());
        QCOMPARE(svc.callBlocking([id](RunStore& s) { return s.pointCount(id, PointType::Step); }),
                 qint64(20));
    }

    void openFailure() {
        const QString dir = freshDir(QStringLiteral("service/open-failure"));
        StoreService svc(dir); // a folder is no store
        QSignalSpy failed(&svc, &StoreService::openFailed);
        QVERIFY(failed.wait(10000));
        const QString msg = failed.first().first().toString();
        QVERIFY2(msg.contains(dir), qPrintable(msg));
        // Later work fails with the reason the store did not open.
        QString callError;
        svc.call([](RunStore& s) { return s.runs(); }, this, [](const QVector<RunRecord>&) {},
                 [&](const QString& m) { callError = m; });
        QTRY_VERIFY(!callError.isEmpty());
        QCOMPARE(callError, msg);
        bool threw = false;
        try {
            svc.callBlocking([](RunStore& s) { return s.runs(); });
        } catch (const StoreError& e) {
            threw = QString::fromUtf8(e.what()) == msg;
        }
        QVERIFY(threw);
    }

    // Destroying the service finishes the call in progress, closes the connection and returns;
    // the callbacks of work it did not deliver are dropped.
    void shutdownWithWorkInFlight() {
        const QString path = storePath(QStringLiteral("shutdown"));
        std::atomic<bool> finished{false};
        bool delivered = false;
        {
            StoreService svc(path);
            svc.call(
                [&](RunStore& s) {
                    QThread::msleep(300);
                    addRun(s);
                    finished = true;
                },
                this, [&] { delivered = true; });
        }
        QVERIFY(finished);
        QCoreApplication::processEvents();
        QVERIFY(!delivered);
        RunStore s(path); // closed cleanly: the run is there
        QCOMPARE(s.runs().size(), 1);
    }

    // A call still busy past the shutdown's bounds (here: waiting for another connection's write
    // lock) is interrupted, then left to end on its own with a warning; the thread is never
    // killed. The destructor returns while the call still waits; once the lock is free the call
    // completes, and its callback, with the service gone, is dropped.
    void shutdownLeavesABusyCallToEnd() {
        const QString path = storePath(QStringLiteral("busy"));
        std::atomic<bool> finished{false};
        bool delivered = false;
        {
            auto svc = std::make_unique<StoreService>(path);
            QSignalSpy opened(svc.get(), &StoreService::opened);
            QVERIFY(opened.wait(10000));
            svc->shutdownTimeoutMs = 200;
            // Another connection takes the write lock once the service's store is open.
            QSqlDatabase holder =
                QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("holder"));
            holder.setDatabaseName(path);
            QVERIFY(holder.open());
            QSqlQuery lock(holder);
            QVERIFY2(lock.exec(QStringLiteral("BEGIN IMMEDIATE")),
                     qPrintable(lock.lastError().text()));
            svc->call(
                [&](RunStore& s) {
                    try {
                        addRun(s); // waits for the lock (busy_timeout: 5 s)
                    } catch (const std::exception&) {
                    }
                    finished = true;
                },
                this, [&] { delivered = true; });
            QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                                   "still busy after 200 ms; interrupting")));
            QTest::ignoreMessage(QtWarningMsg,
                                 QRegularExpression(QStringLiteral("left to finish its call")));
            svc.reset();
            QVERIFY2(!finished, "the destructor waited for the busy call");
            QVERIFY(lock.exec(QStringLiteral("ROLLBACK")));
        }
        QSqlDatabase::removeDatabase(QStringLiteral("holder"));
        QTRY_VERIFY_WITH_TIMEOUT(finished, 10000);
        QCoreApplication::processEvents();
        QVERIFY(!delivered);
    }
};

QTEST_GUILESS_MAIN(TestStoreService)
#include "tst_store_service.moc"
