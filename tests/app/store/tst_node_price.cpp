// A node's price change against a real store (app/store/node_price.h): it reaches the node's
// active runs from their newest stored elapsed time and new runs, not finished ones; the schedule
// survives reopening the store; a run without a price gains one mid-run; clearing a price leaves
// schedules alone; a multi-node run gets the sum of its nodes' prices; a run launched with its own
// price keeps it; the sentence the Nodes page and the CLI print.

#include "metrics_lines.h"
#include "store/compare.h"
#include "store/node_price.h"
#include "store_test_util.h"

#include <QTest>
#include <cmath>

using namespace bcd::store;
using namespace bcd::test;

namespace {

NodeRecord sshNode(const QString& name, std::optional<double> price) {
    NodeRecord n;
    n.name = name;
    n.kind = QStringLiteral("ssh");
    n.host = name + QStringLiteral(".lab");
    n.pricePerHour = price;
    return n;
}

// Steps [from, to] of a run: elapsed = step × 0.01 s (metrics_lines.h).
QByteArray steps(qint64 from, qint64 to) {
    QByteArray b;
    for (qint64 s = from; s <= to; ++s) b += stepLine(s);
    return b;
}

bool near(double a, double b) {
    return std::abs(a - b) < 1e-12;
}

} // namespace

class TestNodePrice : public QObject {
    Q_OBJECT
private slots:
    void appliesToActiveRunsOnly() {
        const QString path =
            freshDir(QStringLiteral("node-price/active")) + QStringLiteral("/store.sqlite");
        qint64 running = 0, starting = 0, finished = 0, elsewhere = 0;
        {
            RunStore s(path);
            s.addNode(sshNode(QStringLiteral("gpu-4090"), 1.0));
            s.addNode(sshNode(QStringLiteral("other"), 1.0));
            running = addRun(s, QStringLiteral("running"), QStringLiteral("gpu-4090"));
            starting = addRun(s, QStringLiteral("starting"), QStringLiteral("gpu-4090"));
            finished = addRun(s, QStringLiteral("finished"), QStringLiteral("gpu-4090"));
            elsewhere = addRun(s, QStringLiteral("elsewhere"), QStringLiteral("other"));
            s.setRunStatus(running, status::kRunning);
            s.ingest(running, 0, startLine() + steps(1, 100)); // elapsed 1.0 s
            s.ingest(finished, 0, startLine() + steps(1, 100) + endLine("finished", 100));
            s.setRunStatus(elsewhere, status::kRunning);
            QCOMPARE(s.run(finished)->status, status::kFinished);
            const double finishedCost = *summarize(s, finished).cost;
            QVERIFY(near(finishedCost, 1.0 * 1.0 / 3600));

            auto node = *s.node(QStringLiteral("gpu-4090"));
            node.pricePerHour = 2.1;
            const NodePriceChange c = saveNodeSettings(s, node);
            QVERIFY(c.priceChanged());
            QVERIFY(!c.connectionChanged);
            QCOMPARE(c.before, std::optional<double>(1.0));
            QCOMPARE(c.after, std::optional<double>(2.1));
            QCOMPARE(c.runs.size(), 2);
            QCOMPARE(c.runs[0].runId, running);
            QCOMPARE(c.runs[0].fromElapsed, 1.0); // the newest stored elapsed
            QCOMPARE(c.runs[1].runId, starting);
            QCOMPARE(c.runs[1].fromElapsed, 0.0); // no step yet: from the start
            QCOMPARE(describe(c),
                     QStringLiteral("Price $2.10/h applies to new runs and, from now, to the 2 "
                                    "active runs on gpu-4090 (#%1, #%2); finished runs keep "
                                    "their cost.")
                         .arg(running)
                         .arg(starting));
            QCOMPARE(s.node(QStringLiteral("gpu-4090"))->pricePerHour, std::optional<double>(2.1));

            // The finished run and the run on another node keep their schedules and cost.
            QCOMPARE(s.run(finished)->prices.segments().size(), 1);
            QCOMPARE(summarize(s, finished).cost, std::optional<double>(finishedCost));
            QCOMPARE(s.run(elsewhere)->prices.segments().size(), 1);
            // A run that had not started takes the new price from 0.
            QCOMPARE(s.run(starting)->prices.segments().size(), 1);
            QCOMPARE(s.run(starting)->prices.current(), std::optional<double>(2.1));
            // New runs get it.
            const qint64 fresh = addRun(s, QStringLiteral("new"), QStringLiteral("gpu-4090"));
            QCOMPARE(s.run(fresh)->pricePerHour, std::optional<double>(2.1));

            // The running run: $1/h for its first second, $2.10/h for the next.
            s.ingest(running, s.run(running)->metricsOffset, steps(101, 200));
            QVERIFY(near(*summarize(s, running).cost, (1.0 * 1.0 + 2.1 * 1.0) / 3600));
        }
        // Reopened: the schedule is stored (run and runs alike).
        RunStore s(path);
        const auto r = s.run(running);
        QVERIFY(r);
        QCOMPARE(r->prices.segments().size(), 2);
        QCOMPARE(r->prices.segments()[0], (PriceSegment{0, 1.0, {}}));
        QCOMPARE(r->prices.segments()[1].fromElapsed, 1.0);
        QCOMPARE(r->prices.segments()[1].pricePerHour, std::optional<double>(2.1));
        QVERIFY(QDateTime::fromString(r->prices.segments()[1].setAt, Qt::ISODate).isValid());
        for (const RunRecord& x : s.runs())
            if (x.id == running) QCOMPARE(x.prices.segments(), r->prices.segments());

        // Clearing the price: new runs have none, schedules stay.
        auto node = *s.node(QStringLiteral("gpu-4090"));
        node.pricePerHour.reset();
        const NodePriceChange cleared = saveNodeSettings(s, node);
        QVERIFY(cleared.priceChanged());
        QVERIFY(cleared.runs.isEmpty());
        QVERIFY(describe(cleared).contains(QStringLiteral("cleared")));
        QCOMPARE(s.run(running)->prices.segments().size(), 2);
        // Saving without a price change says nothing and adds nothing.
        const NodePriceChange same = saveNodeSettings(s, node);
        QVERIFY(!same.priceChanged());
        QVERIFY(describe(same).isEmpty());
        QCOMPARE(rawInt(path, "SELECT COUNT(*) FROM run_prices"), qint64(2));

        // A deleted run takes its price changes with it.
        s.setRunStatus(running, status::kFinished);
        s.deleteRun(running);
        QCOMPARE(rawInt(path, "SELECT COUNT(*) FROM run_prices"), qint64(1));
    }

