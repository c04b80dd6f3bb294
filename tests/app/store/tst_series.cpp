// Queries of stored points (app/store/series.cpp) and CSV export (run_store.cpp): points(),
// pointCount(), downsampled series() checked bucket by bucket against the points themselves, and
// the CSV file's header, rows and atomic replacement.

#include "metrics_lines.h"
#include "store/run_store.h"
#include "store_test_util.h"

#include <QBuffer>
#include <QRandomGenerator>
#include <QTest>
#include <sys/stat.h>

using namespace bcd::store;
using namespace bcd::test;

namespace {

constexpr qint64 kSteps = 100000;
constexpr qint64 kSpikeStep = 54321, kDipStep = 77777;
constexpr double kSpike = 1000.0, kDip = -5.0;

double lossOf(qint64 step) {
    if (step == kSpikeStep) return kSpike;
    if (step == kDipStep) return kDip;
    return lossAt(step);
}

// Every bucket against the points it covers: the count, and the exact extremes with their steps.
// Buckets come in step order and cover exactly the points in [from, to].
void checkBuckets(const QVector<SeriesBucket>& buckets, const QVector<MetricPoint>& pts,
                  MetricColumn col, qint64 from, qint64 to, int maxBuckets) {
    QVERIFY2(buckets.size() <= std::max(1, maxBuckets),
             qPrintable(
                 QStringLiteral("%1 buckets for at most %2").arg(buckets.size()).arg(maxBuckets)));
    // Index of the first point at or after a step.
    const auto lower = [&](qint64 step) {
        return std::lower_bound(pts.begin(), pts.end(), step,
                                [](const MetricPoint& p, qint64 s) { return p.step < s; }) -
               pts.begin();
    };
    const qsizetype lo = lower(from), hi = lower(to + 1);
    qint64 total = 0, prevLast = -1;
    for (const SeriesBucket& b : buckets) {
        QVERIFY(b.firstStep <= b.lastStep);
        QVERIFY(b.firstStep > prevLast);
        QVERIFY(b.firstStep >= from && b.lastStep <= to);
        prevLast = b.lastStep;
        const qsizetype i0 = lower(b.firstStep), i1 = lower(b.lastStep + 1);
        QCOMPARE(pts[i0].step, b.firstStep);
        QCOMPARE(pts[i1 - 1].step, b.lastStep);
        QCOMPARE(b.count, qint64(i1 - i0));
        total += b.count;
        std::optional<double> mn, mx;
        for (qsizetype i = i0; i < i1; ++i)
            if (const auto v = pts[i].value(col)) {
                if (!mn || *v < *mn) mn = v;
                if (!mx || *v > *mx) mx = v;
            }
        QCOMPARE(b.hasValue, mn.has_value());
        if (!mn) continue;
        QCOMPARE(b.min, *mn);
        QCOMPARE(b.max, *mx);
        QVERIFY(b.minStep >= b.firstStep && b.maxStep <= b.lastStep);
        QCOMPARE(pts[lower(b.minStep)].step, b.minStep);
        QCOMPARE(pts[lower(b.minStep)].value(col), std::optional<double>(b.min));
        QCOMPARE(pts[lower(b.maxStep)].value(col), std::optional<double>(b.max));
    }
    QCOMPARE(total, qint64(hi - lo));
}

// How the CSV writes a double: the shortest text that reads back exactly.
QByteArray shortest(double v) {
    return QString::number(v, 'g', QLocale::FloatingPointShortest).toUtf8();
}

} // namespace

class TestSeries : public QObject {
    Q_OBJECT

