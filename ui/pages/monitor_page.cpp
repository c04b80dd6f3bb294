#include "ui/pages/monitor_page.h"

#include "launch/run_log_tail.h"
#include "store/run_eta.h"
#include "ui/widgets/log_tail.h"
#include "ui/widgets/metric_chart.h"
#include "ui/widgets/number_format.h"
#include "ui/workbench.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QFontDatabase>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QStandardItemModel>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

namespace bcd::ui {

using store::MetricColumn;

namespace {

constexpr int kRefreshMs = 33; // newData is coalesced to ~30 fetches a second at most
constexpr int kLogPollMs = 1000;
constexpr int kLogLines = 200;
constexpr int kCancelGraceMs = 30000;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

std::optional<qint64> stepsTotal(const store::RunRecord& run) {
    if (run.stepsTotal) return run.stepsTotal;
    const QJsonValue v =
        run.config.value(QLatin1String("train")).toObject().value(QLatin1String("steps"));
    if (v.isDouble()) return v.toInteger();
    return std::nullopt;
}

QString eventLine(const store::EventRecord& e) {
    const QString when =
        QDateTime::fromMSecsSinceEpoch(qint64(e.time * 1000)).toString(QStringLiteral("HH:mm:ss"));
    QString line = QStringLiteral("%1  %2").arg(when, e.kind);
    if (e.step) line += QStringLiteral(" @ step %1").arg(*e.step);
    if (e.kind == QLatin1String("switch"))
        line += QStringLiteral(": block %1 → %2")
                    .arg(e.data.value(QLatin1String("from")).toInt())
                    .arg(e.data.value(QLatin1String("to")).toInt());
    else if (e.source == QLatin1String("workbench") && !e.data.isEmpty())
        line += QStringLiteral("  ") +
                QString::fromUtf8(QJsonDocument(e.data).toJson(QJsonDocument::Compact));
    return line;
}

} // namespace

MonitorPage::MonitorPage(Workbench& wb, QWidget* parent) : QWidget(parent), wb_(wb) {
    auto* layout = new QVBoxLayout(this);

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Run:"), this));
    runPicker_ = new QComboBox(this);
    runPicker_->setObjectName(QStringLiteral("runPicker"));
    runPicker_->setMinimumContentsLength(40);
    top->addWidget(runPicker_, 1);
    status_ = new QLabel(this);
    status_->setObjectName(QStringLiteral("status"));
    top->addWidget(status_, 1);
    cancel_ = new QPushButton(tr("Cancel run…"), this);
    cancel_->setObjectName(QStringLiteral("cancel"));
    cancel_->setEnabled(false);
    top->addWidget(cancel_);
    layout->addLayout(top);

    auto* progressRow = new QHBoxLayout;
    progress_ = new QProgressBar(this);
    progress_->setObjectName(QStringLiteral("progress"));
    progress_->setRange(0, 1000);
    progress_->setTextVisible(false);
    progressLabel_ = new QLabel(this);
    progressLabel_->setObjectName(QStringLiteral("progressText"));
    progressRow->addWidget(progress_, 1);
    progressRow->addWidget(progressLabel_, 1);
    layout->addLayout(progressRow);

    auto* controls = new QHBoxLayout;
    const ChartControls chartControls = addChartControls(controls, this, 180);
    xAxis_ = chartControls.xAxis;
    smoothing_ = chartControls.smoothing;
    logLoss_ = new QCheckBox(tr("log loss"), this);
    logLoss_->setObjectName(QStringLiteral("logLoss"));
    logLoss_->setToolTip(tr("Loss on a logarithmic y axis"));
    controls->addWidget(logLoss_);
    controls->addStretch(1);
    auto* hint = new QLabel(tr("wheel: zoom · drag: pan · double-click: whole run"), this);
    hint->setStyleSheet(QStringLiteral("color: gray"));
    controls->addWidget(hint);
    layout->addLayout(controls);

    auto* splitter = new QSplitter(Qt::Vertical, this);
    auto* chartArea = new QWidget(splitter);
    auto* grid = new QGridLayout(chartArea);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setSpacing(4);
    charts_[Loss] = new MetricChart(tr("Loss"), chartArea);
    charts_[Throughput] = new MetricChart(tr("Tokens / s of step time"), chartArea);
    charts_[Throughput]->setToolTip(
        tr("Trained tokens per second of step time (forward, backward, optimizer, all-reduce); "
           "evaluation and checkpoints are not counted. Compare and the plan count alike."));
    charts_[Cost] = new MetricChart(tr("Cumulative cost ($)"), chartArea);
    charts_[Memory] = new MetricChart(tr("Memory (GiB)"), chartArea);
    charts_[LearningRate] = new MetricChart(tr("Learning rate"), chartArea);
    charts_[GradNorm] =
        new MetricChart(tr("Gradient norm (active block, before clipping)"), chartArea);
    charts_[System] = new MetricChart(tr("System"), chartArea);
    const char* names[] = {"lossChart", "throughputChart", "costChart",  "memoryChart",
                           "lrChart",   "gradNormChart",   "systemChart"};
    for (int i = 0; i < ChartCount; ++i) charts_[i]->setObjectName(QLatin1String(names[i]));
    grid->addWidget(charts_[Loss], 0, 0, 1, 3);
    grid->addWidget(charts_[Throughput], 1, 0);
    grid->addWidget(charts_[LearningRate], 1, 1);
    grid->addWidget(charts_[GradNorm], 1, 2);
    grid->addWidget(charts_[Cost], 2, 0);
    grid->addWidget(charts_[Memory], 2, 1);
    grid->addWidget(charts_[System], 2, 2);
    grid->setRowStretch(0, 3);
    grid->setRowStretch(1, 2);
    grid->setRowStretch(2, 2);
    // The loss chart's readout also names the block that trained and the learning rate.
    charts_[Loss]->setReadoutExtra([this](double step) { return blockAndLr(step); });
    // The cost chart's readout names the price in force there and, after a change, every segment.
    charts_[Cost]->setReadoutExtra([this](double step) -> QString {
        if (!curves_ || !curves_->map.has(XAxisKind::Time)) return {};
        const auto& prices = curves_->run.prices;
        QString text =
            tr("price %1")
                .arg(store::formatPrice(prices.priceAt(curves_->map.x(XAxisKind::Time, step))));
        if (prices.segments().size() > 1)
            text += QStringLiteral("\n") + store::describeSegments(prices).join('\n');
        return text;
    });
    log_ = new QPlainTextEdit(splitter);
    log_->setObjectName(QStringLiteral("logTail"));
    log_->setReadOnly(true);
    log_->setMaximumBlockCount(kLogLines);
    log_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    log_->setPlaceholderText(tr("train.log"));
    splitter->addWidget(chartArea);
    splitter->addWidget(log_);
    splitter->setStretchFactor(0, 5);
    splitter->setStretchFactor(1, 1);
    layout->addWidget(splitter, 1);

    refreshTimer_.setSingleShot(true);
    refreshTimer_.setInterval(kRefreshMs);
    connect(&refreshTimer_, &QTimer::timeout, this, &MonitorPage::refresh);
    logTimer_.setInterval(kLogPollMs);
    connect(&logTimer_, &QTimer::timeout, this, &MonitorPage::readLog);
    connect(&wb_.logTail(), &launch::RunLogTail::tailRead, this, &MonitorPage::showRemoteLog);

    connect(runPicker_, &QComboBox::activated, this, [this](int i) {
        const qint64 id = runPicker_->itemData(i).toLongLong();
        if (id != runId_) showRun(id);
    });
    connect(xAxis_, &QComboBox::currentIndexChanged, this,
            [this] { setXAxisKind(static_cast<XAxisKind>(xAxis_->currentData().toInt())); });
    connect(smoothing_, &QSlider::valueChanged, this, [this](int v) {
        for (auto* c : charts_) c->setSmoothing(v / 1000.0);
    });
    connect(cancel_, &QPushButton::clicked, this, &MonitorPage::cancelRun);
    connect(logLoss_, &QCheckBox::toggled, charts_[Loss], &MetricChart::setLogY);
    for (auto* c : charts_) {
        c->setSmoothing(smoothing_->value() / 1000.0);
        connect(c, &MetricChart::userXRangeChanged, this, [this, c](double lo, double hi) {
            for (auto* other : charts_)
                if (other != c) other->setXRange(lo, hi);
        });
        connect(c, &MetricChart::viewChanged, this, [this, c] { syncZoom(c); });
    }
    connect(&wb_, &Workbench::newData, this, [this](qint64 id) {
        if (id == runId_) requestRefresh();
    });
    connect(&wb_, &Workbench::runsChanged, this, [this] {
        reloadRunList();
        requestRefresh();
    });
    reloadRunList();
    log_->setPlainText(tr("Choose a run above, or open one from the Runs page."));
}

QString MonitorPage::blockAndLr(double step) const {
    if (!curves_) return {};
    // The nearest sample of each (the series are downsampled like the curves).
    auto at = [&](MetricColumn col) -> std::optional<double> {
        const StepSeries s = curves_->metric(col);
        if (s.steps.isEmpty()) return std::nullopt;
        const auto it = std::lower_bound(s.steps.begin(), s.steps.end(), step);
        qsizetype i = it - s.steps.begin();
        if (i == s.steps.size() || (i > 0 && step - s.steps[i - 1] < s.steps[i] - step)) --i;
        return s.values[i];
    };
    QStringList parts;
    if (const auto b = at(MetricColumn::Block)) parts << tr("block %1").arg(qint64(*b));
    if (const auto lr = at(MetricColumn::Lr)) parts << tr("lr %1").arg(formatLr(*lr));
    return parts.join(QStringLiteral(" · "));
}

MetricChart* MonitorPage::chart(Chart which) const {
    return charts_[which];
}

void MonitorPage::showRun(qint64 runId) {
    MetricChart* lead = charts_[Loss];
    if (runId_ > 0 && runId != runId_) {
        if (lead->followsAll())
            views_.remove(runId_);
        else
            views_.insert(
                runId_, RunView{lead->xAxisKind(), lead->visibleX().lower, lead->visibleX().upper});
    }
    runId_ = runId;
    curves_.reset();
    logSize_ = -1;
    log_->clear();
    const auto view = views_.constFind(runId);
    const bool restore = view != views_.constEnd() && view->kind == lead->xAxisKind();
    for (auto* c : charts_) {
        c->setCurves({});
        c->setMarkers({}, {});
        c->setNote({});
        if (restore)
            c->setXRange(view->lower, view->upper);
        else if (!c->followsAll())
            c->resetZoom();
    }
    const int i = runPicker_->findData(runId);
    if (i >= 0)
        runPicker_->setCurrentIndex(i);
    else
        reloadRunList();
    requestRefresh();
}

void MonitorPage::setXAxisKind(XAxisKind kind) {
    const int i = xAxis_->findData(int(kind));
    if (i >= 0 && i != xAxis_->currentIndex()) xAxis_->setCurrentIndex(i);
    for (auto* c : charts_) c->setXAxisKind(kind);
}

void MonitorPage::setSmoothing(double weight) {
    smoothing_->setValue(int(std::lround(weight * 1000)));
}

QString MonitorPage::progressText() const {
    return progressLabel_->text();
}
QString MonitorPage::statusText() const {
    return status_->text();
}
QString MonitorPage::logText() const {
    return log_->toPlainText();
}

void MonitorPage::reloadRunList() {
    wb_.store().call(
        [](store::RunStore& s) { return s.runs(); }, this,
        [this](const QVector<store::RunRecord>& runs) {
            const QSignalBlocker block(runPicker_);
            runPicker_->clear();
            for (auto it = runs.rbegin(); it != runs.rend(); ++it)
                runPicker_->addItem(
                    QStringLiteral("#%1  %2  (%3)").arg(it->id).arg(it->name, it->status), it->id);
            const int i = runPicker_->findData(runId_);
            runPicker_->setCurrentIndex(i);
            // Nothing shown yet: say what to do next.
            if (runId_ <= 0)
                status_->setText(runs.isEmpty()
                                     ? tr("No runs yet — start one in New run (Ctrl+2).")
                                     : tr("Choose a run above, or double-click one in Runs "
                                          "(Ctrl+1)."));
        });
}

void MonitorPage::syncZoom(MetricChart* from) {
    if (from->followsAll())
        for (auto* c : charts_)
            if (c != from && !c->followsAll()) c->resetZoom();
    requestRefresh();
}

void MonitorPage::requestRefresh() {
    if (runId_ > 0 && !refreshTimer_.isActive()) refreshTimer_.start();
}

void MonitorPage::refresh() {
    if (runId_ <= 0) return;
    if (fetching_) {
        refreshAgain_ = true;
        return;
    }
    fetching_ = true;
    CurveRequest req;
    const auto [from, to] = charts_[Loss]->visibleSteps(curves_ ? curves_->map : StepMap{});
    req.fromStep = from;
    req.toStep = to;
    req.buckets = charts_[Loss]->plotWidth();
    req.columns = {MetricColumn::Loss,    MetricColumn::ValLoss, MetricColumn::TokS,
                   MetricColumn::Mem,     MetricColumn::Lr,      MetricColumn::GradNorm,
                   MetricColumn::Block,   MetricColumn::CpuPct,  MetricColumn::Rss,
                   MetricColumn::GpuUtil, MetricColumn::GpuMem,  MetricColumn::GpuPower,
                   MetricColumn::GpuTemp};
    req.phases = true;
    req.whole = {MetricColumn::Loss, MetricColumn::TokS, MetricColumn::GradNorm}; // smoothed
    req.cache = wholeCache_;
    const qint64 id = runId_;
    const auto done = [this] {
        fetching_ = false;
        if (refreshAgain_) {
            refreshAgain_ = false;
            requestRefresh();
        }
    };
    wb_.store().call([id, req](store::RunStore& s) { return fetchRunCurves(s, id, req); }, this,
                     [this, id, done](const RunCurves& c) {
                         if (id == runId_) apply(c);
                         done();
                     },
                     [this, done](const QString& error) {
                         status_->setText(error);
                         done();
                     });
}

void MonitorPage::apply(const RunCurves& c) {
    curves_ = c;
    ++refreshes_;
    const store::RunRecord& run = c.run;

    // Charts.
    charts_[Loss]->setCurves({
        ChartCurve{tr("loss"), curveColor(0), c.metric(MetricColumn::Loss), c.map, true, false,
                   1.0},
        ChartCurve{tr("validation loss"), curveColor(1), c.metric(MetricColumn::ValLoss), c.map,
                   false, true, 1.0},
    });
    charts_[Loss]->setMarkers(c.switchSteps, c.map, c.switchBlocks);
    charts_[Throughput]->setCurves({ChartCurve{
        tr("tokens/s"), curveColor(2), c.metric(MetricColumn::TokS), c.map, true, false, 1.0}});
    charts_[LearningRate]->setCurves({ChartCurve{
        tr("lr"), curveColor(5), c.metric(MetricColumn::Lr), c.map, false, false, 1.0}});
    charts_[LearningRate]->setMarkers(c.switchSteps, c.map, c.switchBlocks);
    charts_[GradNorm]->setCurves(
        {ChartCurve{tr("gradient norm"), curveColor(6), c.metric(MetricColumn::GradNorm), c.map,
                    true, false, 1.0}});
    charts_[GradNorm]->setMarkers(c.switchSteps, c.map, c.switchBlocks);
    StepSeries cost;
    cost.steps = c.map.steps;
    const store::PriceSchedule& prices = run.prices;
    if (prices.hasPrice()) {
        for (double e : c.map.elapsed) cost.values << prices.costAt(e);
        // Cumulative cost starts at 0 (step 0, nothing spent) when the view starts there.
        if (!cost.steps.isEmpty() && cost.steps.front() > 0 && charts_[Cost]->followsAll()) {
            cost.steps.prepend(0);
            cost.values.prepend(0);
        }
        charts_[Cost]->setNote({});
        // Each change of the price after launch: a labelled marker where it took effect.
        QVector<qint64> changeSteps;
        QStringList changeLabels;
        for (const auto& seg : prices.segments().mid(1))
            if (seg.pricePerHour && c.map.has(XAxisKind::Time)) {
                changeSteps << qint64(std::llround(c.map.step(XAxisKind::Time, seg.fromElapsed)));
                changeLabels << tr("%1 from here").arg(store::formatPrice(seg.pricePerHour));
            }
        charts_[Cost]->setMarkers(changeSteps, c.map, {}, changeLabels);
        charts_[Cost]->setToolTip(tr("Price per hour over the run:\n") +
                                  store::describeSegments(prices).join('\n'));
    } else {
        charts_[Cost]->setMarkers({}, c.map);
        charts_[Cost]->setToolTip({});
        charts_[Cost]->setNote(
            tr("No price per hour for this run: set one in Nodes (it applies from then on, "
               "to this run too while it is active)"));
        cost.steps.clear();
    }
    // The cost axis needs a price: without one it cannot be chosen (and the step axis stands in
    // if it was).
    if (auto* model = qobject_cast<QStandardItemModel*>(xAxis_->model())) {
        const int costItem = xAxis_->findData(int(XAxisKind::Cost));
        if (QStandardItem* item = costItem >= 0 ? model->item(costItem) : nullptr) {
            item->setEnabled(prices.hasPrice());
            item->setToolTip(prices.hasPrice() ? QString()
                                               : tr("No price per hour: set one in Nodes"));
        }
        if (!prices.hasPrice() && xAxis_->currentData().toInt() == int(XAxisKind::Cost))
            xAxis_->setCurrentIndex(xAxis_->findData(int(XAxisKind::Step)));
    }
    charts_[Cost]->setCurves(
        {ChartCurve{tr("$ spent"), curveColor(3), cost, c.map, false, false, 1.0}});
    // GiB for real runs, MiB for small ones.
    const StepSeries mem = c.metric(MetricColumn::Mem);
    const double peak =
        mem.values.isEmpty() ? 0 : *std::max_element(mem.values.begin(), mem.values.end());
    const bool gib = peak >= kGiB;
    charts_[Memory]->setTitle(gib ? tr("Memory (GiB)") : tr("Memory (MiB)"));
    charts_[Memory]->setCurves({ChartCurve{tr("memory"), curveColor(4), mem, c.map, false, false,
                                           gib ? 1.0 / kGiB : 1.0 / (1024.0 * 1024.0)}});

    applySystem(c);

    // Status and progress; the phase in progress (evaluation, checkpoint) while the run runs.
    QString statusLine = formatStatus(run);
    if (!store::status::isTerminal(run.status))
        if (const QString phase = store::phaseInProgress(c.phases); !phase.isEmpty())
            statusLine += QStringLiteral(" · <b>%1</b>").arg(phase.toHtmlEscaped());
    // A data-parallel step's traffic: the bytes all-reduced in the last stored step.
    if (const auto comm = c.last ? c.last->value(MetricColumn::CommBytes) : std::nullopt;
        comm && *comm > 0)
        statusLine += tr(" · %1 all-reduced per step").arg(formatBytes(*comm).toHtmlEscaped());
    status_->setText(statusLine);
    cancel_->setEnabled(!store::status::isTerminal(run.status));
    std::optional<qint64> done = run.lastStep;
    std::optional<double> elapsed;
    if (c.last) {
        done = c.last->step;
        elapsed = c.last->value(MetricColumn::Elapsed);
    }
    std::optional<double> remaining;
    if (done && elapsed && c.last) {
        store::EtaInput in;
        in.done = *done;
        in.total = stepsTotal(run).value_or(0);
        in.elapsed = *elapsed;
        in.tokens = c.last->value(MetricColumn::Tokens).value_or(0);
        in.config = run.config;
        in.start = c.start;
        in.phases = c.phases;
        if (const auto eta = store::estimateRemaining(in)) remaining = eta->remaining_s;
    }
    progressLabel_->setText(formatProgress(run, done, elapsed, remaining));
    const auto total = stepsTotal(run);
    progress_->setValue(done && total && *total > 0
                            ? int(std::clamp<double>(1000.0 * *done / *total, 0, 1000))
                            : (run.status == store::status::kFinished ? 1000 : 0));

    // Log tail: the file of a local run, read here; another node's through its launcher session,
    // on the log tail's own thread (at most every kRemoteLogMs while the run goes on, once when
    // it has ended).
    const bool local = run.node == QLatin1String("local");
    if (local && !run.remoteDir.isEmpty()) {
        readLog(); // a stat when nothing changed
        if (!store::status::isTerminal(run.status))
            logTimer_.start();
        else
            logTimer_.stop();
    } else if (!local && !run.remoteDir.isEmpty()) {
        logTimer_.stop();
        const bool due =
            remoteLogRun_ != run.id || !remoteLogClock_.isValid() ||
            (!store::status::isTerminal(run.status) && remoteLogClock_.elapsed() >= kRemoteLogMs);
        if (due && !remoteLogPending_) {
            remoteLogRun_ = run.id;
            remoteLogPending_ = true;
            remoteLogClock_.start();
            const qint64 id = run.id;
            const QString node = run.node, dir = run.remoteDir;
            wb_.store().call([node](store::RunStore& s) { return s.node(node); }, this,
                             [this, id, dir](const std::optional<store::NodeRecord>& n) {
                                 if (n)
                                     wb_.logTail().request(id, *n, dir, kLogLines);
                                 else
                                     remoteLogPending_ = false;
                             },
                             [this](const QString&) { remoteLogPending_ = false; });
        }
    } else {
        logTimer_.stop();
        QStringList lines{tr("The run has no folder yet. Last events:")};
        for (const auto& e : c.recentEvents) lines << eventLine(e);
        log_->setPlainText(lines.join('\n'));
    }
}

void MonitorPage::showRemoteLog(qint64 runId, const QStringList& lines, bool exists,
                                const QString& error) {
    remoteLogPending_ = false;
    if (runId != runId_ || !curves_) return;
    if (!error.isEmpty()) {
        QStringList text{tr("train.log on %1 could not be read: %2. Last events:")
                             .arg(curves_->run.node, error)};
        for (const auto& e : curves_->recentEvents) text << eventLine(e);
        log_->setPlainText(text.join('\n'));
        return;
    }
    if (!exists) {
        log_->setPlainText(
            tr("No train.log in %1 on %2 yet.").arg(curves_->run.remoteDir, curves_->run.node));
        return;
    }
    log_->setPlainText(lines.join('\n'));
    log_->moveCursor(QTextCursor::End);
    log_->ensureCursorVisible();
}

// The System chart: the GPU's figures on a GPU run (any stored), else the process's CPU and RSS.
// One y axis: each curve names its unit; the readout shows exact values.
void MonitorPage::applySystem(const RunCurves& c) {
    MetricChart* chart = charts_[System];
    const StepSeries util = c.metric(MetricColumn::GpuUtil), gmem = c.metric(MetricColumn::GpuMem);
    const bool gpu = !util.isEmpty() || !gmem.isEmpty();
    QVector<ChartCurve> curves;
    if (gpu) {
        chart->setTitle(tr("System: GPU"));
        curves << ChartCurve{tr("utilisation (%)"), curveColor(0), util, c.map, false, false, 1.0}
               << ChartCurve{tr("memory used (GiB)"),
                             curveColor(1),
                             gmem,
                             c.map,
                             false,
                             false,
                             1.0 / kGiB}
               << ChartCurve{tr("power (W)"),
                             curveColor(2),
                             c.metric(MetricColumn::GpuPower),
                             c.map,
                             false,
                             false,
                             1.0}
               << ChartCurve{tr("temperature (°C)"),
                             curveColor(3),
                             c.metric(MetricColumn::GpuTemp),
                             c.map,
                             false,
                             false,
                             1.0};
    } else {
        const StepSeries rss = c.metric(MetricColumn::Rss);
        const double peak =
            rss.values.isEmpty() ? 0 : *std::max_element(rss.values.begin(), rss.values.end());
        const bool gib = peak >= kGiB;
        chart->setTitle(tr("System: CPU"));
        curves << ChartCurve{tr("CPU (% of one core)"),
                             curveColor(0),
                             c.metric(MetricColumn::CpuPct),
                             c.map,
                             false,
                             false,
                             1.0}
               << ChartCurve{gib ? tr("RSS (GiB)") : tr("RSS (MiB)"),
                             curveColor(1),
                             rss,
                             c.map,
                             false,
                             false,
                             gib ? 1.0 / kGiB : 1.0 / (1024.0 * 1024.0)};
    }
    bool any = false;
    for (const auto& curve : curves) any = any || !curve.data.isEmpty();
    chart->setNote(any || c.stepPoints == 0
                       ? QString()
                       : tr("No system figures: the run's engine predates them"));
    chart->setCurves(curves);
}

QString MonitorPage::formatStatus(const store::RunRecord& run) {
    QString statusLine =
        QStringLiteral("<b>%1</b> on %2").arg(run.status.toHtmlEscaped(), run.node.toHtmlEscaped());
    if (!run.jobId.isEmpty())
        statusLine += tr(" · Slurm job %1 %2%3")
                          .arg(run.jobId, run.jobState.toHtmlEscaped(),
                               run.jobReason.isEmpty() || run.jobReason == QLatin1String("None")
                                   ? QString()
                                   : QStringLiteral(" (%1)").arg(run.jobReason.toHtmlEscaped()));
    if (run.worldSize && *run.worldSize > 1)
        statusLine += run.hosts.size() > 1
                          ? tr(" · %1 ranks on %2 nodes").arg(*run.worldSize).arg(run.hosts.size())
                          : tr(" · %1 ranks").arg(*run.worldSize);
    if (const auto price = run.prices.current())
        statusLine +=
            run.prices.segments().size() > 1
                ? tr(" · %1 (since %2)")
                      .arg(store::formatPrice(price),
                           store::formatDuration(run.prices.segments().back().fromElapsed))
                : QStringLiteral(" · ") + store::formatPrice(price);
    if (!run.message.isEmpty()) statusLine += QStringLiteral(" · ") + run.message.toHtmlEscaped();
    return statusLine;
}

QString MonitorPage::formatProgress(const store::RunRecord& run, std::optional<qint64> done,
                                    std::optional<double> elapsed,
                                    std::optional<double> remaining) {
    const auto total = stepsTotal(run);
    QStringList parts;
    if (done && total && *total > 0) {
        parts << tr("step %1 / %2").arg(*done).arg(*total);
        parts << QStringLiteral("%1 %").arg(100.0 * *done / *total, 0, 'f', 1);
    } else if (done) {
        parts << tr("step %1").arg(*done);
    } else {
        parts << tr("no steps yet");
    }
    if (elapsed) parts << tr("%1 elapsed").arg(formatDuration(*elapsed));
    const bool running = !store::status::isTerminal(run.status);
    if (running && remaining && done && total && *total > *done)
        parts << tr("ETA %1").arg(formatDuration(*remaining));
    else if (running && done && *done > 0 && total && elapsed && *total > *done)
        parts << tr("ETA %1").arg(
            formatDuration(*elapsed / double(*done) * double(*total - *done)));
    else if (!running)
        parts << run.status;
    return parts.join(QStringLiteral(" · "));
}

void MonitorPage::readLog() {
    if (!curves_) return;
    const QString path = QDir(curves_->run.remoteDir).filePath(QStringLiteral("train.log"));
    const QFileInfo info(path);
    if (!info.exists()) {
        log_->setPlainText(tr("No train.log in %1 yet.").arg(curves_->run.remoteDir));
        return;
    }
    if (info.size() == logSize_) return;
    logSize_ = info.size();
    log_->setPlainText(readLogTail(path, kLogLines).join('\n'));
    log_->moveCursor(QTextCursor::End);
    log_->ensureCursorVisible();
}

void MonitorPage::cancelRun() {
    if (runId_ <= 0 || !curves_) return;
    const qint64 id = runId_;
    const auto answer = QMessageBox::question(this, tr("Cancel run"),
                                              tr("Cancel run #%1 “%2”?\n\nThe engine writes a "
                                                 "checkpoint and stops; it is killed if it is "
                                                 "still running after %3 s.")
                                                  .arg(id)
                                                  .arg(curves_->run.name)
                                                  .arg(kCancelGraceMs / 1000),
                                              QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
    if (answer != QMessageBox::Yes) return;
    wb_.runs().cancel(id, kCancelGraceMs);
    emit wb_.message(tr("Cancelling run #%1…").arg(id));
}

} // namespace bcd::ui
