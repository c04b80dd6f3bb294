// The Monitor page on a run trained by the real engine and on a long hand-written one: points,
// switch markers, validation loss, progress and ETA, x-axis switching, the cost chart, the log
// tail, downsampling and the refetch on zoom.

#include "chart_test_runs.h"
#include "ui/pages/monitor_page.h"
#include "ui/widgets/metric_chart.h"
#include "ui/widgets/smoothing.h"
#include "ui/workbench.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QMouseEvent>
#include <QStandardItemModel>
#include <QtTest>
#include <memory>
#include <qcustomplot.h>

using namespace bcd;
using namespace bcd::ui;

class TstMonitorPage : public QObject {
    Q_OBJECT
    QString dir_;
    std::unique_ptr<Workbench> wb_;
    test::StoredRun trained_;
    test::StoredRun longRun_;

    void showAndWait(MonitorPage& page, qint64 id) {
        const int before = page.refreshes();
        page.showRun(id);
        QTRY_VERIFY_WITH_TIMEOUT(page.refreshes() > before, 10000);
    }

private slots:
    void initTestCase() {
        dir_ = test::freshDir(QStringLiteral("monitor"));
        const QJsonObject cfg = test::trainTinyRun(dir_, 120);
        QVERIFY2(!cfg.isEmpty(), "the engine did not train");
        wb_ = std::make_unique<Workbench>(dir_ + "/store.sqlite");
        trained_ =
            test::storeRun(wb_->store(), QStringLiteral("tiny"), dir_ + "/run", cfg, 3.6, 120);
        test::writeMetrics(dir_ + "/long", 20000, 1000, 500);
        longRun_ = test::storeRun(wb_->store(), QStringLiteral("long"), dir_ + "/long",
                                  QJsonObject{}, std::nullopt, 40000);
    }
    void cleanupTestCase() { wb_.reset(); }

    // Before a run is shown, the status line says what to do next.
    void emptyStatesPointToTheNextAction() {
        {
            Workbench empty(dir_ + "/empty/store.sqlite");
            MonitorPage page(empty);
            QTRY_VERIFY(page.statusText().startsWith(QStringLiteral("No runs yet")));
            QVERIFY(page.statusText().contains(QStringLiteral("New run (Ctrl+2)")));
        }
        MonitorPage page(*wb_);
        QTRY_VERIFY(page.statusText().startsWith(QStringLiteral("Choose a run above")));
        page.showRun(trained_.id);
        QTRY_VERIFY(page.statusText().contains(QStringLiteral("finished")));
    }

