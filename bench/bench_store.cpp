// The run store's two hot paths (app/store), each against a naive peer measured in the same run:
//
//   ingest  metrics.jsonl → RunStore::ingestFile (goal ≥ 200k rows/s), against the obvious
//           implementation: QJsonDocument per line and a QSqlQuery INSERT OR REPLACE per row,
//           (a) each row its own transaction (autocommit), (b) all rows in one transaction.
//   series  a downsampled loss series over 1M points (goal ≤ 50 ms), against reading every
//           point (SELECT step, loss … ORDER BY step) and bucketing in C++, through QSqlQuery and
//           through the raw SQLite API.
//
// The peers write to and read from a store of the same schema, WAL and synchronous=NORMAL.
// Prints aligned lines, then one JSON line.
//
//   bench_store [--rows 200000] [--points 1000000] [--buckets 2000] [--peer-rows 20000]
//               [--repeat 20] [--dir DIR]

#include "store/run_store.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <sqlite3.h>
#include <string>
#include <vector>

using namespace bcd::store;

namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Wall-clock and CPU time of a stretch of work: on a shared machine the CPU time says what the
// code costs, the wall clock what a user waits (CPU plus I/O, plus the neighbours' load).
struct Stopwatch {
    Clock::time_point wall0 = Clock::now();
    std::clock_t cpu0 = std::clock();
    double wall() const { return secondsSince(wall0); }
    double cpu() const { return static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC; }
};

QString loadAverage() {
    QFile f(QStringLiteral("/proc/loadavg"));
    if (!f.open(QIODevice::ReadOnly)) return QStringLiteral("?");
    return QString::fromLatin1(f.readAll()).section(' ', 0, 0);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// A step record as the engine writes it (DESIGN.md §3), about 330 bytes.
double lossAt(qint64 step, qint64 spikeStep) {
    if (step == spikeStep) return 1000.0;
    return 5.0 / (1.0 + static_cast<double>(step) * 1e-4) + static_cast<double>(step % 13) * 1e-3;
}
void appendStepLine(QByteArray& out, qint64 step, double loss) {
    char buf[512];
    const int n = std::snprintf(
        buf, sizeof buf,
        "{\"t\":\"step\",\"step\":%lld,\"tokens\":%lld,\"loss\":%.17g,\"lr\":0.0003,\"block\":%lld,"
        "\"grad_norm\":%.17g,\"step_s\":0.0123,\"tok_s\":333012.5,\"mem_bytes\":1346688,"
        "\"mem\":{\"weights\":500992,\"gradients\":65536,\"optimizer\":131072},\"rss_bytes\":"
        "16568320,"
        "\"elapsed_s\":%.17g}\n",
        static_cast<long long>(step), static_cast<long long>(step * 4096), loss,
        static_cast<long long>(step / 50 % 8), 1.0 + static_cast<double>(step % 100) * 1e-2,
        static_cast<double>(step) * 0.0123);
    out.append(buf, n);
}
QByteArray stepLines(qint64 from, qint64 to, qint64 spikeStep) {
    QByteArray out;
    out.reserve((to - from + 1) * 340);
    for (qint64 s = from; s <= to; ++s) appendStepLine(out, s, lossAt(s, spikeStep));
    return out;
}

qint64 newRun(RunStore& s) {
    NewRun r;
    r.name = QStringLiteral("bench");
    r.node = QStringLiteral("local");
    return s.createRun(r);
}

// The naive peer's connection: a second connection on a store file, as RunStore sets it up.
struct PeerDb {
    QString name;
    QSqlDatabase db;
    explicit PeerDb(const QString& path, const QString& connection) : name(connection) {
        db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection);
        db.setDatabaseName(path);
        if (!db.open()) throw StoreError("peer: cannot open " + path.toStdString());
        QSqlQuery(db).exec(QStringLiteral("PRAGMA journal_mode = WAL"));
        QSqlQuery(db).exec(QStringLiteral("PRAGMA synchronous = NORMAL"));
    }
    ~PeerDb() {
        db.close();
        db = QSqlDatabase();
        QSqlDatabase::removeDatabase(name);
    }
};

