// RunStore's ingestion of metrics.jsonl and the levels of detail it maintains.

#include "store/run_store.h"
#include "store/run_store_impl.h"
#include "store/schema.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <cstring>
#include <string>

namespace bcd::store {

namespace {

// The extremes of every column over a run of steps: one row of metric_lod.
struct LodAcc {
    struct Extremes {
        bool has = false;
        double min = 0, max = 0;
        qint64 minStep = 0, maxStep = 0;
    };
    qint64 bucket = -1;
    qint64 n = 0, first = 0, last = 0;
    std::array<Extremes, kMetricColumns> ext{};

    void reset(qint64 b) {
        bucket = b;
        n = 0;
        ext = {};
    }
    void addValue(int c, double v, qint64 step) {
        auto& e = ext[static_cast<std::size_t>(c)];
        if (!e.has || v < e.min) e.min = v, e.minStep = step;
        if (!e.has || v > e.max) e.max = v, e.maxStep = step;
        e.has = true;
    }
    void addSpan(qint64 count, qint64 firstStep, qint64 lastStep) {
        if (n == 0) first = firstStep;
        last = lastStep;
        n += count;
    }
    // Merges a child bucket's extremes; children come in step order, so ties keep the earliest.
    void mergeExtremes(int c, double mn, qint64 mnStep, double mx, qint64 mxStep) {
        auto& e = ext[static_cast<std::size_t>(c)];
        if (!e.has || mn < e.min) e.min = mn, e.minStep = mnStep;
        if (!e.has || mx > e.max) e.max = mx, e.maxStep = mxStep;
        e.has = true;
    }
};

std::string pointColumnsSql() {
    std::string s;
    for (int c = 0; c < kMetricColumns; ++c)
        s += std::string(", ") + columnName(static_cast<MetricColumn>(c));
    return s;
}

std::string lodColumnsSql() {
    std::string s;
    for (int c = 0; c < kMetricColumns; ++c) {
        const std::string n = columnName(static_cast<MetricColumn>(c));
        s += ", " + n + "_min, " + n + "_min_step, " + n + "_max, " + n + "_max_step";
    }
    return s;
}

bool blankLine(std::string_view s) {
    for (char c : s)
        if (c != ' ' && c != '\t' && c != '\r') return false;
    return true;
}

} // namespace

void RunStore::Impl::updateLod(qint64 runId, int type, qint64 lo, qint64 hi) {
    static const std::string rawSql =
        "SELECT step" + pointColumnsSql() +
        " FROM metric_points WHERE run_id = ?1 AND type = ?2 AND step "
        "BETWEEN ?3 AND ?4 ORDER BY step";
    static const std::string upperSql =
        "SELECT bucket, n, first_step, last_step" + lodColumnsSql() +
        " FROM metric_lod WHERE run_id = ?1 AND type = ?2 AND level = ?3 "
        "AND bucket BETWEEN ?4 AND ?5 ORDER BY bucket";
    static const std::string writeSql = [] {
        std::string s = "INSERT OR REPLACE INTO metric_lod VALUES(?";
        for (int i = 1; i < 7 + 4 * kMetricColumns; ++i) s += ",?";
        return s + ")";
    }();
    SqliteStatement& raw = stmt(lodRaw, rawSql.c_str());
    SqliteStatement& upper = stmt(lodUpper, upperSql.c_str());
    SqliteStatement& write = stmt(lodWrite, writeSql.c_str());

    LodAcc acc;
    int level = 1;
    const auto flush = [&] {
        if (acc.n == 0) return;
        write.bind(1, runId);
        write.bind(2, static_cast<qint64>(type));
        write.bind(3, static_cast<qint64>(level));
        write.bind(4, acc.bucket);
        write.bind(5, acc.n);
        write.bind(6, acc.first);
        write.bind(7, acc.last);
        for (int c = 0; c < kMetricColumns; ++c) {
            const auto& e = acc.ext[static_cast<std::size_t>(c)];
            const int at = 8 + 4 * c;
            if (e.has) {
                write.bind(at, e.min);
                write.bind(at + 1, e.minStep);
                write.bind(at + 2, e.max);
                write.bind(at + 3, e.maxStep);
            } else {
                for (int k = 0; k < 4; ++k) write.bindNull(at + k);
            }
        }
        write.exec();
    };

    qint64 size = 1;
    for (level = 1; level <= schema::kLodLevels; ++level) {
        size *= schema::kLodFactor;
        const qint64 bLo = lo / size, bHi = hi / size;
        acc.reset(-1);
        if (level == 1) {
            raw.bind(1, runId);
            raw.bind(2, static_cast<qint64>(type));
            raw.bind(3, bLo * size);
            raw.bind(4, bHi * size + size - 1);
            while (raw.next()) {
                const qint64 step = raw.int64(0);
                const qint64 b = step / size;
                if (b != acc.bucket) {
                    flush();
                    acc.reset(b);
                }
                acc.addSpan(1, step, step);
                for (int c = 0; c < kMetricColumns; ++c)
                    if (!raw.isNull(1 + c)) acc.addValue(c, raw.real(1 + c), step);
            }
            raw.reset();
        } else {
            upper.bind(1, runId);
            upper.bind(2, static_cast<qint64>(type));
            upper.bind(3, static_cast<qint64>(level - 1));
            upper.bind(4, bLo * schema::kLodFactor);
            upper.bind(5, bHi * schema::kLodFactor + schema::kLodFactor - 1);
            while (upper.next()) {
                const qint64 b = upper.int64(0) / schema::kLodFactor;
                if (b != acc.bucket) {
                    flush();
                    acc.reset(b);
                }
                acc.addSpan(upper.int64(1), upper.int64(2), upper.int64(3));
                for (int c = 0; c < kMetricColumns; ++c) {
                    const int at = 4 + 4 * c;
                    if (!upper.isNull(at))
                        acc.mergeExtremes(c, upper.real(at), upper.int64(at + 1),
                                          upper.real(at + 2), upper.int64(at + 3));
                }
            }
            upper.reset();
        }
        flush();
    }
}

void RunStore::rebuildLod() {
    d_->checkThread();
    schema::exec(d_->db, QStringLiteral("DELETE FROM metric_lod"));
    SqliteStatement ranges(d_->handle,
                           "SELECT run_id, type, MIN(step), MAX(step) FROM metric_points "
                           "GROUP BY run_id, type");
    struct Range {
        qint64 run, type, lo, hi;
    };
    std::vector<Range> all;
    while (ranges.next())
        all.push_back({ranges.int64(0), ranges.int64(1), ranges.int64(2), ranges.int64(3)});
    ranges.reset();
    for (const auto& r : all) d_->updateLod(r.run, static_cast<int>(r.type), r.lo, r.hi);
}

IngestResult RunStore::ingest(qint64 runId, qint64 offset, QByteArrayView data) {
    d_->checkThread();
    static const std::string upsertSql = [] {
        std::string sql = "INSERT INTO metric_points(run_id, type, step" + pointColumnsSql() +
                          ") VALUES(?1, ?2, ?3";
        for (int c = 0; c < kMetricColumns; ++c) sql += ", ?" + std::to_string(4 + c);
        sql += ") ON CONFLICT(run_id, type, step) DO UPDATE SET ";
        for (int c = 0; c < kMetricColumns; ++c) {
            const std::string name = columnName(static_cast<MetricColumn>(c));
            sql += (c ? ", " : "") + name + " = excluded." + name;
        }
        return sql;
    }();
    SqliteStatement& runOffset =
        d_->stmt(d_->runOffset, "SELECT metrics_offset FROM runs WHERE id = ?1");
    SqliteStatement& upsert = d_->stmt(d_->upsertPoint, upsertSql.c_str());
    SqliteStatement& event = d_->stmt(
        d_->upsertEvent,
        "INSERT INTO events(run_id, source, kind, step, time, data) VALUES(?1, 'engine', ?2, ?3, "
        "?4, ?5) "
        "ON CONFLICT(run_id, kind, step) DO UPDATE SET data = excluded.data, source = 'engine'");
    SqliteStatement& setOffset = d_->stmt(
        d_->setOffset,
        "UPDATE runs SET metrics_offset = ?1, last_step = CASE WHEN ?2 IS NULL THEN last_step "
        "ELSE MAX(COALESCE(last_step, ?2), ?2) END WHERE id = ?3");
    SqliteStatement& setStatus = d_->stmt(
        d_->setStatus,
        "UPDATE runs SET status = ?1, message = ?2, "
        "started_at = CASE WHEN ?1 = 'running' AND started_at IS NULL THEN ?3 ELSE started_at END, "
        "ended_at = CASE WHEN ?1 IN ('finished', 'failed', 'cancelled') THEN ?3 ELSE NULL END "
        "WHERE id = ?4");
    // The engine's own count of ranks wins over the one the launch computed.
    SqliteStatement& setWorldSize =
        d_->stmt(d_->setWorldSize, "UPDATE runs SET world_size = ?1 WHERE id = ?2");

    // A phase occurrence keeps its latest state (docs/workbench.md "Store schema").
    SqliteStatement& phase = d_->stmt(
        d_->upsertPhase,
        "INSERT INTO run_phases(run_id, phase, step, state, done, total, bytes, phase_s, elapsed, "
        "updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
        "ON CONFLICT(run_id, phase, step) DO UPDATE SET state = excluded.state, "
        "done = excluded.done, total = excluded.total, bytes = excluded.bytes, "
        "phase_s = excluded.phase_s, elapsed = excluded.elapsed, updated_at = excluded.updated_at");

    IngestResult res;
    SqliteTransaction tx(d_->handle);
    runOffset.bind(1, runId);
    if (!runOffset.next()) {
        runOffset.reset();
        throw StoreError("no run " + std::to_string(runId));
    }
    const qint64 stored = runOffset.int64(0);
    runOffset.reset();
    if (offset != stored && offset != 0) {
        res.accepted = false;
        res.offset = stored;
        return res;
    }

    struct Range {
        qint64 lo = -1, hi = -1;
        void add(qint64 s) {
            if (lo < 0 || s < lo) lo = s;
            if (s > hi) hi = s;
        }
    };
    std::array<Range, 2> touched{};
    const double now = nowSeconds();
    std::string error;
    const char* base = data.data();
    const qint64 size = data.size();
    qint64 pos = 0;
    while (pos < size) {
        const void* nl = std::memchr(base + pos, '\n', static_cast<std::size_t>(size - pos));
        if (!nl) break; // a torn last line: left for the next call
        const qint64 lineEnd = static_cast<const char*>(nl) - base;
        std::string_view line(base + pos, static_cast<std::size_t>(lineEnd - pos));
        const qint64 lineOffset = offset + pos;
        pos = lineEnd + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (blankLine(line)) continue;

        const auto rec = parseMetricsRecord(line, &error);
        if (!rec) {
            QJsonObject bad{{"offset", lineOffset},
                            {"error", QString::fromStdString(error)},
                            {"line", QString::fromUtf8(line.data(),
                                                       static_cast<qsizetype>(std::min<std::size_t>(
                                                           line.size(), 200)))}};
            const QByteArray text = QJsonDocument(bad).toJson(QJsonDocument::Compact);
            event.bind(1, runId);
            event.bind(2, std::string("malformed"));
            event.bind(3, lineOffset);
            event.bind(4, now);
            event.bindText(5, text.constData(), static_cast<int>(text.size()));
            event.exec();
            ++res.malformed;
            continue;
        }
        if (rec->kind == RecordKind::Step || rec->kind == RecordKind::Eval) {
            const int type =
                static_cast<int>(rec->kind == RecordKind::Step ? PointType::Step : PointType::Eval);
            upsert.bind(1, runId);
            upsert.bind(2, static_cast<qint64>(type));
            upsert.bind(3, static_cast<qint64>(*rec->step));
            for (int c = 0; c < kMetricColumns; ++c)
                upsert.bind(4 + c, rec->values[static_cast<std::size_t>(c)],
                            columnIsInteger(static_cast<MetricColumn>(c)));
            upsert.exec();
            touched[static_cast<std::size_t>(type - 1)].add(*rec->step);
            ++res.points;
            if (rec->kind == RecordKind::Step && (!res.lastStep || *rec->step > *res.lastStep))
                res.lastStep = *rec->step;
            continue;
        }
        if (rec->kind == RecordKind::Phase) {
            const auto optInt = [&](int i, const std::optional<long long>& v) {
                if (v)
                    phase.bind(i, static_cast<qint64>(*v));
                else
                    phase.bindNull(i);
            };
            phase.bind(1, runId);
            phase.bind(2, rec->phase);
            phase.bind(3, static_cast<qint64>(*rec->step));
            phase.bind(4, rec->state.empty() ? std::string("end") : rec->state);
            optInt(5, rec->done);
            optInt(6, rec->total);
            optInt(7, rec->bytes);
            phase.bind(8, rec->phaseSeconds.value_or(0.0));
            phase.bind(9, rec->values[static_cast<std::size_t>(MetricColumn::Elapsed)], false);
            phase.bind(10, now);
            phase.exec();
            ++res.phases;
            continue;
        }
        // Every other record is an event; "start" is step 0, records without a step are keyed by
        // their byte offset (stable when the file is read again).
        const qint64 key = rec->kind == RecordKind::Start ? 0 : rec->step ? *rec->step : lineOffset;
        event.bind(1, runId);
        event.bind(2, rec->type);
        event.bind(3, key);
        event.bind(4, now);
        event.bindText(5, line.data(), static_cast<int>(line.size()));
        event.exec();
        ++res.events;
        QString newStatus, message;
        if (rec->kind == RecordKind::Start || rec->kind == RecordKind::Resume) {
            newStatus = status::kRunning;
            if (rec->kind == RecordKind::Start) {
                const QJsonValue ws =
                    QJsonDocument::fromJson(
                        QByteArray(line.data(), static_cast<qsizetype>(line.size())))
                        .object()
                        .value(QLatin1String("world_size"));
                if (ws.isDouble() && ws.toInt() >= 1) {
                    setWorldSize.bind(1, static_cast<qint64>(ws.toInt()));
                    setWorldSize.bind(2, runId);
                    setWorldSize.exec();
                }
            }
        } else if (rec->kind == RecordKind::End) {
            newStatus = QString::fromStdString(rec->status);
            message = QJsonDocument::fromJson(
                          QByteArray(line.data(), static_cast<qsizetype>(line.size())))
                          .object()
                          .value(QLatin1String("message"))
                          .toString();
            if (!status::isTerminal(newStatus)) newStatus.clear();
        }
        if (!newStatus.isEmpty()) {
            const QByteArray st = newStatus.toUtf8(), msg = message.toUtf8();
            setStatus.bindText(1, st.constData(), static_cast<int>(st.size()));
            setStatus.bindText(2, msg.constData(), static_cast<int>(msg.size()));
            setStatus.bind(3, now);
            setStatus.bind(4, runId);
            setStatus.exec();
            res.status = newStatus;
        }
    }
    for (std::size_t t = 0; t < touched.size(); ++t)
        if (touched[t].lo >= 0)
            d_->updateLod(runId, static_cast<int>(t + 1), touched[t].lo, touched[t].hi);
    res.offset = offset + pos;
    setOffset.bind(1, res.offset);
    if (res.lastStep)
        setOffset.bind(2, *res.lastStep);
    else
        setOffset.bindNull(2);
    setOffset.bind(3, runId);
    setOffset.exec();
    tx.commit();
    return res;
}

IngestResult RunStore::ingestFile(qint64 runId, const QString& metricsPath) {
    d_->checkThread();
    const auto r = run(runId);
    if (!r) throw StoreError("no run " + std::to_string(runId));
    QFile f(metricsPath);
    if (!f.open(QIODevice::ReadOnly))
        throw StoreError(metricsPath.toStdString() +
                         ": cannot read: " + f.errorString().toStdString());
    qint64 offset = r->metricsOffset;
    if (f.size() < offset) offset = 0; // replaced or truncated: read it again, idempotently
    constexpr qint64 kChunk = 16 << 20;
    IngestResult total;
    total.offset = offset;
    while (true) {
        if (!f.seek(offset)) break;
        const QByteArray chunk = f.read(kChunk);
        if (chunk.isEmpty()) break;
        const IngestResult res = ingest(runId, offset, chunk);
        total.points += res.points;
        total.events += res.events;
        total.malformed += res.malformed;
        if (res.lastStep) total.lastStep = res.lastStep;
        if (!res.status.isEmpty()) total.status = res.status;
        total.offset = res.offset;
        if (!res.accepted || res.offset == offset) break; // nothing complete left
        offset = res.offset;
    }
    return total;
}

} // namespace bcd::store
