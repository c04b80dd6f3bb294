// bench_replot: 10 overlaid runs of 100k steps each. The Compare/Monitor way — the store's min/max
// buckets, one per pixel of the plot, drawn by MetricChart — against a peer measured in the same
// run: QCustomPlot given every one of the 1M points, with adaptive sampling on and off.
//
//   QT_QPA_PLATFORM=offscreen build/bench/ui/bench_replot [--runs N] [--points N] [--reps N]
//
// Prints milliseconds per replot and the ratios. The page's store fetch runs on the store's
// thread, so the GUI thread pays the drawing alone; both are printed.

#include "store/run_store.h"
#include "ui/widgets/metric_chart.h"
#include "ui/widgets/series_model.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <cmath>
#include <cstdio>
#include <functional>
#include <qcustomplot.h>

using namespace bcd;

namespace {

int argValue(const QStringList& args, const QString& name, int fallback) {
    const int i = args.indexOf(name);
    return i >= 0 && i + 1 < args.size() ? args[i + 1].toInt() : fallback;
}

// Mean milliseconds of fn over reps calls, after one warm-up call.
double timeMs(int reps, const std::function<void()>& fn) {
    fn();
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < reps; ++i) fn();
    return double(t.nsecsElapsed()) / 1e6 / reps;
}

