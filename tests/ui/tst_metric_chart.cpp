// The chart widget and what it draws from: EMA smoothing, buckets → samples, the step map, x-axis
// switching, switch markers, the cost axis without a price, redraws capped at ~30 Hz.

#include "ui/widgets/metric_chart.h"
#include "ui/widgets/number_format.h"
#include "ui/widgets/series_model.h"
#include "ui/widgets/smoothing.h"

#include <QtTest>
#include <algorithm>
#include <cmath>
#include <limits>
#include <qcustomplot.h>

using namespace bcd::ui;

class TstMetricChart : public QObject {
    Q_OBJECT
private:
    static ChartCurve line(int n, const StepMap& map) {
        ChartCurve c;
        c.name = QStringLiteral("loss");
        c.color = Qt::blue;
        c.map = map;
        for (int s = 1; s <= n; ++s) {
            c.data.steps << s;
            c.data.values << 10.0 - s * 0.01;
            c.data.weights << 1;
        }
        return c;
    }
    static StepMap map(std::optional<double> price) {
        StepMap m; // 512 tokens a step, 0.5 s a step
        for (int s = 1; s <= 1000; s += 9)
            m.steps << s, m.tokens << s * 512.0, m.elapsed << s * 0.5;
        m.prices = bcd::store::PriceSchedule(price);
        return m;
    }

private slots:
    // One format for learning rates on every page.
    void learningRateFormat() {
        QCOMPARE(formatLr(3e-4), QStringLiteral("3e-4"));
        QCOMPARE(formatLr(1.5e-5), QStringLiteral("1.5e-5"));
        QCOMPARE(formatLr(1.25e-3), QStringLiteral("1.25e-3"));
        QCOMPARE(formatLr(0.05), QStringLiteral("0.05"));
        QCOMPARE(formatLr(1.0), QStringLiteral("1"));
        QCOMPARE(formatLr(0.0), QStringLiteral("0"));
        QCOMPARE(formatScientific(2e7), QStringLiteral("2e+7"));
        QCOMPARE(formatScientific(-4.5e-8), QStringLiteral("-4.5e-8"));
        QCOMPARE(formatValue(std::nan("")), QStringLiteral("—"));
        QVERIFY(isLearningRateKey(QStringLiteral("optim.min_lr")));
        QVERIFY(!isLearningRateKey(QStringLiteral("optim.eps")));
    }

    // Axis ticks in the same format: separators, learning rates as "1.5e-3", M and B for big
    // axes, the decimals the spacing needs, no "3e-17" for a zero.
    void tickLabelsUseThePagesFormat() {
        const auto s = [](std::initializer_list<const char*> l) {
            QVector<QString> out;
            for (const char* t : l) out << QString::fromUtf8(t);
            return out;
        };
        const QString sep = QLocale().groupSeparator();
        QCOMPARE(formatTicks({60000, 80000, 100000}),
                 (QVector<QString>{QStringLiteral("60") + sep + QStringLiteral("000"),
                                   QStringLiteral("80") + sep + QStringLiteral("000"),
                                   QStringLiteral("100") + sep + QStringLiteral("000")}));
        QCOMPARE(formatTicks({0, 5e-4, 1e-3, 1.5e-3, 3e-3}),
                 s({"0", "5e-4", "1e-3", "1.5e-3", "3e-3"}));
        QCOMPARE(formatTicks({2.5, 3, 3.5}), s({"2.5", "3.0", "3.5"}));
        QCOMPARE(formatTicks({4.75, 5, 5.25}), s({"4.75", "5.00", "5.25"}));
        QCOMPARE(formatTicks({0, 5e8, 1e9, 1.5e9}), s({"0", "0.5B", "1.0B", "1.5B"}));
        QCOMPARE(formatTicks({2e6, 4e6}), s({"2M", "4M"}));
        QCOMPARE(formatTicks({-0.1, 0.1 * 3 - 0.3, 0.1}), s({"-0.1", "0", "0.1"}));
        QCOMPARE(formatTicks({100, 200, 300}), s({"100", "200", "300"}));

        // What the chart draws: a learning-rate curve's axis reads as formatLr writes.
        MetricChart chart(QStringLiteral("Learning rate"));
        ChartCurve lr = line(100, map(std::nullopt));
        for (qsizetype i = 0; i < lr.data.values.size(); ++i)
            lr.data.values[i] = 3e-3 * (1 - i / 100.0); // a linear decay from 3e-3 to 0
        chart.setCurves({lr});
        chart.replotNow();
        QCOMPARE(chart.plot()->yAxis->numberFormat(), QStringLiteral("g")); // no 3·10⁻³
        const QVector<QString> labels = chart.plot()->yAxis->tickVectorLabels();
        QVERIFY(!labels.isEmpty());
        for (const QString& l : labels)
            QVERIFY2(l == QLatin1String("0") || l.contains(QLatin1String("e-")), qPrintable(l));
    }

