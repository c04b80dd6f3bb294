// Run summaries and config differences (app/store/compare.cpp), the data of `bcd-workbench
// compare` and the Compare page.

#include "metrics_lines.h"
#include "store/compare.h"
#include "store_test_util.h"

#include <QJsonArray>
#include <QTest>
#include <cmath>

using namespace bcd::store;
using namespace bcd::test;

class TestCompare : public QObject {
    Q_OBJECT
private slots:
    void summary() {
        RunStore s(freshDir(QStringLiteral("compare/summary")) + QStringLiteral("/store.sqlite"));
        NewRun nr;
        nr.name = QStringLiteral("priced");
        nr.node = QStringLiteral("local");
        nr.pricePerHour = 2.0;
        const qint64 id = s.createRun(nr);
        QByteArray file = startLine();
        for (int step = 1; step <= 100; ++step)
            file += stepLine(step, step == 60 ? 0.25 : 10.0 - step * 0.01);
        file += evalLine(50, 4.5) + evalLine(100, 3.75) + endLine("finished", 100);
        s.ingest(id, 0, file);

        const RunSummary sum = summarize(s, id);
        QCOMPARE(sum.run.id, id);
        QCOMPARE(sum.run.status, status::kFinished);
        QCOMPARE(sum.steps, qint64(100));
        QCOMPARE(sum.lastStep, std::optional<qint64>(100));
        QCOMPARE(sum.tokens, std::optional<double>(6400));
        QCOMPARE(sum.elapsed, std::optional<double>(100 * 0.01));
        QCOMPARE(sum.finalLoss, std::optional<double>(10.0 - 100 * 0.01));
        QCOMPARE(sum.minLoss, std::optional<double>(0.25));
        QCOMPARE(sum.minLossStep, std::optional<qint64>(60));
        QCOMPARE(sum.finalValLoss, std::optional<double>(3.75));
        // Tokens per second of step time: the steps' tok_s (not tokens / elapsed wall time).
        QVERIFY(sum.meanTokS && std::abs(*sum.meanTokS - 6400.5) < 1e-9);
        QCOMPARE(sum.cost, std::optional<double>(2.0 * (100 * 0.01) / 3600.0));

        // A run with nothing stored yet, and no price.
        const qint64 empty = addRun(s, QStringLiteral("empty"));
        const RunSummary e = summarize(s, empty);
        QCOMPARE(e.steps, qint64(0));
        QVERIFY(!e.lastStep && !e.finalLoss && !e.minLoss && !e.finalValLoss && !e.meanTokS &&
                !e.cost);
        s.ingest(empty, 0, stepLine(1));
        QVERIFY(!summarize(s, empty).cost); // no price: no cost

        bool threw = false;
        try {
            summarize(s, 999);
        } catch (const StoreError& err) {
            threw = QString::fromUtf8(err.what()).contains(QLatin1String("999"));
        }
        QVERIFY(threw);
    }

    // Cost from the run's price schedule: $3.60/h for its first 0.5 s, $7.20/h after (a node
    // price change while it ran), over 100 steps of 0.01 s and 64 tokens each.
    void costWithTwoPriceSegments() {
        RunStore s(freshDir(QStringLiteral("compare/segments")) + QStringLiteral("/store.sqlite"));
        NewRun nr;
        nr.name = QStringLiteral("repriced");
        nr.node = QStringLiteral("local");
        nr.pricePerHour = 3.6;
        const qint64 id = s.createRun(nr);
        QByteArray first = startLine();
        for (int step = 1; step <= 50; ++step) first += stepLine(step);
        s.ingest(id, 0, first);
        s.addRunPrice(id, *s.latestElapsed(id), 7.2);
        QCOMPARE(s.latestElapsed(id), std::optional<double>(0.5));
        QByteArray rest;
        for (int step = 51; step <= 100; ++step) rest += stepLine(step);
        s.ingest(id, s.run(id)->metricsOffset, rest + endLine("finished", 100));
        const RunComparison c = compareRun(s, id);
        const double expected = (3.6 * 0.5 + 7.2 * 0.5) / 3600.0;
        QVERIFY(c.summary.cost && std::abs(*c.summary.cost - expected) < 1e-15);
        QVERIFY(c.usdPerMTokens && std::abs(*c.usdPerMTokens - expected / (6400 / 1e6)) < 1e-12);
        // Not the launch price over the whole run, nor the last one.
        QVERIFY(std::abs(*c.summary.cost - 3.6 * 1.0 / 3600.0) > 1e-6);
        QVERIFY(std::abs(*c.summary.cost - 7.2 * 1.0 / 3600.0) > 1e-6);
    }