double lossAt(int run, qint64 step) {
    return 2.0 + 3.0 * std::exp(-double(step) / (20000.0 + 3000.0 * run)) +
           0.05 * std::sin(step * 0.37 + run) + ((step * 7919 + run * 104729) % 101) * 0.002;
}

} // namespace

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    const QStringList args = app.arguments();
    const int runs = argValue(args, QStringLiteral("--runs"), 10);
    const int points = argValue(args, QStringLiteral("--points"), 100000);
    const int reps = argValue(args, QStringLiteral("--reps"), 20);
    const int width = 1200, height = 600;

    QTemporaryDir tmp;
    store::RunStore store(tmp.filePath(QStringLiteral("bench.sqlite")));
    QElapsedTimer ingestTimer;
    ingestTimer.start();
    QVector<qint64> ids;
    for (int r = 0; r < runs; ++r) {
        store::NewRun n;
        n.name = QStringLiteral("run %1").arg(r);
        n.node = QStringLiteral("local");
        n.pricePerHour = 2.0;
        const qint64 id = store.createRun(n);
        QByteArray jsonl;
        jsonl.reserve(qsizetype(points) * 190);
        for (qint64 s = 1; s <= points; ++s)
            jsonl +=
                QStringLiteral(
                    R"({"t":"step","step":%1,"tokens":%2,"loss":%3,"lr":0.0003,"block":%4,"grad_norm":1.0,"step_s":0.1,"tok_s":40960,"mem_bytes":1000000000,"elapsed_s":%5})")
                    .arg(s)
                    .arg(s * 4096)
                    .arg(lossAt(r, s), 0, 'g', 8)
                    .arg((s / 50) % 8)
                    .arg(s * 0.1, 0, 'g', 10)
                    .toUtf8() +
                '\n';
        store.ingest(id, 0, jsonl);
        ids << id;
    }
    std::printf("bench_replot: %d runs × %d points (%lld points), plot %d×%d px, offscreen; ingest "
                "%.1f s\n",
                runs, points, qint64(runs) * points, width, height, ingestTimer.elapsed() / 1000.0);

    // --- The page's way: buckets for the plot's width from the store, drawn by MetricChart. ------
    ui::MetricChart chart(QStringLiteral("Loss"));
    chart.resize(width, height);
    chart.show();
    QApplication::processEvents();
    const int buckets = chart.plotWidth();
    QVector<ui::RunCurves> curves;
    // As the Compare page asks on the step axis; the other axes also read tokens and elapsed.
    const auto fetchWith = [&](bool stepMap) {
        return [&, stepMap] {
            curves.clear();
            ui::CurveRequest req;
            req.buckets = buckets;
            req.columns = {store::MetricColumn::Loss};
            req.switches = false;
            req.stepMap = stepMap;
            for (qint64 id : ids) curves << ui::fetchRunCurves(store, id, req);
        };
    };
    const double fetchTokensAxisMs = timeMs(reps, fetchWith(true));
    const auto fetch = fetchWith(false);
    const double fetchMs = timeMs(reps, fetch);
    if (args.contains(QStringLiteral("--breakdown"))) {
        const qint64 id = ids.front();
        const auto last = store::RunStore::kLastStep;
        std::printf(
            "one run: run() %.2f ms, pointCount %.2f ms, series(loss) %.2f ms, events %.2f ms\n",
            timeMs(reps, [&] { store.run(id); }),
            timeMs(reps, [&] { store.pointCount(id, store::PointType::Step); }),
            timeMs(reps, [&] { store.series(id, store::MetricColumn::Loss, 0, last, buckets); }),
            timeMs(reps, [&] { store.events(id); }));
    }
    qsizetype drawnPoints = 0;
    const auto draw = [&] {
        QVector<ui::ChartCurve> cs;
        for (int i = 0; i < curves.size(); ++i)
            cs.push_back({curves[i].run.name, ui::curveColor(i),
                          curves[i].metric(store::MetricColumn::Loss), curves[i].map, true, false,
                          1.0});
        chart.setCurves(cs);
        chart.replotNow(); // rebuild (x mapping, EMA) + immediate replot
    };
    const double drawMs = timeMs(reps, draw);
    for (int i = 0; i < curves.size(); ++i) drawnPoints += chart.rawX(i).size();
    const double replotOnlyMs =
        timeMs(reps, [&] { chart.plot()->replot(QCustomPlot::rpImmediateRefresh); });

    // --- The peer: every point in QCustomPlot. --------------------------------------------------
    QCustomPlot naive;
    naive.resize(width, height);
    naive.show();
    QVector<double> x(points);
    for (int i = 0; i < points; ++i) x[i] = i + 1;
    for (int r = 0; r < runs; ++r) {
        QVector<double> y(points);
        for (int i = 0; i < points; ++i) y[i] = lossAt(r, i + 1);
        QCPGraph* g = naive.addGraph();
        g->setPen(QPen(ui::curveColor(r), 1));
        g->setData(x, y, true);
    }
    naive.rescaleAxes();
    QApplication::processEvents();
    const auto naiveReplot = [&](bool adaptive) {
        for (int g = 0; g < naive.graphCount(); ++g) naive.graph(g)->setAdaptiveSampling(adaptive);
        return timeMs(adaptive ? reps : std::max(3, reps / 5),
                      [&] { naive.replot(QCustomPlot::rpImmediateRefresh); });
    };
    const double naiveAdaptiveMs = naiveReplot(true);
    const double naiveFullMs = naiveReplot(false);

    std::printf("\n%-58s %10s\n", "per replot", "ms");
    std::printf("%-58s %10.2f\n", "page: store fetch, step axis (store thread)", fetchMs);
    std::printf("%-58s %10.2f\n", "page: store fetch, tokens/time/cost axis (store thread)",
                fetchTokensAxisMs);
    std::printf("%-58s %10.2f\n", "page: rebuild + replot (GUI thread)", drawMs);
    std::printf("%-58s %10.2f\n", "page: fetch + rebuild + replot", fetchMs + drawMs);
    std::printf("%-58s %10.2f\n", "page: replot only (zoom/pan frame)", replotOnlyMs);
    std::printf("%-58s %10.2f\n", "naive QCustomPlot, all points, adaptive sampling on",
                naiveAdaptiveMs);
    std::printf("%-58s %10.2f\n", "naive QCustomPlot, all points, adaptive sampling off",
                naiveFullMs);
    std::printf("\npoints drawn: page %lld (%d buckets/run), naive %lld\n", qint64(drawnPoints),
                buckets, qint64(runs) * points);
    std::printf("ratio naive(adaptive on) / page(rebuild+replot):        %6.1fx\n",
                naiveAdaptiveMs / drawMs);
    std::printf("ratio naive(adaptive off) / page(rebuild+replot):       %6.1fx\n",
                naiveFullMs / drawMs);
    std::printf("ratio naive(adaptive on) / page(fetch+rebuild+replot):  %6.1fx\n",
                naiveAdaptiveMs / (fetchMs + drawMs));
    std::printf("goal ≤ 50 ms per replot on the GUI thread (rebuild + replot): %s; with the store "
                "fetch (step axis): %s\n",
                drawMs <= 50 ? "met" : "NOT met", fetchMs + drawMs <= 50 ? "met" : "NOT met");
    return 0;
}