    // A run launched without a price gains one mid-run: it costs nothing before, cumulative cost
    // still starts at 0.
    void runGainsAPriceMidRun() {
        RunStore s(freshDir(QStringLiteral("node-price/gain")) + QStringLiteral("/store.sqlite"));
        s.addNode(sshNode(QStringLiteral("free"), std::nullopt));
        const qint64 id = addRun(s, QStringLiteral("r"), QStringLiteral("free"));
        s.setRunStatus(id, status::kRunning);
        s.ingest(id, 0, startLine() + steps(1, 50)); // elapsed 0.5 s
        QVERIFY(!summarize(s, id).cost);
        auto node = *s.node(QStringLiteral("free"));
        node.pricePerHour = 3.6;
        const NodePriceChange c = saveNodeSettings(s, node);
        QCOMPARE(c.runs.size(), 1);
        QCOMPARE(describe(c), QStringLiteral("Price $3.60/h applies to new runs and, from now, to "
                                             "the active run on free (#%1); finished runs keep "
                                             "their cost.")
                                  .arg(id));
        s.ingest(id, s.run(id)->metricsOffset, steps(51, 150)); // to 1.5 s
        const auto r = s.run(id);
        QCOMPARE(r->prices.segments().size(), 2);
        QCOMPARE(r->prices.priceAt(0.1), std::nullopt);
        QCOMPARE(r->prices.costAt(0), 0.0);
        QVERIFY(near(*summarize(s, id).cost, 3.6 * 1.0 / 3600));
    }