    // The legend goes where it hides the fewest points: top right over a falling loss, elsewhere
    // over a series that rises into that corner.
    void legendAvoidsTheData() {
        MetricChart chart(QStringLiteral("System"));
        chart.resize(600, 400);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        auto two = [this](double sign) {
            ChartCurve a = line(400, map(std::nullopt)), b = line(400, map(std::nullopt));
            a.name = QStringLiteral("cpu");
            b.name = QStringLiteral("rss");
            for (int i = 0; i < a.data.values.size(); ++i) {
                a.data.values[i] = sign > 0 ? i : 400 - i;
                b.data.values[i] = a.data.values[i] * 0.9;
            }
            return QVector<ChartCurve>{a, b};
        };
        chart.setCurves(two(-1)); // falling
        chart.replotNow();
        chart.replotNow(); // the second pass knows the laid-out legend's size
        QCOMPARE(chart.legendCorner(), Qt::AlignTop | Qt::AlignRight);
        chart.setCurves(two(+1)); // rising into the top right
        chart.replotNow();
        QCOMPARE(chart.legendCorner(), Qt::AlignTop | Qt::AlignLeft);
    }

    // A short chart gets fewer y labels than a tall one, never labels on top of each other.
    void yTicksFollowTheHeight() {
        auto labelsAt = [this](int height) {
            MetricChart chart(QStringLiteral("Memory"));
            chart.resize(400, height);
            chart.show();
            if (!QTest::qWaitForWindowExposed(&chart)) return -1;
            chart.setCurves({line(400, map(std::nullopt))});
            chart.replotNow();
            chart.replotNow(); // the second pass knows the laid-out axis height
            const auto labels = chart.plot()->yAxis->tickVectorLabels();
            const int axisHeight = chart.plot()->axisRect()->height();
            const int lineHeight = QFontMetrics(chart.plot()->yAxis->tickLabelFont()).height();
            return labels.size() * lineHeight <= axisHeight ? int(labels.size()) : 1000;
        };
        const int small = labelsAt(140), tall = labelsAt(600);
        QVERIFY2(small >= 2 && small < 1000, qPrintable(QString::number(small)));
        QVERIFY2(tall > small && tall < 1000,
                 qPrintable(QStringLiteral("%1 %2").arg(small).arg(tall)));
    }