    void flatten() {
        const QJsonObject o{{"optim", QJsonObject{{"lr", 0.1}, {"betas", QJsonArray{0.9, 0.95}}}},
                            {"bcd", QJsonObject{{"blocks", QJsonObject{}}, {"mode", "bcd"}}},
                            {"top", true}};
        const auto flat = flattenJson(o);
        QStringList keys;
        for (const auto& [k, v] : flat) keys << k;
        keys.sort();
        QCOMPARE(keys, (QStringList{"bcd.blocks", "bcd.mode", "optim.betas", "optim.lr", "top"}));
        for (const auto& [k, v] : flat) {
            if (k == QLatin1String("optim.betas")) QCOMPARE(v, QJsonValue(QJsonArray{0.9, 0.95}));
            if (k == QLatin1String("bcd.blocks")) QCOMPARE(v, QJsonValue(QJsonObject{}));
        }
    }

    void configDifferencesOnly() {
        const QJsonObject a{{"optim", QJsonObject{{"lr", 0.001}, {"betas", QJsonArray{0.9, 0.95}}}},
                            {"train", QJsonObject{{"steps", 100}}},
                            {"output", QJsonObject{{"dir", "/runs/a"}}},
                            {"only_a", 1}};
        const QJsonObject b{{"optim", QJsonObject{{"lr", 0.003}, {"betas", QJsonArray{0.9, 0.95}}}},
                            {"train", QJsonObject{{"steps", 100}}},
                            {"output", QJsonObject{{"dir", "/runs/b"}}}};
        const QJsonObject c{{"optim", QJsonObject{{"lr", 0.001}, {"betas", QJsonArray{0.9, 0.99}}}},
                            {"train", QJsonObject{{"steps", 100}}},
                            {"output", QJsonObject{{"dir", "/runs/c"}}}};
        const auto diffs = configDifferences({a, b, c});
        QStringList keys;
        for (const auto& d : diffs) keys << d.key;
        // Sorted; the same steps everywhere and output.dir are left out.
        QCOMPARE(keys, (QStringList{"only_a", "optim.betas", "optim.lr"}));
        for (const auto& d : diffs) QCOMPARE(d.values.size(), 3);
        QCOMPARE(diffs[0].values[0], QJsonValue(1));
        QVERIFY(diffs[0].values[1].isUndefined());
        QVERIFY(diffs[0].values[2].isUndefined());
        QCOMPARE(diffs[1].values[2], QJsonValue(QJsonArray{0.9, 0.99}));
        QCOMPARE(diffs[2].values[0].toDouble(), 0.001);
        QCOMPARE(diffs[2].values[1].toDouble(), 0.003);

        QVERIFY(configDifferences({a, a}).isEmpty());
        QVERIFY(configDifferences({a}).isEmpty());
        QVERIFY(configDifferences({}).isEmpty());
        // A key present only in the last config.
        QJsonObject d = a;
        d.remove(QStringLiteral("only_a"));
        d[QStringLiteral("only_d")] = QStringLiteral("x");
        const auto two = configDifferences({a, d});
        QCOMPARE(two.size(), 2);
        QCOMPARE(two[1].key, QStringLiteral("only_d"));
        QVERIFY(two[1].values[0].isUndefined());
        QCOMPARE(two[1].values[1], QJsonValue(QStringLiteral("x")));
    }
};

QTEST_GUILESS_MAIN(TestCompare)
#include "tst_compare.moc"