// Ingestion the obvious way: QJsonDocument per line, one INSERT OR REPLACE per row.
qint64 naiveIngest(QSqlDatabase& db, qint64 runId, const QByteArray& bytes, bool oneTransaction) {
    QSqlQuery q(db);
    if (!q.prepare(QStringLiteral(
            "INSERT OR REPLACE INTO metric_points(run_id, type, step, tokens, elapsed, "
            "loss, lr, block, grad_norm, tok_s, mem, val_loss) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)")))
        throw StoreError("peer: " + q.lastError().text().toStdString());
    if (oneTransaction) db.transaction();
    qint64 rows = 0;
    qsizetype pos = 0;
    while (true) {
        const qsizetype nl = bytes.indexOf('\n', pos);
        if (nl < 0) break;
        const QJsonObject o = QJsonDocument::fromJson(bytes.mid(pos, nl - pos)).object();
        pos = nl + 1;
        if (o.value(QLatin1String("t")).toString() != QLatin1String("step")) continue;
        const auto num = [&](const char* key) {
            const QJsonValue v = o.value(QLatin1String(key));
            return v.isDouble() ? QVariant(v.toDouble()) : QVariant();
        };
        q.bindValue(0, runId);
        q.bindValue(1, 1);
        q.bindValue(2, o.value(QLatin1String("step")).toInteger());
        q.bindValue(3, num("tokens"));
        q.bindValue(4, num("elapsed_s"));
        q.bindValue(5, num("loss"));
        q.bindValue(6, num("lr"));
        q.bindValue(7, num("block"));
        q.bindValue(8, num("grad_norm"));
        q.bindValue(9, num("tok_s"));
        q.bindValue(10, num("mem_bytes"));
        q.bindValue(11, QVariant());
        if (!q.exec()) throw StoreError("peer: " + q.lastError().text().toStdString());
        ++rows;
    }
    if (oneTransaction) db.commit();
    return rows;
}

struct Extremes {
    double min = INFINITY, max = -INFINITY;
    qint64 maxStep = 0;
};