    std::unique_ptr<RunStore> store_;
    qint64 run_ = 0;
    QVector<MetricPoint> points_;

private slots:
    // 100k steps with one spike and one dip, ingested in pieces of random sizes so that the
    // levels of detail are built incrementally, as while a run is followed.
    void initTestCase() {
        store_ = std::make_unique<RunStore>(freshDir(QStringLiteral("series/big")) +
                                            QStringLiteral("/store.sqlite"));
        run_ = addRun(*store_);
        QByteArray file;
        file.reserve(kSteps * 340);
        for (qint64 s = 1; s <= kSteps; ++s)
            file += stepLine(s, lossOf(s), static_cast<int>(s / 1000));
        QRandomGenerator rng(11);
        qint64 offset = 0;
        while (offset < file.size()) {
            const qint64 n = std::min<qint64>(file.size() - offset, rng.bounded(1, 1 << 21));
            const IngestResult r =
                store_->ingest(run_, offset, QByteArrayView(file).sliced(offset, n));
            QVERIFY(r.accepted);
            offset = r.offset;
        }
        points_ = store_->points(run_, PointType::Step);
    }
    void cleanupTestCase() { store_.reset(); }

    void pointsAndCount() {
        QCOMPARE(store_->pointCount(run_, PointType::Step), kSteps);
        QCOMPARE(store_->pointCount(run_, PointType::Eval), qint64(0));
        QCOMPARE(store_->pointCount(run_ + 1, PointType::Step), qint64(0));
        QCOMPARE(points_.size(), qsizetype(kSteps));
        for (qsizetype i = 0; i < points_.size(); ++i) {
            QCOMPARE(points_[i].step, qint64(i + 1));
            QCOMPARE(points_[i].type, PointType::Step);
        }
        QCOMPARE(points_[kSpikeStep - 1].value(MetricColumn::Loss), std::optional<double>(kSpike));
        const auto range = store_->points(run_, PointType::Step, 500, 509);
        QCOMPARE(range.size(), 10);
        QCOMPARE(range.front().step, qint64(500));
        QCOMPARE(range.back().step, qint64(509));
        QCOMPARE(range[3].value(MetricColumn::Loss), std::optional<double>(lossAt(503)));
        QVERIFY(store_->points(run_, PointType::Step, kSteps + 1).isEmpty());
        QVERIFY(store_->points(run_, PointType::Eval).isEmpty());
    }

    void spikeSurvives_data() {
        QTest::addColumn<int>("maxBuckets");
        for (int n : {1, 2, 7, 100, 1000, 4096, 99999, 100000, 250000})
            QTest::newRow(qPrintable(QString::number(n))) << n;
    }
    void spikeSurvives() {
        QFETCH(int, maxBuckets);
        const auto b = store_->series(run_, MetricColumn::Loss, 0, RunStore::kLastStep, maxBuckets);
        QVERIFY(!b.isEmpty());
        checkBuckets(b, points_, MetricColumn::Loss, 0, RunStore::kLastStep, maxBuckets);
        if (QTest::currentTestFailed()) return;
        const auto top = std::max_element(
            b.begin(), b.end(), [](const auto& x, const auto& y) { return x.max < y.max; });
        const auto bottom = std::min_element(
            b.begin(), b.end(), [](const auto& x, const auto& y) { return x.min < y.min; });
        QCOMPARE(top->max, kSpike);
        QCOMPARE(top->maxStep, kSpikeStep);
        QCOMPARE(bottom->min, kDip);
        QCOMPARE(bottom->minStep, kDipStep);
        if (maxBuckets >= kSteps) QCOMPARE(b.size(), qsizetype(kSteps)); // no downsampling needed
        if (maxBuckets >= 100)
            QVERIFY(b.size() >= std::min<qint64>(maxBuckets, kSteps) / 2); // not needlessly coarse
    }

    void rangesAndColumns() {
        QRandomGenerator rng(5);
        const MetricColumn cols[] = {MetricColumn::Loss, MetricColumn::GradNorm,
                                     MetricColumn::Block, MetricColumn::Elapsed,
                                     MetricColumn::Tokens};
        for (int i = 0; i < 60; ++i) {
            qint64 a = rng.bounded(0, int(kSteps) + 10), b = rng.bounded(0, int(kSteps) + 10);
            if (a > b) std::swap(a, b);
            if (i % 10 == 0) b = a + rng.bounded(0, 40); // short ranges: raw points only
            const int maxBuckets = rng.bounded(1, 3000);
            const MetricColumn col = cols[i % 5];
            const auto buckets = store_->series(run_, col, a, b, maxBuckets);
            checkBuckets(buckets, points_, col, a, b, maxBuckets);
            if (QTest::currentTestFailed()) {
                qWarning("range [%lld, %lld], %d buckets, column %s", a, b, maxBuckets,
                         columnName(col));
                return;
            }
        }
        // Ranges with no points.
        QVERIFY(store_->series(run_, MetricColumn::Loss, kSteps + 1, kSteps + 100, 10).isEmpty());
        QVERIFY(store_->series(run_, MetricColumn::ValLoss, 0, RunStore::kLastStep, 10).isEmpty());
        QVERIFY(store_->series(run_ + 1, MetricColumn::Loss, 0, RunStore::kLastStep, 10).isEmpty());
        // maxBuckets below 1 is taken as 1.
        QCOMPARE(store_->series(run_, MetricColumn::Loss, 0, RunStore::kLastStep, 0).size(), 1);
    }

