#include "store/run_curves.h"

#include <QObject>
#include <algorithm>
#include <cmath>
#include <limits>

namespace bcd::store {

QString xAxisTitle(XAxisKind kind) {
    switch (kind) {
    case XAxisKind::Step:
        return QObject::tr("step");
    case XAxisKind::Tokens:
        return QObject::tr("tokens");
    case XAxisKind::Time:
        return QObject::tr("wall time (h:m:s)");
    case XAxisKind::Cost:
        return QObject::tr("cost ($)");
    }
    return {};
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Linear interpolation of ys over xs (sorted, ascending) at x; extrapolates from the end segments.
double interpolate(const QVector<double>& xs, const QVector<double>& ys, double x) {
    const qsizetype n = xs.size();
    if (n == 0) return kNaN;
    if (n == 1) return xs[0] != 0 ? ys[0] * x / xs[0] : ys[0];
    qsizetype hi = std::upper_bound(xs.begin(), xs.end(), x) - xs.begin();
    hi = std::clamp<qsizetype>(hi, 1, n - 1);
    const qsizetype lo = hi - 1;
    const double dx = xs[hi] - xs[lo];
    if (dx == 0) return ys[hi];
    return ys[lo] + (ys[hi] - ys[lo]) * (x - xs[lo]) / dx;
}

} // namespace

bool StepMap::has(XAxisKind kind) const {
    switch (kind) {
    case XAxisKind::Step:
        return true;
    case XAxisKind::Tokens:
        return !tokens.isEmpty();
    case XAxisKind::Time:
        return !elapsed.isEmpty();
    case XAxisKind::Cost:
        return !elapsed.isEmpty() && prices.hasPrice();
    }
    return false;
}

double StepMap::x(XAxisKind kind, double s) const {
    if (!has(kind)) return kNaN;
    switch (kind) {
    case XAxisKind::Step:
        return s;
    case XAxisKind::Tokens:
        return interpolate(steps, tokens, s);
    case XAxisKind::Time:
        return interpolate(steps, elapsed, s);
    case XAxisKind::Cost:
        return prices.costAt(interpolate(steps, elapsed, s));
    }
    return kNaN;
}

double StepMap::step(XAxisKind kind, double xv) const {
    if (!has(kind)) return kNaN;
    switch (kind) {
    case XAxisKind::Step:
        return xv;
    case XAxisKind::Tokens:
        return interpolate(tokens, steps, xv);
    case XAxisKind::Time:
        return interpolate(elapsed, steps, xv);
    case XAxisKind::Cost: {
        const double e = prices.elapsedAtCost(xv);
        return std::isnan(e) ? kNaN : interpolate(elapsed, steps, e);
    }
    }
    return kNaN;
}

StepSeries seriesFromBuckets(const QVector<SeriesBucket>& buckets) {
    StepSeries s;
    s.steps.reserve(buckets.size() * 2);
    s.values.reserve(buckets.size() * 2);
    s.weights.reserve(buckets.size() * 2);
    for (const auto& b : buckets) {
        if (!b.hasValue) continue;
        if (b.count > 1) s.downsampled = true;
        if (b.minStep == b.maxStep) {
            s.steps << double(b.minStep);
            s.values << b.min;
            s.weights << double(b.count);
            continue;
        }
        const bool minFirst = b.minStep < b.maxStep;
        const double half = std::max(1.0, b.count / 2.0);
        s.steps << double(minFirst ? b.minStep : b.maxStep)
                << double(minFirst ? b.maxStep : b.minStep);
        s.values << (minFirst ? b.min : b.max) << (minFirst ? b.max : b.min);
        s.weights << half << half;
    }
    return s;
}

StepMap stepMapFromBuckets(const QVector<SeriesBucket>& tokens,
                           const QVector<SeriesBucket>& elapsed) {
    // Both columns grow with the step, so a bucket's minimum sits at its first step with a value
    // and its maximum at its last: exact samples of the map. Steps come from the tokens buckets; an
    // elapsed bucket of the same steps (the buckets of one range line up) gives the time.
    StepMap m;
    QMap<qint64, double> tok, el;
    for (const auto& b : tokens)
        if (b.hasValue) tok[b.minStep] = b.min, tok[b.maxStep] = b.max;
    for (const auto& b : elapsed)
        if (b.hasValue) el[b.minStep] = b.min, el[b.maxStep] = b.max;
    const QMap<qint64, double>& keys = tok.isEmpty() ? el : tok;
    for (auto it = keys.begin(); it != keys.end(); ++it) m.steps << double(it.key());
    if (!tok.isEmpty()) m.tokens = QVector<double>(tok.begin(), tok.end());
    if (!el.isEmpty()) {
        if (el.size() == keys.size() && el.firstKey() == keys.firstKey()) {
            m.elapsed = QVector<double>(el.begin(), el.end());
        } else {
            QVector<double> es, ev;
            for (auto it = el.begin(); it != el.end(); ++it)
                es << double(it.key()), ev << it.value();
            for (double s : m.steps) m.elapsed << interpolate(es, ev, s);
        }
    }
    return m;
}

ColumnValues WholeSeriesCache::get(RunStore& s, const RunRecord& run, MetricColumn column) {
    Entry& e = entries_[qMakePair(run.id, static_cast<int>(column))];
    // Stored points are only ever added or replaced by ingestion; a file read again from its
    // start (replaced or truncated: the run's offset goes back) may replace any of them, so the
    // cache starts over then. Otherwise only the points after the last one read are new.
    if (run.metricsOffset < e.offset) e = Entry{};
    const qint64 last = e.values.steps.isEmpty() ? -1 : qint64(e.values.steps.back());
    const ColumnValues fresh = s.column(run.id, column, last);
    e.values.steps += fresh.steps;
    e.values.values += fresh.values;
    e.offset = run.metricsOffset;
    return e.values;
}

RunCurves fetchRunCurves(RunStore& s, qint64 runId, const CurveRequest& r) {
    RunCurves c;
    const auto run = s.run(runId);
    if (!run) throw StoreError("no run " + std::to_string(runId));
    c.run = *run;
    const int buckets = std::max(1, r.buckets);
    if (r.stepMap) {
        const auto tokens = s.series(runId, MetricColumn::Tokens, r.fromStep, r.toStep, buckets);
        for (const auto& b : tokens) c.stepPoints += b.count;
        c.map = stepMapFromBuckets(
            tokens, s.series(runId, MetricColumn::Elapsed, r.fromStep, r.toStep, buckets));
    }
    c.map.prices = run->prices;
    for (MetricColumn col : r.columns) {
        const auto found = s.series(runId, col, r.fromStep, r.toStep, buckets);
        if (!r.stepMap && col != MetricColumn::ValLoss)
            for (const auto& b : found) c.stepPoints += b.count;
        StepSeries series = seriesFromBuckets(found);
        if (r.whole.contains(col)) {
            const ColumnValues all = r.cache ? r.cache->get(s, c.run, col) : s.column(runId, col);
            series.wholeSteps = all.steps;
            series.wholeValues = all.values;
        }
        c.metrics.insert(static_cast<int>(col), series);
    }
    if (run->lastStep) {
        const auto tail = s.points(runId, PointType::Step, *run->lastStep);
        if (!tail.isEmpty()) c.last = tail.back();
    }
    if (r.switches) {
        const auto events = s.events(runId);
        for (const auto& e : events)
            if (e.source == QLatin1String("engine") && e.kind == QLatin1String("switch") &&
                e.step) {
                c.switchSteps << *e.step;
                c.switchBlocks << e.data.value(QLatin1String("to")).toInt(-1);
            }
        constexpr qsizetype kRecent = 30;
        c.recentEvents = events.mid(std::max<qsizetype>(0, events.size() - kRecent));
    }
    if (r.phases) {
        c.phases = s.phases(runId);
        c.start = s.startRecord(runId);
    }
    return c;
}

QString formatBytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (std::abs(bytes) >= 1024 && u < 4) bytes /= 1024, ++u;
    return QStringLiteral("%1 %2")
        .arg(bytes, 0, 'f', u >= 3 ? 2 : (u == 0 ? 0 : 1))
        .arg(QLatin1String(units[u]));
}

QString formatDuration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("—");
    const qint64 t = qint64(std::llround(seconds));
    const qint64 h = t / 3600, m = (t % 3600) / 60, sec = t % 60;
    if (h > 0) return QStringLiteral("%1h %2m").arg(h).arg(m, 2, 10, QLatin1Char('0'));
    if (m > 0) return QStringLiteral("%1m %2s").arg(m).arg(sec, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1s").arg(sec);
}

} // namespace bcd::store
