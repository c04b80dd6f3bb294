#pragma once
// What the charts of the Monitor and Compare pages show, apart from any widget: a run's metric
// curves over steps, downsampled by the store to about one bucket per pixel, and the map from step
// to the other x axes (tokens, wall time, cost). fetchRunCurves() runs on the store's thread.
// Qt Core only, tested without a display; ui/widgets/series_model.h names it in bcd::ui.

#include "store/price_schedule.h"
#include "store/run_store.h"

#include <QMap>
#include <QPair>
#include <QString>
#include <QVector>
#include <memory>
#include <optional>

namespace bcd::store {

enum class XAxisKind { Step, Tokens, Time, Cost };
QString xAxisTitle(XAxisKind kind);

// Step → tokens and elapsed seconds of one run, from samples of its step points (both columns grow
// with the step); linear between samples and beyond the ends.
struct StepMap {
    QVector<double> steps, tokens, elapsed; // sorted by step
    PriceSchedule prices;                   // cost = prices.costAt(elapsed)

    bool isEmpty() const { return steps.isEmpty(); }
    // Whether this run has the axis (cost needs a price; tokens and time need step points).
    bool has(XAxisKind kind) const;
    // The x value of a step on an axis; NaN when the run does not have the axis.
    double x(XAxisKind kind, double step) const;
    // The step at an x value (the inverse of x()).
    double step(XAxisKind kind, double x) const;
};

// One metric over steps. weights[i]: how many stored points sample i stands for (1 when raw).
struct StepSeries {
    QVector<double> steps, values, weights;
    // The whole run's values of this metric, at every stored step (CurveRequest::whole): the
    // smoothed line is computed over them, so that zoom and pan never change a smoothed value.
    // Empty when not asked for: the chart then smooths the samples above.
    QVector<double> wholeSteps, wholeValues;
    bool downsampled = false;
    bool isEmpty() const { return steps.isEmpty(); }
};

// Each bucket's minimum and maximum at their steps, in step order (one sample when they coincide):
// spikes survive, and the line stays within the true envelope.
StepSeries seriesFromBuckets(const QVector<SeriesBucket>& buckets);
// The step map from buckets of the tokens and elapsed columns over the same range.
StepMap stepMapFromBuckets(const QVector<SeriesBucket>& tokens,
                           const QVector<SeriesBucket>& elapsed);

// The whole-run values of smoothed metrics, kept between fetches so that the refresh of a live
// run reads only its new points. Lives on the store's thread: only fetchRunCurves touches it (the
// page holds the pointer and hands it to each request).
class WholeSeriesCache {
public:
    ColumnValues get(RunStore& store, const RunRecord& run, MetricColumn column);

private:
    struct Entry {
        ColumnValues values;
        qint64 offset = 0; // the run's metrics offset when last read
    };
    QMap<QPair<qint64, int>, Entry> entries_;
};

struct CurveRequest {
    qint64 fromStep = 0;
    qint64 toStep = RunStore::kLastStep;
    int buckets = 1000; // about the plot's width in pixels
    QVector<MetricColumn> columns;
    bool switches = true; // block-switch steps from the engine's events
    bool stepMap = true;  // tokens and elapsed for the other x axes (not needed on the step axis)
    bool phases = false;  // the run's phases and the engine's start record (Monitor's ETA)
    // Columns that also get their whole run's values (StepSeries::wholeSteps), read through the
    // cache when one is given.
    QVector<MetricColumn> whole;
    std::shared_ptr<WholeSeriesCache> cache;
};

struct RunCurves {
    RunRecord run;
    StepMap map;
    QMap<int, StepSeries> metrics; // by MetricColumn
    QVector<qint64> switchSteps;
    QVector<int> switchBlocks; // the block each switch went to (its first, for a set); -1 unknown
    qint64 stepPoints = 0;     // stored step points in the requested range
    std::optional<MetricPoint> last;   // the run's last step point (progress, ETA)
    QVector<EventRecord> recentEvents; // the last events (when switches were asked for)
    QVector<PhaseRecord> phases;       // evaluations, checkpoints (when asked for)
    QJsonObject start;                 // the engine's start record (with the phases)
    StepSeries metric(MetricColumn c) const { return metrics.value(static_cast<int>(c)); }
};

// Reads a run's curves for the request; throws StoreError for an unknown run.
RunCurves fetchRunCurves(RunStore& store, qint64 runId, const CurveRequest& request);

// "812 KiB", "35.2 MiB", "12.40 GiB".
QString formatBytes(double bytes);
// "1h 02m", "3m 20s", "45s".
QString formatDuration(double seconds);

} // namespace bcd::store
