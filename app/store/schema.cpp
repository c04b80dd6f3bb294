#include "store/schema.h"

#include "store/metrics_record.h"
#include "store/store_types.h"

#include <QSqlError>
#include <QSqlQuery>
#include <vector>

namespace bcd::store::schema {

namespace {

constexpr const char* kPhasesTableSql =
    "CREATE TABLE run_phases(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
    "phase TEXT NOT NULL, step INTEGER NOT NULL, state TEXT NOT NULL, done INTEGER, total INTEGER, "
    "bytes INTEGER, phase_s REAL NOT NULL, elapsed REAL, updated_at REAL NOT NULL, "
    "PRIMARY KEY(run_id, phase, step)) WITHOUT ROWID";

// Version 1: the first released layout (tests/app/fixtures/store-v1.sqlite was made with it).
const std::vector<const char*> kV1 = {
    "CREATE TABLE nodes(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, "
    "host TEXT, port INTEGER, user TEXT, identity TEXT, known_hosts TEXT, engine TEXT, "
    "created_at REAL NOT NULL)",
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, name TEXT NOT NULL, config TEXT NOT NULL, "
    "status TEXT NOT NULL, node_id INTEGER NOT NULL REFERENCES nodes(id), remote_dir TEXT, "
    "pid INTEGER, metrics_offset INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, "
    "started_at REAL, ended_at REAL)",
    "CREATE TABLE metric_points(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
    "type TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER, elapsed REAL, loss REAL, lr REAL, "
    "block INTEGER, grad_norm REAL, tok_s REAL, mem INTEGER, val_loss REAL, "
    "UNIQUE(run_id, type, step))",
    "CREATE TABLE events(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) "
    "ON DELETE CASCADE, kind TEXT NOT NULL, step INTEGER, time REAL NOT NULL, data TEXT)",
    "CREATE INDEX events_run ON events(run_id)",
};

// Version 2: run tags, notes, message, hosts, price and progress; node run folder, price and last
// probe; metric points keyed by an integer type in a clustered (WITHOUT ROWID) table; engine
// events unique by (run, kind, step) so that re-reading a file stores them once; levels of detail
// for downsampled series.
std::vector<std::string> v2Statements() {
    return {
        "ALTER TABLE nodes ADD COLUMN run_root TEXT",
        "ALTER TABLE nodes ADD COLUMN price_per_hour REAL",
        "ALTER TABLE nodes ADD COLUMN probe TEXT",
        "ALTER TABLE nodes ADD COLUMN probed_at REAL",
        "ALTER TABLE runs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE runs ADD COLUMN notes TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN message TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN hosts TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE runs ADD COLUMN price_per_hour REAL",
        "ALTER TABLE runs ADD COLUMN last_step INTEGER",
        "ALTER TABLE runs ADD COLUMN steps_total INTEGER",
        "CREATE TABLE metric_points_v2(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE "
        "CASCADE, "
        "type INTEGER NOT NULL, step INTEGER NOT NULL, tokens INTEGER, elapsed REAL, loss REAL, "
        "lr REAL, block INTEGER, grad_norm REAL, tok_s REAL, mem INTEGER, val_loss REAL, "
        "PRIMARY KEY(run_id, type, step)) WITHOUT ROWID",
        "INSERT INTO metric_points_v2 SELECT run_id, CASE type WHEN 'step' THEN 1 WHEN 'eval' THEN "
        "2 "
        "END, step, tokens, elapsed, loss, lr, block, grad_norm, tok_s, mem, val_loss "
        "FROM metric_points WHERE type IN ('step', 'eval')",
        "DROP TABLE metric_points",
        "ALTER TABLE metric_points_v2 RENAME TO metric_points",
        "ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'engine'",
        // Engine records always have a key step (records without one are keyed by their byte
        // offset), so version 1's events without a step were the workbench's own.
        "UPDATE events SET source = 'workbench' WHERE step IS NULL",
        // Version 1 kept every copy of a re-read record; the latest one wins.
        "DELETE FROM events WHERE step IS NOT NULL AND id NOT IN "
        "(SELECT MAX(id) FROM events WHERE step IS NOT NULL GROUP BY run_id, kind, step)",
        "DROP INDEX events_run",
        "CREATE UNIQUE INDEX events_key ON events(run_id, kind, step)",
        lodTableSql(),
        "UPDATE runs SET last_step = (SELECT MAX(step) FROM metric_points "
        "WHERE metric_points.run_id = runs.id AND type = 1)",
    };
}

// Version 3: Slurm clusters. A node's job defaults (JSON, nodes/slurm_job.h); a run's batch job
// and the scheduler's last word on it (state and reason: PENDING (Priority), TIMEOUT, ...).
std::vector<std::string> v3Statements() {
    return {
        "ALTER TABLE nodes ADD COLUMN job_defaults TEXT",
        "ALTER TABLE runs ADD COLUMN job_id TEXT",
        "ALTER TABLE runs ADD COLUMN job_state TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN job_reason TEXT NOT NULL DEFAULT ''",
    };
}

// Version 4: data-parallel runs. The processes per node asked for at launch (0: the default) and
// the run's world size (ranks); runs of earlier versions take it from their engine's start record
// where one was stored (metrics.jsonl's "world_size"), else it stays unknown (NULL). Metric points
// get comm_bytes (bytes all-reduced in the step); the levels of detail are made again with it
// (migrate() rebuilds them after this version).
std::vector<std::string> v4Statements() {
    return {
        "ALTER TABLE metric_points ADD COLUMN comm_bytes INTEGER",
        "DROP TABLE IF EXISTS metric_lod",
        lodTableSql(),
        "ALTER TABLE runs ADD COLUMN processes_per_node INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN world_size INTEGER",
        "UPDATE runs SET world_size = (SELECT json_extract(e.data, '$.world_size') FROM events e "
        "WHERE e.run_id = runs.id AND e.kind = 'start' AND e.source = 'engine' AND "
        "json_valid(e.data) ORDER BY e.id DESC LIMIT 1)",
    };
}

// Version 5: evaluation and checkpoints as phases, and system figures (docs/workbench.md "Store
// schema"). Metric points get the step's system figures; the levels of detail are made again
// with them (migrate() rebuilds them after this version). An engine's "phase" records are
// progress, not events: run_phases keeps the latest state of each phase occurrence (run, phase,
// step) — its length, batches done and bytes — so that Monitor shows the phase and measures its
// time. Phase records a version-4 workbench kept as events (one per step) move there.
std::vector<std::string> v5Statements() {
    return {
        "ALTER TABLE metric_points ADD COLUMN cpu_pct REAL",
        "ALTER TABLE metric_points ADD COLUMN rss INTEGER",
        "ALTER TABLE metric_points ADD COLUMN gpu_util REAL",
        "ALTER TABLE metric_points ADD COLUMN gpu_mem INTEGER",
        "ALTER TABLE metric_points ADD COLUMN gpu_power REAL",
        "ALTER TABLE metric_points ADD COLUMN gpu_temp REAL",
        "DROP TABLE IF EXISTS metric_lod",
        lodTableSql(),
        std::string(kPhasesTableSql),
        "INSERT OR REPLACE INTO run_phases(run_id, phase, step, state, done, total, bytes, "
        "phase_s, elapsed, updated_at) SELECT run_id, json_extract(data, '$.phase'), step, "
        "COALESCE(json_extract(data, '$.state'), 'end'), json_extract(data, '$.done'), "
        "json_extract(data, '$.total'), json_extract(data, '$.bytes'), "
        "COALESCE(json_extract(data, '$.phase_s'), 0), json_extract(data, '$.elapsed_s'), time "
        "FROM events WHERE kind = 'phase' AND source = 'engine' AND step IS NOT NULL AND "
        "json_valid(data) AND json_type(data, '$.phase') = 'text'",
        "DELETE FROM events WHERE kind = 'phase' AND source = 'engine'",
    };
}

// Version 6: a run's price is a schedule (docs/workbench.md "Cost"). runs.price_per_hour stays
// the launch price, the first segment (from elapsed 0); run_prices holds each later change of
// the node's price that reached the run while it was active, from the run's elapsed time then.
// Existing runs have no changes: their cost is what it was.
std::vector<std::string> v6Statements() {
    return {
        "CREATE TABLE run_prices(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
        "from_elapsed REAL NOT NULL, price_per_hour REAL NOT NULL, set_at TEXT NOT NULL, "
        "PRIMARY KEY(run_id, from_elapsed)) WITHOUT ROWID",
        "ALTER TABLE runs ADD COLUMN own_price INTEGER NOT NULL DEFAULT 0",
    };
}

void execAll(QSqlDatabase& db, const std::vector<std::string>& statements) {
    for (const auto& s : statements) exec(db, QString::fromStdString(s));
}

} // namespace

std::string lodTableSql() {
    std::string sql =
        "CREATE TABLE metric_lod(run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE "
        "CASCADE, type INTEGER NOT NULL, level INTEGER NOT NULL, bucket INTEGER NOT "
        "NULL, n INTEGER NOT NULL, first_step INTEGER NOT NULL, last_step INTEGER NOT NULL";
    for (int c = 0; c < kMetricColumns; ++c) {
        const std::string name = columnName(static_cast<MetricColumn>(c));
        sql += ", " + name + "_min REAL, " + name + "_min_step INTEGER, " + name + "_max REAL, " +
               name + "_max_step INTEGER";
    }
    sql += ", PRIMARY KEY(run_id, type, level, bucket)) WITHOUT ROWID";
    return sql;
}

void exec(QSqlDatabase& db, const QString& sql) {
    QSqlQuery q(db);
    if (!q.exec(sql))
        throw StoreError(QStringLiteral("%1: %2 (in: %3)")
                             .arg(db.databaseName(), q.lastError().text(), sql.left(120))
                             .toStdString());
}

int userVersion(QSqlDatabase& db) {
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next())
        throw StoreError(db.databaseName().toStdString() +
                         ": cannot read the schema version: " + q.lastError().text().toStdString());
    return q.value(0).toInt();
}