    void emaMatchesTensorBoard() {
        // TensorBoard: last = last * w + (1 - w) * y; smoothed = last / (1 - w^n).
        const QVector<double> y{1, 2, 3};
        const auto s = emaSmooth(y, 0.5);
        QCOMPARE(s.size(), 3);
        QVERIFY(std::abs(s[0] - 1.0) < 1e-12); // debiased: the first value is the value
        QVERIFY(std::abs(s[1] - 1.25 / 0.75) < 1e-12);
        QVERIFY(std::abs(s[2] - 2.125 / 0.875) < 1e-12);
        QCOMPARE(emaSmooth(y, 0.0), y); // no smoothing
        for (double v : emaSmooth(QVector<double>(50, 3.5), 0.99))
            QVERIFY(std::abs(v - 3.5) < 1e-9);
    }
    void emaSkipsNonFiniteValues() {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        const auto s = emaSmooth({1, nan, 3}, 0.5);
        QVERIFY(std::isnan(s[1]));
        QVERIFY(std::abs(s[2] - emaSmooth({1, 3}, 0.5)[1]) < 1e-12);
    }
    // The whole-run smoothing read off at some steps is emaSmooth at those steps, bitwise,
    // including non-finite points and steps between points; NaN before the first point.
    void emaAtStepsEqualsWholeSeries() {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        QVector<double> steps, values;
        for (int i = 0; i < 500; ++i) {
            steps << 3.0 * i + 2;
            values << (i == 17 ? nan : std::sin(i * 0.37) + 4);
        }
        const QVector<double> all = emaSmooth(values, 0.93);
        const QVector<double> at = {0, 2, 5, 6, 53, 53, 54, 1000, 1499, 5000};
        const QVector<double> got = emaSmoothAt(steps, values, 0.93, at);
        QCOMPARE(got.size(), at.size());
        QVERIFY(std::isnan(got[0])); // before the first point
        for (qsizetype k = 1; k < at.size(); ++k) {
            const qsizetype i =
                std::upper_bound(steps.begin(), steps.end(), at[k]) - steps.begin() - 1;
            QVERIFY2(got[k] == all[i] || (std::isnan(got[k]) && std::isnan(all[i])),
                     qPrintable(QString::number(at[k])));
        }
        QVERIFY(std::isnan(got[4])); // step 53 is the non-finite point: passed through
    }
    // A flat series gets ±10 % of its value, not a band of rounding noise.
    void flatSeriesGetsASensibleRange() {
        MetricChart chart(QStringLiteral("lr"));
        chart.resize(600, 400);
        ChartCurve c;
        c.name = QStringLiteral("lr");
        for (int i = 1; i <= 50; ++i) {
            c.data.steps << i;
            c.data.values << 3e-4;
        }
        c.map.steps = {1, 50};
        c.map.tokens = {100, 5000};
        c.smooth = false;
        chart.setCurves({c});
        chart.replotNow();
        const QCPRange r = chart.plot()->yAxis->range();
        QVERIFY2(std::abs(r.lower - 2.7e-4) < 1e-12 && std::abs(r.upper - 3.3e-4) < 1e-12,
                 qPrintable(QStringLiteral("%1 .. %2").arg(r.lower).arg(r.upper)));
    }
    void emaCountsStandForRepeatedPoints() {
        // A sample that stands for two raw points smooths like those two points.
        const auto weighted = emaSmooth({2, 5}, 0.9, {1, 2});
        const auto raw = emaSmooth({2, 5, 5}, 0.9);
        QVERIFY(std::abs(weighted[1] - raw[2]) < 1e-12);
    }
    void bucketsKeepMinAndMaxInStepOrder() {
        bcd::store::SeriesBucket a;
        a.firstStep = 0, a.lastStep = 15, a.count = 16, a.hasValue = true;
        a.min = 1, a.minStep = 12, a.max = 9, a.maxStep = 3;
        bcd::store::SeriesBucket b;
        b.firstStep = b.lastStep = b.minStep = b.maxStep = 16, b.count = 1, b.hasValue = true,
        b.min = b.max = 4;
        const auto s = seriesFromBuckets({a, b});
        QCOMPARE(s.steps, (QVector<double>{3, 12, 16}));
        QCOMPARE(s.values, (QVector<double>{9, 1, 4}));
        QCOMPARE(s.weights, (QVector<double>{8, 8, 1}));
        QVERIFY(s.downsampled);
    }
    void stepMapInterpolatesAndInverts() {
        const StepMap m = map(3.6);
        QCOMPARE(m.x(XAxisKind::Tokens, 100), 51200.0);
        QCOMPARE(m.x(XAxisKind::Time, 100), 50.0);
        QVERIFY(std::abs(m.x(XAxisKind::Cost, 100) - 0.05) < 1e-12); // 50 s at $3.6/h
        QVERIFY(std::abs(m.step(XAxisKind::Tokens, 51200) - 100) < 1e-9);
        QVERIFY(std::abs(m.step(XAxisKind::Cost, 0.05) - 100) < 1e-9);
        QVERIFY(!map(std::nullopt).has(XAxisKind::Cost));
    }
    void xAxisSwitchChangesTheXData() {
        MetricChart chart(QStringLiteral("Loss"));
        chart.resize(800, 400);
        chart.setCurves({line(200, map(std::nullopt))});
        chart.replotNow();
        QCOMPARE(chart.rawX(0).size(), 200);
        QCOMPARE(chart.rawX(0).front(), 1.0);
        QCOMPARE(chart.rawX(0).back(), 200.0);
        chart.setXAxisKind(XAxisKind::Tokens);
        chart.replotNow();
        QCOMPARE(chart.rawX(0).front(), 512.0);
        QCOMPARE(chart.rawX(0).back(), 200 * 512.0);
        chart.setXAxisKind(XAxisKind::Time);
        chart.replotNow();
        QCOMPARE(chart.rawX(0).back(), 100.0);
        QCOMPARE(chart.rawY(0), line(200, {}).data.values); // y does not move with x
    }
    void smoothedLineFollowsTheSlider() {
        MetricChart chart(QStringLiteral("Loss"));
        chart.setCurves({line(100, map(std::nullopt))});
        chart.setSmoothing(0.9);
        chart.replotNow();
        QCOMPARE(chart.smoothedY(0), emaSmooth(line(100, {}).data.values, 0.9));
        chart.setSmoothing(0);
        chart.replotNow();
        QVERIFY(chart.smoothedY(0).isEmpty()); // raw only
    }
    void markersSitAtTheirSteps() {
        MetricChart chart(QStringLiteral("Loss"));
        const StepMap m = map(std::nullopt);
        chart.setCurves({line(200, m)});
        chart.setMarkers({25, 50, 75}, m);
        chart.replotNow();
        QCOMPARE(chart.markerX(), (QVector<double>{25, 50, 75}));
        chart.setXAxisKind(XAxisKind::Tokens);
        chart.replotNow();
        QCOMPARE(chart.markerX(), (QVector<double>{25 * 512.0, 50 * 512.0, 75 * 512.0}));
    }
    void costAxisWithoutPriceSaysSo() {
        MetricChart chart(QStringLiteral("Loss"));
        ChartCurve priced = line(50, map(7.2));
        priced.name = QStringLiteral("priced");
        ChartCurve unpriced = line(50, map(std::nullopt));
        unpriced.name = QStringLiteral("free");
        chart.setCurves({priced, unpriced});
        chart.setXAxisKind(XAxisKind::Cost);
        chart.replotNow();
        QCOMPARE(chart.rawX(0).back(), 50 * 0.5 * 7.2 / 3600);
        QVERIFY(chart.rawX(1).isEmpty());
        QVERIFY(chart.note().contains(QStringLiteral("free")));
    }
    void zoomStopsFollowingAndDoubleClickResets() {
        MetricChart chart(QStringLiteral("Loss"));
        chart.setCurves({line(200, map(std::nullopt))});
        chart.replotNow();
        QVERIFY(chart.followsAll());
        QSignalSpy view(&chart, &MetricChart::viewChanged);
        chart.zoomTo(20, 40);
        QVERIFY(!chart.followsAll());
        QTRY_COMPARE(view.count(), 1); // debounced
        QCOMPARE(chart.visibleSteps(map(std::nullopt)), (std::pair<qint64, qint64>{20, 40}));
        chart.resetZoom();
        QVERIFY(chart.followsAll());
    }
    // A run logging far faster than the screen: however many updates arrive in one turn of the
    // event loop, they make one redraw (at the next ~30 Hz slot, kMinReplotMs), and a redraw
    // leaves nothing scheduled. Counted, not timed: no bound on wall time that a loaded machine
    // could break.
    void redrawsAreCoalesced() {
        MetricChart chart(QStringLiteral("Loss"));
        chart.replotNow();
        const int before = chart.replotCount();
        for (int batch = 1; batch <= 3; ++batch) {
            for (int i = 0; i < 200; ++i) chart.setCurves({line(50 + i % 50, map(std::nullopt))});
            QCOMPARE(chart.replotCount(), before + batch - 1); // none while the updates arrive
            QTRY_COMPARE(chart.replotCount(), before + batch);
            QCoreApplication::processEvents();
            QCOMPARE(chart.replotCount(), before + batch); // one redraw for 200 updates
        }
    }
};

QTEST_MAIN(TstMetricChart)
#include "tst_metric_chart.moc"