    // A later record replaces the spike: the levels of detail forget it.
    void replacedPointUpdatesSeries() {
        const QByteArray fixed = stepLine(kSpikeStep, lossAt(kSpikeStep));
        QVERIFY(store_->ingest(run_, 0, fixed).accepted); // a re-read from the start
        const auto b = store_->series(run_, MetricColumn::Loss, 0, RunStore::kLastStep, 10);
        for (const auto& x : b) QVERIFY(x.max < 10.0);
        points_[kSpikeStep - 1] = store_->points(run_, PointType::Step, kSpikeStep, kSpikeStep)[0];
        checkBuckets(b, points_, MetricColumn::Loss, 0, RunStore::kLastStep, 10);
        // Put things back for the other tests.
        QVERIFY(
            store_->ingest(run_, 0, stepLine(kSpikeStep, kSpike, int(kSpikeStep / 1000))).accepted);
        points_[kSpikeStep - 1] = store_->points(run_, PointType::Step, kSpikeStep, kSpikeStep)[0];
    }

    // Sparse steps (log_every > 1), values missing in part of the run, and eval points.
    void sparseNullAndEval() {
        RunStore s(freshDir(QStringLiteral("series/sparse")) + QStringLiteral("/store.sqlite"));
        const qint64 id = addRun(s);
        QByteArray file;
        for (qint64 step = 10; step <= 50000; step += 10) {
            QByteArray line = stepLine(step);
            if (step <= 20000)
                line.replace(QByteArray(R"("grad_norm":)") + num(1.0 + step * 1e-3),
                             R"("grad_norm":null)");
            file += line;
            if (step % 1000 == 0) file += evalLine(step, 3.0 + 1.0 / step);
        }
        QVERIFY(s.ingest(id, 0, file).accepted);
        const auto pts = s.points(id, PointType::Step);
        QCOMPARE(pts.size(), 5000);
        QVERIFY(!pts[0].value(MetricColumn::GradNorm));
        for (int maxBuckets : {1, 5, 50, 333, 5000}) {
            const auto b = s.series(id, MetricColumn::GradNorm, 0, RunStore::kLastStep, maxBuckets);
            checkBuckets(b, pts, MetricColumn::GradNorm, 0, RunStore::kLastStep, maxBuckets);
            if (maxBuckets == 5) {
                QVERIFY(!b.front().hasValue); // only nulls there
                QVERIFY(b.back().hasValue);
            }
        }
        const auto evals = s.points(id, PointType::Eval);
        QCOMPARE(evals.size(), 50);
        const auto vb = s.series(id, MetricColumn::ValLoss, 0, RunStore::kLastStep, 7);
        checkBuckets(vb, evals, MetricColumn::ValLoss, 0, RunStore::kLastStep, 7);
        QCOMPARE(vb.front().max, 3.0 + 1.0 / 1000);
    }

    // --- CSV --------------------------------------------------------------------------------