void checkKnown(int version, const QString& path) {
    if (version > kVersion)
        throw StoreError(
            QStringLiteral("%1: schema version %2 is newer than this workbench's (%3); "
                           "use a newer bcd-workbench or another --db")
                .arg(path)
                .arg(version)
                .arg(kVersion)
                .toStdString());
}

int migrate(QSqlDatabase& db, const QString& path, const std::function<void()>& rebuildLod) {
    const int found = userVersion(db);
    checkKnown(found, path);
    if (found == kVersion) return found;

    exec(db, QStringLiteral("PRAGMA foreign_keys = OFF"));
    try {
        while (true) {
            exec(db, QStringLiteral("BEGIN IMMEDIATE"));
            try {
                // Read again under the write lock: another connection opening the same store (a
                // CLI started beside the GUI) may have migrated it since.
                const int v = userVersion(db);
                checkKnown(v, path);
                if (v == kVersion) {
                    exec(db, QStringLiteral("COMMIT"));
                    break;
                }
                if (v == 0) {
                    for (const char* s : kV1) exec(db, QString::fromUtf8(s));
                } else if (v == 1) {
                    // The levels of detail are built by version 5 (below), when metric_points
                    // has every column that lodTableSql() (today's columns) summarises.
                    execAll(db, v2Statements());
                } else if (v == 2) {
                    execAll(db, v3Statements());
                } else if (v == 3) {
                    execAll(db, v4Statements());
                } else if (v == 4) {
                    execAll(db, v5Statements());
                    rebuildLod();
                } else if (v == 5) {
                    execAll(db, v6Statements());
                }
                QSqlQuery check(db);
                if (!check.exec(QStringLiteral("PRAGMA foreign_key_check")))
                    throw StoreError(path.toStdString() + ": foreign key check failed");
                if (check.next())
                    throw StoreError(
                        QStringLiteral("%1: migration to version %2 would break a reference "
                                       "(table %3)")
                            .arg(path)
                            .arg(v + 1)
                            .arg(check.value(0).toString())
                            .toStdString());
                check.finish();
                exec(db, QStringLiteral("PRAGMA user_version = %1").arg(v + 1));
                exec(db, QStringLiteral("COMMIT"));
            } catch (...) {
                QSqlQuery(db).exec(QStringLiteral("ROLLBACK"));
                throw;
            }
        }
    } catch (...) {
        QSqlQuery(db).exec(QStringLiteral("PRAGMA foreign_keys = ON"));
        throw;
    }
    exec(db, QStringLiteral("PRAGMA foreign_keys = ON"));
    return found;
}

} // namespace bcd::store::schema