// Reads every (step, value) and buckets them into `buckets` equal spans; returns the overall
// extremes (to check the peers agree with the store) and the bucket count.
template <class Next> Extremes bucketAll(qint64 lo, qint64 hi, int buckets, Next next, int* made) {
    std::vector<Extremes> b(static_cast<std::size_t>(buckets));
    const double width = static_cast<double>(hi - lo + 1) / buckets;
    qint64 step = 0;
    double v = 0;
    while (next(&step, &v)) {
        auto& e = b[std::min<std::size_t>(
            b.size() - 1, static_cast<std::size_t>(static_cast<double>(step - lo) / width))];
        if (v < e.min) e.min = v;
        if (v > e.max) e.max = v, e.maxStep = step;
    }
    Extremes all;
    *made = 0;
    for (const auto& e : b) {
        if (e.max < e.min) continue;
        ++*made;
        all.min = std::min(all.min, e.min);
        if (e.max > all.max) all.max = e.max, all.maxStep = e.maxStep;
    }
    return all;
}

} // namespace

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    qint64 rows = 200000, points = 1000000, peerRows = 20000;
    int buckets = 2000, repeat = 20;
    QString dirArg;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const QString v = QString::fromLocal8Bit(argv[i + 1]);
        if (a == "--rows")
            rows = v.toLongLong();
        else if (a == "--points")
            points = v.toLongLong();
        else if (a == "--buckets")
            buckets = v.toInt();
        else if (a == "--peer-rows")
            peerRows = v.toLongLong();
        else if (a == "--repeat")
            repeat = v.toInt();
        else if (a == "--dir")
            dirArg = v;
        else {
            std::fprintf(stderr, "bench_store: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    if (rows < 1 || points < 1 || buckets < 1 || peerRows < 1 || repeat < 1) {
        std::fprintf(stderr, "bench_store: counts must be positive\n");
        return 2;
    }
    QTemporaryDir tmp(dirArg.isEmpty() ? QDir::tempPath() + QStringLiteral("/bench_store-XXXXXX")
                                       : dirArg + QStringLiteral("/bench_store-XXXXXX"));
    if (!tmp.isValid()) {
        std::fprintf(stderr, "bench_store: cannot make a temporary folder\n");
        return 1;
    }
    const QString dir = tmp.path();

    try {
        // --- Ingestion --------------------------------------------------------------------
        const QString metrics = dir + QStringLiteral("/metrics.jsonl");
        const QByteArray file = stepLines(1, rows, -1);
        {
            QFile f(metrics);
            if (!f.open(QIODevice::WriteOnly) || f.write(file) != file.size())
                throw StoreError("cannot write " + metrics.toStdString());
        }
        double ingestS = 0, ingestCpuS = 0;
        {
            RunStore s(dir + QStringLiteral("/ingest.sqlite"));
            const qint64 id = newRun(s);
            const Stopwatch t;
            const IngestResult r = s.ingestFile(id, metrics);
            ingestS = t.wall();
            ingestCpuS = t.cpu();
            if (r.points != rows)
                throw StoreError("ingested " + std::to_string(r.points) + " of " +
                                 std::to_string(rows) + " rows");
        }
        double autocommitS = 0, batchedS = 0, batchedCpuS = 0;
        qint64 autocommitRows = 0;
        {
            const QString peerPath = dir + QStringLiteral("/peer.sqlite");
            qint64 idA = 0, idB = 0;
            {
                RunStore s(peerPath); // the same schema
                idA = newRun(s);
                idB = newRun(s);
            }
            PeerDb peer(peerPath, QStringLiteral("peer"));
            const QByteArray part = stepLines(1, std::min(peerRows, rows), -1);
            auto t0 = Clock::now();
            autocommitRows = naiveIngest(peer.db, idA, part, false);
            autocommitS = secondsSince(t0);
            const Stopwatch t;
            const qint64 n = naiveIngest(peer.db, idB, file, true);
            batchedS = t.wall();
            batchedCpuS = t.cpu();
            if (n != rows) throw StoreError("peer ingested the wrong number of rows");
        }
        const double ingestRate = static_cast<double>(rows) / ingestS;
        const double autocommitRate = static_cast<double>(autocommitRows) / autocommitS;
        const double batchedRate = static_cast<double>(rows) / batchedS;
        const double ingestCpuRate = static_cast<double>(rows) / ingestCpuS;
        const double batchedCpuRate = static_cast<double>(rows) / batchedCpuS;
        std::printf("load average %s\n", qPrintable(loadAverage()));
        std::printf(
            "ingest  %-44s %10.0f rows/s  (%.0f rows per CPU second; %lld rows, %.1f MB, %.3f s)\n",
            "RunStore::ingestFile", ingestRate, ingestCpuRate, static_cast<long long>(rows),
            static_cast<double>(file.size()) / 1e6, ingestS);
        std::printf("ingest  %-44s %10.0f rows/s  (%lld rows)\n",
                    "peer: QJsonDocument + INSERT, autocommit", autocommitRate,
                    static_cast<long long>(autocommitRows));
        std::printf("ingest  %-44s %10.0f rows/s  (%.0f rows per CPU second)\n",
                    "peer: QJsonDocument + INSERT, one transaction", batchedRate, batchedCpuRate);
        std::printf("ingest  ratio vs autocommit %.1fx, vs one transaction %.1fx (CPU %.1fx); "
                    "goal >= 200000 rows/s: %s (wall), %s (CPU)\n",
                    ingestRate / autocommitRate, ingestRate / batchedRate,
                    ingestCpuRate / batchedCpuRate, ingestRate >= 200000 ? "met" : "MISSED",
                    ingestCpuRate >= 200000 ? "met" : "MISSED");

        // --- Series over `points` points ----------------------------------------------------
        const QString seriesPath = dir + QStringLiteral("/series.sqlite");
        const qint64 spikeStep = points * 2 / 3 + 7;
        RunStore s(seriesPath);
        const qint64 id = newRun(s);
        double buildS = 0;
        {
            const auto t0 = Clock::now();
            qint64 offset = 0;
            for (qint64 from = 1; from <= points; from += 100000) {
                const QByteArray chunk = stepLines(from, std::min(points, from + 99999), spikeStep);
                offset = s.ingest(id, offset, chunk).offset;
            }
            buildS = secondsSince(t0);
        }
        std::vector<double> times;
        QVector<SeriesBucket> result;
        double firstMs = 0;
        const Stopwatch seriesCpu;
        for (int i = 0; i < repeat; ++i) {
            const auto t0 = Clock::now();
            result = s.series(id, MetricColumn::Loss, 0, RunStore::kLastStep, buckets);
            times.push_back(secondsSince(t0) * 1e3);
            if (i == 0) firstMs = times.back();
        }
        const double seriesMs = median(times);
        const double seriesCpuMs = seriesCpu.cpu() * 1e3 / repeat;
        const auto top =
            std::max_element(result.begin(), result.end(),
                             [](const auto& a, const auto& b) { return a.max < b.max; });
        const bool spikeKept =
            top != result.end() && top->max == 1000.0 && top->maxStep == spikeStep;

        // A zoom on a tenth of the run, as the plot asks when the user drags.
        times.clear();
        for (int i = 0; i < repeat; ++i) {
            const auto t0 = Clock::now();
            s.series(id, MetricColumn::Loss, points / 2, points / 2 + points / 10, buckets);
            times.push_back(secondsSince(t0) * 1e3);
        }
        const double zoomMs = median(times);

        // Peers: every point read, bucketed in C++.
        PeerDb peer(seriesPath, QStringLiteral("series-peer"));
        int peerBuckets = 0;
        Extremes qsqlAll, rawAll;
        times.clear();
        for (int i = 0; i < 3; ++i) {
            const auto t0 = Clock::now();
            QSqlQuery q(peer.db);
            q.setForwardOnly(true);
            q.prepare(QStringLiteral("SELECT step, loss FROM metric_points WHERE run_id = ? AND "
                                     "type = 1 ORDER BY step"));
            q.addBindValue(id);
            if (!q.exec()) throw StoreError("peer: " + q.lastError().text().toStdString());
            qsqlAll = bucketAll(
                1, points, buckets,
                [&](qint64* step, double* v) {
                    if (!q.next()) return false;
                    *step = q.value(0).toLongLong();
                    *v = q.value(1).toDouble();
                    return true;
                },
                &peerBuckets);
            times.push_back(secondsSince(t0) * 1e3);
        }
        const double qsqlMs = median(times);
        sqlite3* raw = nullptr;
        if (sqlite3_open_v2(seriesPath.toUtf8().constData(), &raw, SQLITE_OPEN_READONLY, nullptr) !=
            SQLITE_OK)
            throw StoreError("peer: cannot open the store read-only");
        times.clear();
        for (int i = 0; i < 3; ++i) {
            const auto t0 = Clock::now();
            sqlite3_stmt* st = nullptr;
            sqlite3_prepare_v2(
                raw,
                "SELECT step, loss FROM metric_points WHERE run_id = ?1 AND type = 1 ORDER BY step",
                -1, &st, nullptr);
            sqlite3_bind_int64(st, 1, id);
            rawAll = bucketAll(
                1, points, buckets,
                [&](qint64* step, double* v) {
                    if (sqlite3_step(st) != SQLITE_ROW) return false;
                    *step = sqlite3_column_int64(st, 0);
                    *v = sqlite3_column_double(st, 1);
                    return true;
                },
                &peerBuckets);
            sqlite3_finalize(st);
            times.push_back(secondsSince(t0) * 1e3);
        }
        sqlite3_close(raw);
        const double rawMs = median(times);
        const bool agree = top != result.end() && qsqlAll.max == top->max &&
                           rawAll.max == top->max && qsqlAll.maxStep == top->maxStep;

        std::printf(
            "series  %-44s %10.2f ms    (CPU %.2f ms; %lld points, %d buckets asked, %lld made; "
            "first call %.2f ms; points stored in %.1f s)\n",
            "RunStore::series (levels of detail)", seriesMs, seriesCpuMs,
            static_cast<long long>(points), buckets, static_cast<long long>(result.size()), firstMs,
            buildS);
        std::printf("series  %-44s %10.2f ms\n", "RunStore::series, a tenth of the run", zoomMs);
        std::printf("series  %-44s %10.2f ms\n", "peer: QSqlQuery SELECT all + bucketing", qsqlMs);
        std::printf("series  %-44s %10.2f ms\n", "peer: sqlite3 SELECT all + bucketing", rawMs);
        std::printf(
            "series  ratio vs QSqlQuery %.0fx, vs raw scan %.0fx; spike kept: %s; peers agree: %s; "
            "goal <= 50 ms: %s\n",
            qsqlMs / seriesMs, rawMs / seriesMs, spikeKept ? "yes" : "NO", agree ? "yes" : "NO",
            seriesMs <= 50 ? "met" : "MISSED");
        std::printf(
            "{\"bench\": \"store\", \"load_average\": %s, \"ingest\": {\"rows\": %lld, "
            "\"rows_per_s\": %.0f, "
            "\"rows_per_cpu_s\": %.0f, \"peer_one_transaction_rows_per_cpu_s\": %.0f, "
            "\"peer_autocommit_rows_per_s\": %.0f, \"peer_one_transaction_rows_per_s\": %.0f, "
            "\"ratio_vs_autocommit\": %.2f, \"ratio_vs_one_transaction\": %.2f}, "
            "\"series\": {\"points\": %lld, \"buckets\": %d, \"ms\": %.3f, \"cpu_ms\": %.3f, "
            "\"first_ms\": %.3f, "
            "\"zoom_ms\": %.3f, \"peer_qsqlquery_ms\": %.2f, \"peer_raw_ms\": %.2f, "
            "\"ratio_vs_qsqlquery\": %.1f, \"ratio_vs_raw\": %.1f, \"spike_kept\": %s}}\n",
            qPrintable(loadAverage()), static_cast<long long>(rows), ingestRate, ingestCpuRate,
            batchedCpuRate, autocommitRate, batchedRate, ingestRate / autocommitRate,
            ingestRate / batchedRate, static_cast<long long>(points), buckets, seriesMs,
            seriesCpuMs, firstMs, zoomMs, qsqlMs, rawMs, qsqlMs / seriesMs, rawMs / seriesMs,
            spikeKept ? "true" : "false");
        return spikeKept && agree ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_store: %s\n", e.what());
        return 1;
    }
}
