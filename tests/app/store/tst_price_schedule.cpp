// A run's price schedule (app/store/price_schedule.h) with hand-worked numbers: cost as the
// integral of the price over elapsed time for one, two and three segments, a run that gains a
// price mid-run (cost counts from then, cumulative cost starts at 0), the inverse for the cost
// axis, and the step map's cost axis built on it (app/store/run_curves.h).

#include "store/price_schedule.h"
#include "store/run_curves.h"

#include <QTest>
#include <cmath>

using namespace bcd::store;

namespace {
bool near(double a, double b) {
    return std::abs(a - b) < 1e-12;
}
} // namespace

class TestPriceSchedule : public QObject {
    Q_OBJECT
private slots:
    void oneSegment() {
        const PriceSchedule p(3.6); // $0.001 a second
        QCOMPARE(p.segments().size(), 1);
        QVERIFY(p.hasPrice());
        QCOMPARE(p.costAt(0), 0.0);
        QVERIFY(near(p.costAt(100), 0.1));
        QVERIFY(near(p.elapsedAtCost(0.1), 100));
        QCOMPARE(p.priceAt(50), std::optional<double>(3.6));
        QCOMPARE(p.current(), std::optional<double>(3.6));
    }

    // $3.60/h for 1000 s, then $7.20/h: 1000 s cost $1, the next 500 s another $1.
    void twoSegments() {
        PriceSchedule p(3.6);
        p.change(1000, 7.2, QStringLiteral("2026-12-02T23:40:00Z"));
        QCOMPARE(p.segments().size(), 2);
        QVERIFY(near(p.costAt(500), 0.5));
        QVERIFY(near(p.costAt(1000), 1.0));
        QVERIFY(near(p.costAt(1500), 2.0));
        QVERIFY(near(p.elapsedAtCost(0.5), 500));
        QVERIFY(near(p.elapsedAtCost(1.0), 1000));
        QVERIFY(near(p.elapsedAtCost(2.0), 1500));
        QCOMPARE(p.priceAt(999.9), std::optional<double>(3.6));
        QCOMPARE(p.priceAt(1000), std::optional<double>(7.2));
        QCOMPARE(p.current(), std::optional<double>(7.2));
        const QStringList lines = describeSegments(p);
        QCOMPARE(lines.size(), 2);
        QCOMPARE(lines[0], QStringLiteral("from 0s: $3.60/h"));
        QCOMPARE(lines[1], QStringLiteral("from 16m 40s: $7.20/h (set 2026-12-02 23:40 UTC)"));
    }

    // $3.60/h for 100 s ($0.10), free for 100 s, then $36/h ($0.01 a second).
    void threeSegments() {
        PriceSchedule p(3.6);
        p.change(200, 36.0);
        p.change(100, 0.0); // out of order: the schedule sorts by elapsed time
        QCOMPARE(p.segments().size(), 3);
        QCOMPARE(p.segments()[1].fromElapsed, 100.0);
        QCOMPARE(p.segments()[2].fromElapsed, 200.0);
        QVERIFY(near(p.costAt(100), 0.1));
        QVERIFY(near(p.costAt(150), 0.1));
        QVERIFY(near(p.costAt(200), 0.1));
        QVERIFY(near(p.costAt(250), 0.6));
        QVERIFY(near(p.elapsedAtCost(0.1), 100)); // the first moment it is reached
        QVERIFY(near(p.elapsedAtCost(0.35), 225));
        QVERIFY(near(p.elapsedAtCost(0.05), 50));
    }

    // No price at launch, $7.20/h from 600 s: nothing is spent before, cost starts at 0.
    void priceGainedMidRun() {
        PriceSchedule p(std::nullopt);
        QVERIFY(!p.hasPrice());
        p.change(600, 7.2);
        QVERIFY(p.hasPrice());
        QCOMPARE(p.costAt(0), 0.0);
        QCOMPARE(p.costAt(300), 0.0);
        QCOMPARE(p.costAt(600), 0.0);
        QVERIFY(near(p.costAt(900), 0.6));
        QCOMPARE(p.priceAt(300), std::nullopt);
        QCOMPARE(p.priceAt(700), std::optional<double>(7.2));
        QCOMPARE(p.elapsedAtCost(0), 600.0);
        QVERIFY(near(p.elapsedAtCost(0.6), 900));
        QCOMPARE(describeSegments(p).front(), QStringLiteral("from 0s: no price"));
    }

    void changesAtTheSameMomentReplace() {
        PriceSchedule p(1.0);
        p.change(0, 2.0); // before the first step: the launch price itself changes
        QCOMPARE(p.segments().size(), 1);
        QCOMPARE(p.current(), std::optional<double>(2.0));
        p.change(-5, 4.0); // negative elapsed is taken as 0
        QCOMPARE(p.segments().size(), 1);
        p.change(10, 3.0);
        p.change(10, 5.0);
        QCOMPARE(p.segments().size(), 2);
        QCOMPARE(p.priceAt(20), std::optional<double>(5.0));
    }

    void withoutAPriceNothingIsReached() {
        const PriceSchedule none;
        QVERIFY(!none.hasPrice());
        QCOMPARE(none.costAt(100), 0.0);
        QVERIFY(std::isnan(none.elapsedAtCost(1)));
        PriceSchedule stops(3.6);
        stops.change(100, 0.0);
        QVERIFY(near(stops.elapsedAtCost(0.05), 50));
        QVERIFY(std::isnan(stops.elapsedAtCost(0.2))); // never spent: the price stopped at $0.10
        QVERIFY(std::isnan(stops.elapsedAtCost(std::nan(""))));
    }

    // The cost axis of a chart: steps 1..10 at 100 s a step, $3.60/h, then $7.20/h from 500 s.
    void stepMapCostAxis() {
        StepMap m;
        for (int s = 1; s <= 10; ++s) m.steps << s, m.tokens << s * 64.0, m.elapsed << s * 100.0;
        QVERIFY(!m.has(XAxisKind::Cost));
        QVERIFY(std::isnan(m.x(XAxisKind::Cost, 5)));
        m.prices = PriceSchedule(3.6);
        m.prices.change(500, 7.2);
        QVERIFY(m.has(XAxisKind::Cost));
        QVERIFY(near(m.x(XAxisKind::Cost, 5), 0.5));
        QVERIFY(near(m.x(XAxisKind::Cost, 7), 0.5 + 0.4));
        QVERIFY(near(m.step(XAxisKind::Cost, 0.9), 7));
        QVERIFY(near(m.step(XAxisKind::Cost, 0.3), 3));
        // A schedule that gains its price mid-run has the axis too.
        m.prices = PriceSchedule(std::nullopt);
        QVERIFY(!m.has(XAxisKind::Cost));
        m.prices.change(300, 3.6);
        QVERIFY(m.has(XAxisKind::Cost));
        QCOMPARE(m.x(XAxisKind::Cost, 2), 0.0);
        QVERIFY(near(m.x(XAxisKind::Cost, 4), 0.1));
    }
};

QTEST_APPLESS_MAIN(TestPriceSchedule)
#include "tst_price_schedule.moc"