    // A run launched with its own price keeps it through a change of its node's price (and the
    // store remembers that it was its own); a run that took the node's price follows.
    void ownLaunchPriceIsKept() {
        const QString path =
            freshDir(QStringLiteral("node-price/own")) + QStringLiteral("/store.sqlite");
        RunStore s(path);
        s.addNode(sshNode(QStringLiteral("spot"), 1.0));
        NewRun own;
        own.name = QStringLiteral("own");
        own.node = QStringLiteral("spot");
        own.config = QJsonObject{{"model", QJsonObject{{"path", "/m"}}}};
        own.pricePerHour = 0.4;
        own.ownPrice = true;
        const qint64 ownId = s.createRun(own);
        const qint64 nodeId = addRun(s, QStringLiteral("node's"), QStringLiteral("spot"));
        for (qint64 id : {ownId, nodeId}) {
            s.setRunStatus(id, status::kRunning);
            s.ingest(id, 0, startLine() + steps(1, 100));
        }
        QVERIFY(s.run(ownId)->ownPrice);
        QVERIFY(!s.run(nodeId)->ownPrice);
        auto node = *s.node(QStringLiteral("spot"));
        node.pricePerHour = 2.0;
        const NodePriceChange c = saveNodeSettings(s, node);
        QCOMPARE(c.runs.size(), 1);
        QCOMPARE(c.runs[0].runId, nodeId);
        QCOMPARE(s.run(ownId)->prices.segments().size(), 1);
        QCOMPARE(s.run(ownId)->prices.current(), std::optional<double>(0.4));
        QCOMPARE(s.run(nodeId)->prices.current(), std::optional<double>(2.0));
        // The flag without a price of its own means nothing: such a run takes the node's price.
        NewRun flagOnly = own;
        flagOnly.pricePerHour.reset();
        QVERIFY(!s.run(s.createRun(flagOnly))->ownPrice);
    }

    // A run over two nodes pays both: a change of one gives it the new sum.
    void multiNodeRunGetsTheSum() {
        RunStore s(freshDir(QStringLiteral("node-price/multi")) + QStringLiteral("/store.sqlite"));
        s.addNode(sshNode(QStringLiteral("a"), 1.0));
        s.addNode(sshNode(QStringLiteral("b"), 0.5));
        NewRun nr;
        nr.name = QStringLiteral("two");
        nr.node = QStringLiteral("a");
        nr.hosts = {QStringLiteral("a"), QStringLiteral("b")};
        nr.pricePerHour = 1.5;
        const qint64 id = s.createRun(nr);
        s.setRunStatus(id, status::kRunning);
        s.ingest(id, 0, startLine() + steps(1, 10));
        auto b = *s.node(QStringLiteral("b"));
        b.pricePerHour = 2.0;
        const NodePriceChange c = saveNodeSettings(s, b);
        QCOMPARE(c.runs.size(), 1);
        QCOMPARE(c.runs[0].pricePerHour, 3.0);
        QCOMPARE(s.run(id)->prices.current(), std::optional<double>(3.0));
        QCOMPARE(s.run(id)->prices.segments()[1].fromElapsed, 0.1);
    }

    void refusesBadInput() {
        RunStore s(freshDir(QStringLiteral("node-price/bad")) + QStringLiteral("/store.sqlite"));
        bool threw = false;
        try {
            saveNodeSettings(s, sshNode(QStringLiteral("ghost"), 1.0));
        } catch (const StoreError& e) {
            threw = QString::fromUtf8(e.what()).contains(QLatin1String("ghost"));
        }
        QVERIFY(threw);
        s.addNode(sshNode(QStringLiteral("n"), 1.0));
        threw = false;
        try {
            saveNodeSettings(s, sshNode(QStringLiteral("n"), -1.0));
        } catch (const StoreError& e) {
            threw = QString::fromUtf8(e.what()).contains(QLatin1String(">= 0"));
        }
        QVERIFY(threw);
        QCOMPARE(s.node(QStringLiteral("n"))->pricePerHour, std::optional<double>(1.0));
        threw = false;
        try {
            s.addRunPrice(12345, 0, 1.0);
        } catch (const StoreError& e) {
            threw = QString::fromUtf8(e.what()).contains(QLatin1String("12345"));
        }
        QVERIFY(threw);
    }
};

QTEST_GUILESS_MAIN(TestNodePrice)
#include "tst_node_price.moc"