    void csvRows() {
        RunStore s(freshDir(QStringLiteral("series/csv")) + QStringLiteral("/store.sqlite"));
        const qint64 id = addRun(s);
        QByteArray step3 = stepLine(3, 0.1);
        step3.replace(QByteArray(R"("grad_norm":)") + num(1.0 + 3 * 1e-3), R"("grad_norm":null)");
        s.ingest(id, 0,
                 stepLine(1, 5.5) + stepLine(2, 1.0 / 3.0) + evalLine(2, 4.25) + step3 +
                     evalLine(3, 1e-7));
        QBuffer buf;
        buf.open(QIODevice::WriteOnly);
        s.writeCsv(id, buf);
        const QList<QByteArray> rows = buf.data().split('\n');
        QCOMPARE(rows.size(), 7); // header, 5 rows, the empty piece after the last newline
        QCOMPARE(rows[0],
                 QByteArray("type,step,tokens,elapsed,loss,lr,block,grad_norm,tok_s,mem,val_loss,"
                            "comm_bytes,cpu_pct,rss,gpu_util,gpu_mem,gpu_power,gpu_temp"));
        // The step lines' rss_bytes are the rss column; the other system figures are absent.
        QCOMPARE(rows[1], "step,1,64," + shortest(0.01) + ",5.5,0.001,0," + shortest(1.0 + 1e-3) +
                              ",6400.5,1346688,,,,16568320,,,,");
        QCOMPARE(rows[3], QByteArray("eval,2,,,,,,,,,4.25,,,,,,,"));
        QCOMPARE(rows[4], "step,3,192," + shortest(3 * 0.01) +
                              ",0.1,0.001,0,,6400.5,1346688,,,,16568320,,,,");
        QCOMPARE(rows[5], QByteArray("eval,3,,,,,,,,,1e-07,,,,,,,"));
        QVERIFY(rows[6].isEmpty());
        // Doubles are written so that they read back exactly.
        const QList<QByteArray> cells = rows[2].split(',');
        QCOMPARE(cells.size(), 18);
        QCOMPARE(cells[0], QByteArray("step"));
        QCOMPARE(cells[4].toDouble(), 1.0 / 3.0);
    }

    void exportCsvAtomically() {
        const QString dir = freshDir(QStringLiteral("series/export"));
        RunStore s(dir + QStringLiteral("/store.sqlite"));
        const qint64 id = addRun(s);
        s.ingest(id, 0, stepLines(1, 1000));
        const QString file = dir + QStringLiteral("/out/run.csv");
        QVERIFY(QDir().mkpath(dir + QStringLiteral("/out")));
        QVERIFY(writeBytes(file, "old contents\n"));
        struct stat before {};
        QCOMPARE(::stat(file.toLocal8Bit().constData(), &before), 0);

        s.exportCsv(id, file);
        QBuffer buf;
        buf.open(QIODevice::WriteOnly);
        s.writeCsv(id, buf);
        QCOMPARE(fileBytes(file), buf.data());
        QCOMPARE(buf.data().count('\n'), 1001);
        // Replaced by renaming a finished file over it (QSaveFile), not rewritten in place, and
        // nothing left beside it.
        struct stat after {};
        QCOMPARE(::stat(file.toLocal8Bit().constData(), &after), 0);
        QVERIFY(before.st_ino != after.st_ino);
        QCOMPARE(QDir(dir + QStringLiteral("/out")).entryList(QDir::Files | QDir::Hidden),
                 QStringList{QStringLiteral("run.csv")});

        // Failures name the file and leave what is there.
        QVERIFY(writeBytes(file, "old contents\n"));
        bool threw = false;
        try {
            s.exportCsv(id + 100, file); // no such run
        } catch (const StoreError&) {
            threw = true;
        }
        QVERIFY(threw);
        QCOMPARE(fileBytes(file), QByteArray("old contents\n"));
        QString msg;
        const QString asDir = dir + QStringLiteral("/out");
        try {
            s.exportCsv(id, asDir); // a folder
        } catch (const StoreError& e) {
            msg = QString::fromUtf8(e.what());
        }
        QVERIFY2(msg.contains(asDir), qPrintable(msg));
        QCOMPARE(fileBytes(file), QByteArray("old contents\n"));
        QCOMPARE(QDir(asDir).entryList(QDir::Files | QDir::Hidden),
                 QStringList{QStringLiteral("run.csv")});
    }
};

QTEST_GUILESS_MAIN(TestSeries)
#include "tst_series.moc"
