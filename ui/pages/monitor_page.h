#pragma once
// Monitor: one run, live (DESIGN.md §4). Loss (raw and smoothed, linear or log y) with validation
// loss and block-switch markers, tokens/s (of step time), learning rate, gradient norm, cumulative
// cost, memory, system figures (CPU % and RSS, or GPU utilisation, memory, power, temperature);
// a hover readout (step, values, block and lr at the mouse); x axis step / tokens / wall time /
// cost, each run with its own x range (a zoom is remembered per run for the session: back on a run,
// its view comes back; a run never shown, or shown on another x axis, fits all its data); progress
// and ETA (evaluations and checkpoints included: store/run_eta.h); status with the
// phase in progress ("evaluating 3/12"); the tail of train.log; cancel. Data comes from the store,
// pulled at most ~30 times a second after Workbench::newData for the shown run.

#include "ui/widgets/series_model.h"

#include <QElapsedTimer>
#include <QHash>
#include <QTimer>
#include <QWidget>
#include <memory>
#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSlider;

namespace bcd::ui {

class MetricChart;
class Workbench;

class MonitorPage : public QWidget {
    Q_OBJECT
public:
    explicit MonitorPage(Workbench& wb, QWidget* parent = nullptr);
    void showRun(qint64 runId);
    qint64 runId() const { return runId_; }

    enum Chart { Loss, Throughput, Cost, Memory, LearningRate, GradNorm, System, ChartCount };
    MetricChart* chart(Chart which) const;
    void setXAxisKind(XAxisKind kind);
    void setSmoothing(double weight);
    // The progress line ("step 120 / 200 · 60 % · 0m 12s elapsed · ETA 8s") and the status line.
    QString progressText() const;
    QString statusText() const;
    QString logText() const;
    // How many fetches from the store have been applied (tests wait on it).
    int refreshes() const { return refreshes_; }

    // "step D / T · P % · E elapsed · ETA R"; the ETA only while the run is running.
    // "<b>running</b> on NODE · 4 ranks on 2 nodes · $2.50/h · message" (rich text).
    static QString formatStatus(const store::RunRecord& run);
    // `remaining`: the ETA's seconds (store::estimateRemaining); without it, the steps left at
    // the mean pace so far.
    static QString formatProgress(const store::RunRecord& run, std::optional<qint64> done,
                                  std::optional<double> elapsed,
                                  std::optional<double> remaining = std::nullopt);

private:
    void reloadRunList();
    void requestRefresh();
    void refresh();
    void apply(const RunCurves& c);
    void applySystem(const RunCurves& c);
    void readLog();
    void showRemoteLog(qint64 runId, const QStringList& lines, bool exists, const QString& error);
    void cancelRun();
    void syncZoom(MetricChart* from);
    // The x range the user left the shown run at (nothing while the charts follow all the data).
    struct RunView {
        XAxisKind kind = XAxisKind::Step;
        double lower = 0, upper = 0;
    };
    QString blockAndLr(double step) const; // for the loss chart's readout

    Workbench& wb_;
    qint64 runId_ = 0;
    QHash<qint64, RunView> views_;
    std::optional<RunCurves> curves_;
    // Whole-run values of the smoothed metrics, used on the store thread only.
    std::shared_ptr<WholeSeriesCache> wholeCache_ = std::make_shared<WholeSeriesCache>();
    bool fetching_ = false;
    bool refreshAgain_ = false;
    int refreshes_ = 0;
    QTimer refreshTimer_;
    QTimer logTimer_;
    qint64 logSize_ = -1;
    // Another node's train.log, read through the launcher (Workbench::logTail).
    static constexpr int kRemoteLogMs = 5000;
    qint64 remoteLogRun_ = 0;
    bool remoteLogPending_ = false;
    QElapsedTimer remoteLogClock_;

    QComboBox* runPicker_;
    QCheckBox* logLoss_;
    QLabel* status_;
    QPushButton* cancel_;
    QProgressBar* progress_;
    QLabel* progressLabel_;
    QComboBox* xAxis_;
    QSlider* smoothing_;
    MetricChart* charts_[ChartCount];
    QPlainTextEdit* log_;
};

} // namespace bcd::ui
