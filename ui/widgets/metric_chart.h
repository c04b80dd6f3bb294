#pragma once
// MetricChart: one QCustomPlot with curves of one metric — raw and EMA-smoothed — over a choice of
// x axis (step, tokens, wall time, cost), block-switch markers, a legend, horizontal zoom and pan.
// Curves come in already downsampled (series_model.h); the chart only maps steps to x, smooths and
// draws, at most ~30 times a second (rebuilds are coalesced, replots are queued).
//
// Zoom: while the user has not zoomed, the chart follows all the data. After a wheel zoom or a drag
// it keeps the user's x range and emits viewChanged() (debounced) so that the page can fetch the
// visible range at full resolution; a double click goes back to following.

#include "ui/widgets/series_model.h"

#include <QColor>
#include <QElapsedTimer>
#include <QTimer>
#include <QWidget>
#include <functional>

class QComboBox;
class QHBoxLayout;
class QSlider;
class QCustomPlot;
class QCPGraph;
class QCPItemStraightLine;
class QCPItemText;
class QMouseEvent;
class QCPTextElement;
struct QCPRange;

namespace bcd::ui {

struct ChartCurve {
    QString name;
    QColor color;
    StepSeries data;
    StepMap map;        // the run's step → tokens / time / cost
    bool smooth = true; // with a smoothed line when the smoothing is above 0
    bool dots = false;  // each sample marked (sparse series: validation loss)
    double scale = 1.0; // values are multiplied by it (bytes → GiB)
};

class MetricChart : public QWidget {
    Q_OBJECT
public:
    explicit MetricChart(const QString& title, QWidget* parent = nullptr);

    void setTitle(const QString& title);
    void setCurves(QVector<ChartCurve> curves);
    // Vertical lines at these steps, placed with the map (the shown run's).
    // Block `blocks[i]` (when given) colours marker i as in the New run block strip and labels it
    // ("→ 3") where the markers in view are few enough to read. A non-empty `labels[i]` labels
    // marker i with that text, always (price changes: "$2.10/h from here").
    void setMarkers(const QVector<qint64>& steps, const StepMap& map,
                    const QVector<int>& blocks = {}, const QStringList& labels = {});
    void setXAxisKind(XAxisKind kind);
    XAxisKind xAxisKind() const { return kind_; }
    void setSmoothing(double weight); // 0 .. 0.999
    double smoothing() const { return smoothing_; }
    // Logarithmic y axis (values <= 0 are not drawn there).
    void setLogY(bool on);
    bool logY() const { return logY_; }
    // The hover readout: a crosshair at the mouse and, for that x, the step, each curve's value
    // (and smoothed value) at its nearest sample, and `extra(step)` (e.g. the block and lr).
    void setReadoutExtra(std::function<QString(double step)> extra);
    QString readoutAt(double x) const;
    bool readoutVisible() const;
    // A line of text in the plot (e.g. why a run is not drawn); empty hides it.
    void setNote(const QString& text);
    QString note() const;

    // Whether the chart follows all the data (the user has not zoomed).
    bool followsAll() const { return follow_; }
    // The x range shown, and the steps of a run it covers (the whole run while following).
    QCPRange visibleX() const;
    std::pair<qint64, qint64> visibleSteps(const StepMap& map) const;
    // Sets the x range as the user would (stops following), or goes back to following.
    void zoomTo(double lower, double upper);
    void resetZoom();
    // Pixels across the plot: the number of buckets worth fetching.
    int plotWidth() const;

    // Draws now, synchronously (benchmarks, screenshots, tests).
    void replotNow();
    QCustomPlot* plot() const { return plot_; }

    // What is drawn, for tests: x and y of curve i's raw and smoothed lines, the markers' x.
    QVector<double> rawX(int curve) const;
    QVector<double> rawY(int curve) const;
    QVector<double> smoothedY(int curve) const;
    QVector<double> markerX() const;
    QStringList markerLabels() const; // the labels drawn, in x order
    int curveCount() const { return curves_.size(); }
    // The corner of the plot the legend sits in (where it covers the fewest points).
    Qt::Alignment legendCorner() const { return legendCorner_; }
    int replotCount() const { return replots_; }

signals:
    // The user zoomed or panned (or went back to following); fetch again for the visible range.
    void viewChanged();
    // The user moved the x range: other charts of the page follow it.
    void userXRangeChanged(double lower, double upper);

public slots:
    void setXRange(double lower, double upper); // as another chart's user did: no signal back

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void scheduleRebuild();
    void rebuild();
    void fitRanges();
    void placeLegend();
    void onRangeChanged(const QCPRange& range);
    void showReadout(QMouseEvent* event);
    void hideReadout();

    QCustomPlot* plot_;
    QCPItemText* noteItem_ = nullptr;
    QCPItemStraightLine* cursor_ = nullptr;
    QCPItemText* readout_ = nullptr;
    std::function<QString(double)> readoutExtra_;
    bool logY_ = false;
    Qt::Alignment legendCorner_ = Qt::AlignTop | Qt::AlignRight;
    QCPTextElement* title_ = nullptr;
    QVector<ChartCurve> curves_;
    struct Drawn {
        QCPGraph* raw = nullptr;
        QCPGraph* smoothed = nullptr;
    };
    QVector<Drawn> drawn_;
    QVector<qint64> markerSteps_;
    StepMap markerMap_;
    QVector<double> markerX_;
    QVector<int> markerBlocks_;
    QStringList markerTexts_;
    QStringList markerLabels_;
    QString userNote_;
    XAxisKind kind_ = XAxisKind::Step;
    double smoothing_ = 0.6;
    bool follow_ = true;
    bool settingRange_ = false;
    int replots_ = 0;
    QTimer rebuildTimer_;
    QTimer viewTimer_;
    QElapsedTimer sinceRebuild_;
};

// Ten distinguishable curve colours (Tableau 10).
QColor curveColor(int i);

// The x-axis choice and smoothing slider that Monitor and Compare both show, appended to `row`
// ("X axis: [Step|Tokens|Wall time|Cost]  Smoothing: [slider] 0.600"); the number follows the
// slider (0..999 = weight 0..0.999).
struct ChartControls {
    QComboBox* xAxis = nullptr;
    QSlider* smoothing = nullptr;
};
ChartControls addChartControls(QHBoxLayout* row, QWidget* parent, int sliderWidth);

} // namespace bcd::ui