    void showsEveryPointMarkerAndEval() {
        MonitorPage page(*wb_);
        page.resize(1280, 800);
        page.show();
        showAndWait(page, trained_.id);
        MetricChart* loss = page.chart(MonitorPage::Loss);
        loss->replotNow();
        const QString metrics = trained_.dir + "/metrics.jsonl";
        const auto losses = test::fileColumn(metrics, "step", "loss");
        QCOMPARE(losses.size(), 120);
        QCOMPARE(loss->rawX(0).size(), 120); // 120 steps fit in the plot's pixels: every point
        QCOMPARE(loss->rawY(0), QVector<double>(losses.begin(), losses.end()));
        const auto evals = test::fileColumn(metrics, "eval", "val_loss");
        QCOMPARE(loss->rawY(1), QVector<double>(evals.begin(), evals.end()));
        QVector<double> switches;
        for (qint64 s : test::fileColumn(metrics, "switch", "to").keys()) switches << double(s);
        QCOMPARE(switches, (QVector<double>{25, 50, 75, 100}));
        QCOMPARE(loss->markerX(), switches);
        // Each switch is labelled with the block it went to, coloured as in the block strip.
        QStringList labels;
        for (double to : test::fileColumn(metrics, "switch", "to"))
            labels << QStringLiteral("→%1").arg(qint64(to));
        QCOMPARE(loss->markerLabels(), labels);
        QVERIFY2(page.progressText().startsWith(QStringLiteral("step 120 / 120 · 100.0 %")),
                 qPrintable(page.progressText()));
        QVERIFY(page.progressText().contains(QStringLiteral("finished")));
        QVERIFY(page.statusText().contains(QStringLiteral("finished")));
        // The log tail ends with the engine's last line.
        QFile trainLog(trained_.dir + "/train.log");
        QVERIFY(trainLog.open(QIODevice::ReadOnly));
        const QString lastLine = QString::fromUtf8(trainLog.readAll()).trimmed().section('\n', -1);
        QTRY_VERIFY(page.logText().trimmed().endsWith(lastLine));
        // Cost: elapsed × $3.6/h.
        MetricChart* cost = page.chart(MonitorPage::Cost);
        cost->replotNow();
        const auto elapsed = test::fileColumn(metrics, "step", "elapsed_s");
        QVERIFY(!cost->rawY(0).isEmpty());
        QVERIFY(std::abs(cost->rawY(0).back() - elapsed.last() * 3.6 / 3600) < 1e-9);
        QCOMPARE(cost->rawX(0).front(), 0.0); // cumulative cost starts at 0
        QCOMPARE(cost->rawY(0).front(), 0.0);
        QVERIFY(page.findChild<QComboBox*>(QStringLiteral("runPicker"))->count() >= 2);
        // Learning rate and gradient norm, every step, with the block switches marked.
        MetricChart* lr = page.chart(MonitorPage::LearningRate);
        MetricChart* gn = page.chart(MonitorPage::GradNorm);
        lr->replotNow();
        gn->replotNow();
        const auto lrs = test::fileColumn(metrics, "step", "lr");
        QCOMPARE(lr->rawY(0), QVector<double>(lrs.begin(), lrs.end()));
        const auto norms = test::fileColumn(metrics, "step", "grad_norm");
        QCOMPARE(gn->rawY(0), QVector<double>(norms.begin(), norms.end()));
        QCOMPARE(gn->markerX(), switches);
        // The readout at step 60: the step, the loss there, the block that trained and the lr.
        const QString readout = loss->readoutAt(60);
        QVERIFY2(readout.startsWith(QStringLiteral("step 60\n")), qPrintable(readout));
        QVERIFY2(readout.contains(QStringLiteral("loss: ")), qPrintable(readout));
        QVERIFY2(readout.contains(QStringLiteral("(smoothed ")), qPrintable(readout));
        const auto blocks = test::fileColumn(metrics, "step", "block");
        QVERIFY2(readout.contains(QStringLiteral("block %1 · lr ").arg(qint64(blocks.value(60)))),
                 qPrintable(readout));
        // The mouse over the plot shows it, leaving hides it.
        QCustomPlot* plot = loss->plot();
        const QPointF mid = plot->axisRect()->center();
        QMouseEvent move(QEvent::MouseMove, mid, plot->mapToGlobal(mid), Qt::NoButton, Qt::NoButton,
                         Qt::NoModifier);
        QApplication::sendEvent(plot, &move);
        QVERIFY(loss->readoutVisible());
        QEvent leave(QEvent::Leave);
        QApplication::sendEvent(plot, &leave);
        QVERIFY(!loss->readoutVisible());
        // Log loss.
        auto* logLoss = page.findChild<QCheckBox*>(QStringLiteral("logLoss"));
        QVERIFY(logLoss);
        logLoss->setChecked(true);
        QVERIFY(loss->logY());
        loss->replotNow();
        QCOMPARE(loss->plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
        QVERIFY(loss->plot()->yAxis->range().lower > 0);
        QVERIFY(page.grab().save(dir_ + "/monitor.png"));
    }
    void xAxisSwitchesToTokens() {
        MonitorPage page(*wb_);
        page.resize(1280, 800);
        showAndWait(page, trained_.id);
        page.setXAxisKind(XAxisKind::Tokens);
        MetricChart* loss = page.chart(MonitorPage::Loss);
        loss->replotNow();
        const auto tokens = test::fileColumn(trained_.dir + "/metrics.jsonl", "step", "tokens");
        QCOMPARE(loss->rawX(0), QVector<double>(tokens.begin(), tokens.end()));
        QCOMPARE(loss->markerX().front(), tokens.value(25));
        page.setXAxisKind(XAxisKind::Step);
        loss->replotNow();
        QCOMPARE(loss->rawX(0).back(), 120.0);
    }
    void etaWhileRunning() {
        store::RunRecord run;
        run.status = store::status::kRunning;
        run.stepsTotal = 120;
        QCOMPARE(MonitorPage::formatProgress(run, 30, 60.0),
                 QStringLiteral("step 30 / 120 · 25.0 % · 1m 00s elapsed · ETA 3m 00s"));
        run.status = store::status::kCancelled;
        QVERIFY(!MonitorPage::formatProgress(run, 30, 60.0).contains(QStringLiteral("ETA")));
    }
    // The System chart of a CPU run trained by the engine: CPU % and RSS of every step, as the
    // metrics file has them.
    void systemChartOfACpuRun() {
        MonitorPage page(*wb_);
        page.resize(1280, 800);
        page.show(); // 120 steps fit in the plot's pixels: every point
        showAndWait(page, trained_.id);
        MetricChart* sys = page.chart(MonitorPage::System);
        sys->replotNow();
        const QString metrics = trained_.dir + "/metrics.jsonl";
        const auto cpu = test::fileColumn(metrics, "step", "cpu_pct");
        const auto rss = test::fileColumn(metrics, "step", "rss_bytes");
        QCOMPARE(cpu.size(), 120);
        QCOMPARE(sys->curveCount(), 2);
        QCOMPARE(sys->rawY(0), QVector<double>(cpu.begin(), cpu.end()));
        QVector<double> mib;
        for (double v : rss) mib << v / (1024.0 * 1024.0);
        QCOMPARE(sys->rawY(1), mib);
        QVERIFY(sys->note().isEmpty());
    }

    // A GPU run's System chart: utilisation, memory used (GiB), power and temperature.
    void systemChartOfAGpuRun() {
        const QString dir = dir_ + "/gpu";
        QDir().mkpath(dir);
        QFile f(dir + "/metrics.jsonl");
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"t":"start","time":1,"device":"cuda","world_size":1,"params":10,"blocks":[]})"
                "\n");
        for (int s = 1; s <= 30; ++s)
            f.write(QStringLiteral(
                        R"({"t":"step","step":%1,"tokens":%2,"loss":3,"tok_s":1000,"mem_bytes":1,)"
                        R"("rss_bytes":1000000,"cpu_pct":101,"gpu_util_pct":%3,)"
                        R"("gpu_mem_bytes":%4,"gpu_power_w":%5,"gpu_temp_c":%6,"elapsed_s":%7})"
                        "\n")
                        .arg(s)
                        .arg(s * 100)
                        .arg(80 + s % 7)
                        .arg(qint64(s) * (1LL << 30))
                        .arg(300 + s)
                        .arg(50 + s % 3)
                        .arg(s * 0.1)
                        .toUtf8());
        f.close();
        const auto run = test::storeRun(wb_->store(), QStringLiteral("gpu"), dir, QJsonObject{},
                                        std::nullopt, 30);
        MonitorPage page(*wb_);
        page.resize(1280, 800);
        showAndWait(page, run.id);
        MetricChart* sys = page.chart(MonitorPage::System);
        sys->replotNow();
        QCOMPARE(sys->curveCount(), 4);
        const QString metrics = dir + "/metrics.jsonl";
        auto values = [&](const char* field, double scale) {
            QVector<double> out;
            for (double v : test::fileColumn(metrics, "step", field)) out << v * scale;
            return out;
        };
        QCOMPARE(sys->rawY(0), values("gpu_util_pct", 1));
        QCOMPARE(sys->rawY(1), values("gpu_mem_bytes", 1.0 / (1024.0 * 1024.0 * 1024.0)));
        QCOMPARE(sys->rawY(2), values("gpu_power_w", 1));
        QCOMPARE(sys->rawY(3), values("gpu_temp_c", 1));
        QCOMPARE(sys->rawY(1).back(), 30.0);
    }

    // While the engine evaluates, the status line says so with its progress, and the ETA holds the
    // evaluations still to come at the length the run measured; a checkpoint being written is
    // named too; once the phase ends the status line drops it.
    void statusAndEtaDuringEvaluation() {
        const QString dir = dir_ + "/evaluating";
        QDir().mkpath(dir);
        QFile f(dir + "/metrics.jsonl");
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"t":"start","time":1,"device":"cpu","world_size":1,"params":10,)"
                R"("eval_tokens":6000,"blocks":[{"id":0,"name":"all","params":10}]})"
                "\n");
        // 0.5 s a step; an evaluation of 20 s after step 50 (in the later steps' elapsed_s).
        auto step = [](int s) {
            return QStringLiteral(R"({"t":"step","step":%1,"tokens":%2,"loss":3,"tok_s":2000,)"
                                  R"("mem_bytes":1,"elapsed_s":%3})"
                                  "\n")
                .arg(s)
                .arg(s * 1000)
                .arg(s * 0.5 + (s > 50 ? 20 : 0))
                .toUtf8();
        };
        for (int s = 1; s <= 50; ++s) f.write(step(s));
        f.write(R"({"t":"phase","step":50,"phase":"eval","state":"begin","done":0,"total":12,)"
                R"("phase_s":0,"elapsed_s":25})"
                "\n");
        f.write(R"({"t":"phase","step":50,"phase":"eval","state":"end","done":12,"total":12,)"
                R"("phase_s":20,"elapsed_s":45})"
                "\n");
        f.write(R"({"t":"eval","step":50,"val_loss":3.5})"
                "\n");
        for (int s = 51; s <= 100; ++s) f.write(step(s));
        f.write(R"({"t":"phase","step":100,"phase":"eval","state":"begin","done":0,"total":12,)"
                R"("phase_s":0,"elapsed_s":70})"
                "\n");
        f.write(R"({"t":"phase","step":100,"phase":"eval","state":"progress","done":3,)"
                R"("total":12,"phase_s":5,"elapsed_s":75})"
                "\n");
        f.close();
        const QJsonObject cfg{{"data", QJsonObject{{"val", "val.txt"}}},
                              {"train", QJsonObject{{"steps", 200}}},
                              {"output", QJsonObject{{"eval_every", 50}}}};
        const auto run =
            test::storeRun(wb_->store(), QStringLiteral("evaluating"), dir, cfg, std::nullopt, 200);
        MonitorPage page(*wb_);
        page.resize(1280, 800);
        showAndWait(page, run.id);
        QVERIFY2(page.statusText().contains(QStringLiteral("evaluating 3/12")),
                 qPrintable(page.statusText()));
        // 100 steps at 0.5 s, two more evaluations of 20 s (150, 200) and three quarters of this
        // one: 50 + 40 + 15 s.
        QVERIFY2(page.progressText().endsWith(QStringLiteral("ETA 1m 45s")),
                 qPrintable(page.progressText()));

        auto append = [&](const QByteArray& lines) {
            QFile more(dir + "/metrics.jsonl");
            QVERIFY(more.open(QIODevice::Append));
            more.write(lines);
            more.close();
            wb_->store().callBlocking([&](store::RunStore& s) {
                return s.ingestFile(run.id, dir + "/metrics.jsonl").points;
            });
        };
        append(R"({"t":"phase","step":100,"phase":"eval","state":"end","done":12,"total":12,)"
               R"("phase_s":20,"elapsed_s":90})"
               "\n"
               R"({"t":"phase","step":100,"phase":"checkpoint","state":"begin","phase_s":0,)"
               R"("elapsed_s":90})"
               "\n");
        showAndWait(page, run.id);
        QVERIFY2(page.statusText().contains(QStringLiteral("writing checkpoint")),
                 qPrintable(page.statusText()));
        QVERIFY(!page.statusText().contains(QStringLiteral("evaluating")));
        append(R"({"t":"phase","step":100,"phase":"checkpoint","state":"end","phase_s":1,)"
               R"("bytes":100,"elapsed_s":91})"
               "\n" +
               step(101));
        showAndWait(page, run.id);
        QVERIFY2(!page.statusText().contains(QStringLiteral("writing")),
                 qPrintable(page.statusText()));
        QVERIFY(page.statusText().contains(QStringLiteral("running")));
    }

    // The status line says how many ranks a data-parallel run has, and over how many nodes.
    // A run on another node: its train.log is read through the launcher session (RunLogTail),
    // off the GUI thread; a node that cannot be reached says why, with the run's last events.
    void logOfARunOnAnotherNode() {
        store::NodeRecord n;
        n.name = QStringLiteral("far");
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("127.0.0.1");
        n.port = 1; // nothing listens: connection refused
        n.user = QStringLiteral("nobody");
        const qint64 id = wb_->store().callBlocking([n](store::RunStore& s) {
            s.addNode(n);
            store::NewRun r;
            r.name = QStringLiteral("far run");
            r.node = n.name;
            const qint64 id = s.createRun(r);
            s.setRunLocation(id, QStringLiteral("/remote/runs/far"), 4242);
            s.setRunStatus(id, store::status::kRunning);
            s.setRunStatus(id, store::status::kFinished);
            return id;
        });
        MonitorPage page(*wb_);
        page.show();
        showAndWait(page, id);
        QTRY_VERIFY_WITH_TIMEOUT(page.logText().contains(QStringLiteral("could not be read")),
                                 30000);
        QVERIFY2(page.logText().contains(QStringLiteral("train.log on far")),
                 qPrintable(page.logText()));
    }

    // A price change while the run was active: the cost curve follows the schedule, a labelled
    // marker sits where it took effect (on the step and the cost axes), the readout and the
    // chart's tooltip list the segments, and the status line names the price now.
    void priceChangeIsMarkedOnTheCostChart() {
        test::writeMetrics(dir_ + "/repriced", 200, 0, 0); // 0.01 s a step: 2 s in all
        const test::StoredRun run = test::storeRun(wb_->store(), QStringLiteral("repriced"),
                                                   dir_ + "/repriced", QJsonObject{}, 3.6, 200);
        wb_->store().callBlocking(
            [id = run.id](store::RunStore& s) { s.addRunPrice(id, 1.0, 7.2); }); // at step 100
        MonitorPage page(*wb_);
        page.resize(1280, 800);
        page.show();
        showAndWait(page, run.id);
        MetricChart* cost = page.chart(MonitorPage::Cost);
        cost->replotNow();
        QVERIFY(!cost->rawY(0).isEmpty());
        QCOMPARE(cost->rawY(0).front(), 0.0);
        QVERIFY2(std::abs(cost->rawY(0).back() - (3.6 * 1.0 + 7.2 * 1.0) / 3600) < 1e-12,
                 qPrintable(QString::number(cost->rawY(0).back(), 'g', 17)));
        QCOMPARE(cost->markerX(), QVector<double>{100.0});
        QCOMPARE(cost->markerLabels(), QStringList{QStringLiteral("$7.20/h from here")});
        const QString readout = cost->readoutAt(150);
        QVERIFY2(readout.contains(QStringLiteral("price $7.20/h")), qPrintable(readout));
        QVERIFY2(readout.contains(QStringLiteral("from 0s: $3.60/h")), qPrintable(readout));
        QVERIFY2(readout.contains(QStringLiteral("from 1s: $7.20/h (set ")), qPrintable(readout));
        QVERIFY2(cost->readoutAt(50).contains(QStringLiteral("price $3.60/h")),
                 qPrintable(cost->readoutAt(50)));
        QVERIFY(cost->toolTip().contains(QStringLiteral("from 1s: $7.20/h")));
        QVERIFY2(page.statusText().contains(QStringLiteral("$7.20/h (since 1s)")),
                 qPrintable(page.statusText()));
        // On the cost axis the marker sits at what was spent by then: $0.001.
        page.setXAxisKind(XAxisKind::Cost);
        cost->replotNow();
        QCOMPARE(cost->markerX().size(), 1);
        QVERIFY(std::abs(cost->markerX().front() - 0.001) < 1e-12);
        QCOMPARE(cost->markerLabels(), QStringList{QStringLiteral("$7.20/h from here")});
        QVERIFY(page.grab().save(dir_ + "/monitor-repriced.png"));
    }

    void statusShowsRanks() {
        store::RunRecord run;
        run.status = store::status::kRunning;
        run.node = QStringLiteral("n1");
        QVERIFY(!MonitorPage::formatStatus(run).contains(QStringLiteral("ranks")));
        run.worldSize = 1;
        QVERIFY(!MonitorPage::formatStatus(run).contains(QStringLiteral("ranks")));
        run.worldSize = 2;
        QCOMPARE(MonitorPage::formatStatus(run), QStringLiteral("<b>running</b> on n1 · 2 ranks"));
        run.worldSize = 4;
        run.hosts = {QStringLiteral("n1"), QStringLiteral("n2")};
        QCOMPARE(MonitorPage::formatStatus(run),
                 QStringLiteral("<b>running</b> on n1 · 4 ranks on 2 nodes"));
    }
    void longRunIsDownsampledAndRefetchedOnZoom() {
        MonitorPage page(*wb_);
        page.resize(1280, 800);
        page.show();
        showAndWait(page, longRun_.id);
        MetricChart* loss = page.chart(MonitorPage::Loss);
        loss->replotNow();
        const int n = int(loss->rawX(0).size());
        QVERIFY2(n > 100 && n <= 2 * loss->plotWidth(), qPrintable(QString::number(n)));
        QCOMPARE(loss->markerX().size(), 40); // a switch every 500 steps
        QVERIFY(page.progressText().startsWith(QStringLiteral("step 20000 / 40000 · 50.0 %")));
        // Without a price the cost chart says so.
        page.chart(MonitorPage::Cost)->replotNow();
        QVERIFY(page.chart(MonitorPage::Cost)->note().contains(QStringLiteral("price")));
        QVERIFY(page.chart(MonitorPage::Cost)->note().contains(QStringLiteral("Nodes")));
        // ... and the cost axis cannot be chosen for it.
        auto* xAxis = page.findChild<QComboBox*>(QStringLiteral("xAxis"));
        QVERIFY(xAxis);
        const int costItem = xAxis->findData(int(XAxisKind::Cost));
        QVERIFY(costItem >= 0);
        auto* model = qobject_cast<QStandardItemModel*>(xAxis->model());
        QVERIFY(model && !model->item(costItem)->isEnabled());
        // Zoom to 101 steps: the page fetches them at full resolution.
        const int before = page.refreshes();
        loss->zoomTo(5000, 5100);
        QTRY_VERIFY_WITH_TIMEOUT(page.refreshes() > before, 5000);
        loss->replotNow();
        const QVector<double> xs = loss->rawX(0);
        QCOMPARE(xs.size(), 101);
        QCOMPARE(xs.front(), 5000.0);
        QCOMPARE(page.chart(MonitorPage::Memory)->visibleX().lower,
                 5000.0); // the charts zoom together
    }

    // Each run keeps its own x range: a zoom on one run is not carried to another (which fits
    // all its data), and coming back to the zoomed run brings its view back, fetched again.
    void eachRunKeepsItsOwnRange() {
        MonitorPage page(*wb_);
        page.resize(1280, 800);
        page.show();
        showAndWait(page, longRun_.id);
        MetricChart* loss = page.chart(MonitorPage::Loss);
        int before = page.refreshes();
        loss->zoomTo(5000, 5100);
        QTRY_VERIFY_WITH_TIMEOUT(page.refreshes() > before, 5000);

        showAndWait(page, trained_.id);
        QVERIFY(loss->followsAll());
        QVERIFY(page.chart(MonitorPage::Memory)->followsAll());
        loss->replotNow();
        QCOMPARE(loss->rawX(0).size(), 120);
        QVERIFY2(loss->visibleX().upper < 1000, "the small run's axis is its own, not 5000..5100");

        before = page.refreshes();
        page.showRun(longRun_.id);
        QTRY_VERIFY_WITH_TIMEOUT(!loss->rawX(0).isEmpty() && loss->rawX(0).size() == 101, 10000);
        QVERIFY(page.refreshes() > before);
        QVERIFY(!loss->followsAll());
        QCOMPARE(loss->visibleX().lower, 5000.0);
        QCOMPARE(loss->visibleX().upper, 5100.0);
        QCOMPARE(page.chart(MonitorPage::GradNorm)->visibleX().lower, 5000.0);
        QCOMPARE(loss->rawX(0).front(), 5000.0);

        // Back to following on the long run: the next visit fits all its data again.
        loss->resetZoom();
        showAndWait(page, trained_.id);
        showAndWait(page, longRun_.id);
        QVERIFY(loss->followsAll());
    }

    // Smoothing is computed over the whole run: the smoothed loss at a step is the same on the
    // whole run, zoomed in and panned, and equals TensorBoard's debiased EMA over every stored
    // point up to that step (computed here from the metrics file).
    void smoothingDoesNotChangeWithZoom() {
        MonitorPage page(*wb_);
        page.resize(1280, 800);
        page.show();
        showAndWait(page, longRun_.id);
        MetricChart* loss = page.chart(MonitorPage::Loss);
        QVERIFY(loss->smoothing() > 0.5);
        const QMap<qint64, double> file =
            test::fileColumn(longRun_.dir + "/metrics.jsonl", "step", "loss");
        const QVector<double> all =
            emaSmooth(QVector<double>(file.begin(), file.end()), loss->smoothing());
        QVector<double> fileSteps;
        for (qint64 s : file.keys()) fileSteps << double(s);
        auto truth = [&](double step) {
            const qsizetype i =
                std::lower_bound(fileSteps.begin(), fileSteps.end(), step) - fileSteps.begin();
            return all[i];
        };
        auto drawn = [&] {
            loss->replotNow();
            QMap<double, double> out;
            const QVector<double> xs = loss->rawX(0), ys = loss->smoothedY(0);
            for (qsizetype i = 0; i < xs.size(); ++i) out[xs[i]] = ys[i];
            return out;
        };
        const QMap<double, double> whole = drawn();
        QVERIFY(whole.size() > 100);
        for (auto it = whole.begin(); it != whole.end(); ++it)
            QCOMPARE(it.value(), truth(it.key()));

        for (const auto& [lo, hi] : {std::pair{5000.0, 5100.0}, std::pair{12000.0, 12600.0}}) {
            const int before = page.refreshes();
            loss->zoomTo(lo, hi);
            QTRY_VERIFY_WITH_TIMEOUT(page.refreshes() > before, 5000);
            const QMap<double, double> zoomed = drawn();
            QVERIFY(zoomed.size() > 50);
            int common = 0;
            for (auto it = zoomed.begin(); it != zoomed.end(); ++it) {
                QCOMPARE(it.value(), truth(it.key()));
                if (whole.contains(it.key())) {
                    QCOMPARE(it.value(), whole.value(it.key()));
                    ++common;
                }
            }
            QVERIFY2(common > 0, "the zoomed view shares steps with the whole view");
        }
    }
};

QTEST_MAIN(TstMonitorPage)
#include "tst_monitor_page.moc"
