#pragma once
// Compare: any set of runs side by side (DESIGN.md §4). Overlaid curves of one metric with the
// Monitor's axis and smoothing choices, a summary table (final and best validation loss, tokens,
// tokens/s, dollars, dollars per million tokens, peak memory), the config diff with "differences
// only", and export of the chart (PNG, PDF) and of the data (CSV).

#include "store/compare.h"
#include "ui/widgets/series_model.h"

#include <QTimer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QSlider;
class QTableWidget;

namespace bcd::ui {

class MetricChart;
class Workbench;

// The summary table's row of one run and its query (app/store/compare.h).
using store::compareRun;
using store::RunComparison;

// "a-very-long-run-name" in at most maxChars characters, the middle replaced by "…".
QString elideMiddle(const QString& text, int maxChars);
// The Compare page's filter: every word of `filter` is in the run's name, one of its tags or its
// status (case-insensitive), or is its "#id".
bool runMatchesFilter(const store::RunRecord& run, const QString& filter);

class ComparePage : public QWidget {
    Q_OBJECT
public:
    explicit ComparePage(Workbench& wb, QWidget* parent = nullptr);
    // Checks exactly these runs in the list (the others are unchecked).
    void setRuns(const QList<qint64>& runIds);
    QList<qint64> runs() const { return selected_; }

    void setMetric(store::MetricColumn column);
    void setXAxisKind(XAxisKind kind);
    void setSmoothing(double weight);
    void setDifferencesOnly(bool on);

    MetricChart* chart() const { return chart_; }
    QTableWidget* summaryTable() const { return summary_; }
    QTableWidget* configTable() const { return config_; }
    // Fetches applied (tests wait on them).
    int curveRefreshes() const { return curveRefreshes_; }
    int tableRefreshes() const { return tableRefreshes_; }

    // The chart as drawn now. False when the file could not be written.
    bool exportPng(const QString& file);
    bool exportPdf(const QString& file);
    // Every stored point of the compared runs (a run_id and run column ahead of the store's CSV
    // columns), written on the store's thread; csvExported follows.
    void exportCsv(const QString& file);

signals:
    void csvExported(const QString& file, const QString& error); // error empty: written

private:
    void reloadRunList();
    void applyFilter();
    void selectionChanged();
    void requestCurves();
    void fetchCurves();
    void fetchTables();
    void applyCurves(const QVector<RunCurves>& curves);
    void applyTables(const QVector<RunComparison>& rows);
    void fillConfigTable();
    void chooseExport(const QString& kind);

    Workbench& wb_;
    QList<qint64> selected_;
    QList<qint64> wanted_; // from setRuns, applied once the list has loaded
    bool listLoaded_ = false;
    QVector<RunCurves> curves_;
    QVector<RunComparison> rows_;
    bool fetching_ = false;
    // Whole-run values of the smoothed metrics, used on the store thread only.
    std::shared_ptr<WholeSeriesCache> wholeCache_ = std::make_shared<WholeSeriesCache>();
    bool fetchAgain_ = false;
    int curveRefreshes_ = 0;
    int tableRefreshes_ = 0;
    QTimer curveTimer_;
    QTimer tableTimer_;

    static constexpr int kMatchRole = Qt::UserRole + 1; // the RunRecord, for the filter
    bool noRuns_ = false;
    QLineEdit* filter_;
    QListWidget* runList_;
    QComboBox* metric_;
    QComboBox* xAxis_;
    QSlider* smoothing_;
    MetricChart* chart_;
    QTableWidget* summary_;
    QCheckBox* differencesOnly_;
    QTableWidget* config_;
};

} // namespace bcd::ui
