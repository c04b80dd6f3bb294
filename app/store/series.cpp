// RunStore's queries of metric points: all points, and downsampled series served from the levels
// of detail (metric_lod), exact at every bucket edge.

#include "store/run_store.h"
#include "store/run_store_impl.h"
#include "store/schema.h"

#include <string>

namespace bcd::store {

namespace {

struct Bucket {
    qint64 count = 0, first = 0, last = 0;
    bool has = false;
    double min = 0, max = 0;
    qint64 minStep = 0, maxStep = 0;

    void span(qint64 n, qint64 f, qint64 l) {
        if (count == 0) first = f;
        last = l;
        count += n;
    }
    void extremes(double mn, qint64 mnStep, double mx, qint64 mxStep) {
        if (!has || mn < min) min = mn, minStep = mnStep;
        if (!has || mx > max) max = mx, maxStep = mxStep;
        has = true;
    }
};

qint64 ceilDiv(qint64 a, qint64 b) {
    return (a + b - 1) / b;
}

} // namespace

QVector<MetricPoint> RunStore::points(qint64 runId, PointType type, qint64 fromStep,
                                      qint64 toStep) {
    d_->checkThread();
    std::string sql = "SELECT step";
    for (int c = 0; c < kMetricColumns; ++c)
        sql += std::string(", ") + columnName(static_cast<MetricColumn>(c));
    sql += " FROM metric_points WHERE run_id = ?1 AND type = ?2 AND step BETWEEN ?3 AND ?4 ORDER "
           "BY step";
    SqliteStatement q(d_->handle, sql.c_str());
    q.bind(1, runId);
    q.bind(2, static_cast<qint64>(type));
    q.bind(3, fromStep);
    q.bind(4, toStep);
    QVector<MetricPoint> out;
    while (q.next()) {
        MetricPoint p;
        p.type = type;
        p.step = q.int64(0);
        for (int c = 0; c < kMetricColumns; ++c)
            p.values[static_cast<std::size_t>(c)] = q.optReal(1 + c);
        out.push_back(p);
    }
    return out;
}

qint64 RunStore::pointCount(qint64 runId, PointType type) {
    d_->checkThread();
    SqliteStatement q(d_->handle,
                      "SELECT COUNT(*) FROM metric_points WHERE run_id = ?1 AND type = ?2");
    q.bind(1, runId);
    q.bind(2, static_cast<qint64>(type));
    return q.next() ? q.int64(0) : 0;
}

ColumnValues RunStore::column(qint64 runId, MetricColumn column, qint64 afterStep, qint64 toStep) {
    d_->checkThread();
    const qint64 type =
        static_cast<qint64>(column == MetricColumn::ValLoss ? PointType::Eval : PointType::Step);
    const std::string sql = "SELECT step, " + std::string(columnName(column)) +
                            " FROM metric_points WHERE run_id = ?1 AND type = ?2 AND step > ?3 "
                            "AND step <= ?4 AND " +
                            columnName(column) + " IS NOT NULL ORDER BY step";
    SqliteStatement q(d_->handle, sql.c_str());
    q.bind(1, runId);
    q.bind(2, type);
    q.bind(3, afterStep);
    q.bind(4, toStep);
    ColumnValues out;
    while (q.next()) {
        out.steps.push_back(double(q.int64(0)));
        out.values.push_back(q.real(1));
    }
    return out;
}

QVector<SeriesBucket> RunStore::series(qint64 runId, MetricColumn column, qint64 fromStep,
                                       qint64 toStep, int maxBuckets) {
    d_->checkThread();
    const int col = static_cast<int>(column);
    const qint64 type =
        static_cast<qint64>(column == MetricColumn::ValLoss ? PointType::Eval : PointType::Step);
    const std::string name = columnName(column);

    // The steps that exist in the range. Two subqueries: SQLite answers a lone MIN or MAX with
    // one seek in the primary key, but MIN and MAX together with a scan of the whole range.
    SqliteStatement& range =
        d_->stmt(d_->stepRange, "SELECT (SELECT MIN(step) FROM metric_points WHERE run_id = ?1 AND "
                                "type = ?2 AND step BETWEEN ?3 AND ?4), "
                                "(SELECT MAX(step) FROM metric_points WHERE run_id = ?1 AND type = "
                                "?2 AND step BETWEEN ?3 AND ?4)");
    range.bind(1, runId);
    range.bind(2, type);
    range.bind(3, fromStep);
    range.bind(4, toStep);
    const bool any = range.next() && !range.isNull(0);
    const qint64 lo = any ? range.int64(0) : 0, hi = any ? range.int64(1) : 0;
    range.reset();
    if (!any) return {};

    // Bucket width: at least span / maxBuckets, a multiple of the coarsest level that fits in it,
    // aligned to step 0 so that every level-of-detail bucket falls inside one output bucket.
    const qint64 buckets = std::max(1, maxBuckets);
    const qint64 span = hi - lo + 1;
    const qint64 want = ceilDiv(span, buckets);
    int level = 0;
    qint64 size = 1;
    while (level < schema::kLodLevels && size * schema::kLodFactor <= want) {
        ++level;
        size *= schema::kLodFactor;
    }
    qint64 width = ceilDiv(want, size) * size;
    while (hi / width - lo / width + 1 > buckets) width += size;
    const qint64 first = lo / width;
    std::vector<Bucket> out(static_cast<std::size_t>(hi / width - first + 1));

    const auto scanRaw = [&](qint64 a, qint64 b) {
        if (a > b) return;
        auto it = d_->rawColumn.find(col);
        if (it == d_->rawColumn.end()) {
            const std::string sql = "SELECT step, " + name +
                                    " FROM metric_points WHERE run_id = ?1 AND "
                                    "type = ?2 AND step BETWEEN ?3 AND ?4 ORDER BY step";
            it = d_->rawColumn.emplace(col, SqliteStatement(d_->handle, sql.c_str())).first;
        }
        SqliteStatement& q = it->second;
        q.bind(1, runId);
        q.bind(2, type);
        q.bind(3, a);
        q.bind(4, b);
        while (q.next()) {
            const qint64 step = q.int64(0);
            Bucket& bk = out[static_cast<std::size_t>(step / width - first)];
            bk.span(1, step, step);
            if (!q.isNull(1)) {
                const double v = q.real(1);
                bk.extremes(v, step, v, step);
            }
        }
        q.reset();
    };
    const auto scanLod = [&](qint64 bLo, qint64 bHi) {
        auto it = d_->lodColumn.find(col);
        if (it == d_->lodColumn.end()) {
            const std::string sql =
                "SELECT bucket, n, first_step, last_step, " + name + "_min, " + name +
                "_min_step, " + name + "_max, " + name +
                "_max_step FROM metric_lod "
                "WHERE run_id = ?1 AND type = ?2 AND level = ?3 AND bucket BETWEEN ?4 "
                "AND ?5 ORDER BY bucket";
            it = d_->lodColumn.emplace(col, SqliteStatement(d_->handle, sql.c_str())).first;
        }
        SqliteStatement& q = it->second;
        q.bind(1, runId);
        q.bind(2, type);
        q.bind(3, static_cast<qint64>(level));
        q.bind(4, bLo);
        q.bind(5, bHi);
        while (q.next()) {
            Bucket& bk = out[static_cast<std::size_t>(q.int64(0) * size / width - first)];
            bk.span(q.int64(1), q.int64(2), q.int64(3));
            if (!q.isNull(4)) bk.extremes(q.real(4), q.int64(5), q.real(6), q.int64(7));
        }
        q.reset();
    };

    if (level == 0) {
        scanRaw(lo, hi);
    } else {
        // [a, b]: whole level-of-detail buckets; the partial ones at the edges come from the
        // points.
        const qint64 a = ceilDiv(lo, size) * size;
        const qint64 b = (hi + 1) / size * size - 1;
        if (a > b) {
            scanRaw(lo, hi);
        } else {
            scanRaw(lo, a - 1);
            scanLod(a / size, b / size);
            scanRaw(b + 1, hi);
        }
    }

    QVector<SeriesBucket> result;
    result.reserve(static_cast<qsizetype>(out.size()));
    for (const Bucket& bk : out) {
        if (bk.count == 0) continue;
        SeriesBucket s;
        s.firstStep = bk.first;
        s.lastStep = bk.last;
        s.count = bk.count;
        s.hasValue = bk.has;
        s.min = bk.min;
        s.minStep = bk.minStep;
        s.max = bk.max;
        s.maxStep = bk.maxStep;
        result.push_back(s);
    }
    return result;
}

} // namespace bcd::store
