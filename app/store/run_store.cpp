#include "store/run_store.h"

#include "store/metrics_csv.h"
#include "store/run_status.h"
#include "store/run_store_impl.h"
#include "store/schema.h"

#include <QAtomicInteger>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMap>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>
#include <algorithm>

namespace bcd::store {

double nowSeconds() {
    return static_cast<double>(QDateTime::currentMSecsSinceEpoch()) / 1000.0;
}

void RunStore::Impl::checkThread() const {
    if (QThread::currentThread() != owner)
        throw StoreError(path.toStdString() +
                         ": RunStore used from a thread other than the one that opened it");
}

namespace {

QAtomicInteger<int> g_connections{0};

QString jsonText(const QJsonObject& o) {
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}
QString jsonText(const QStringList& list) {
    return QString::fromUtf8(
        QJsonDocument(QJsonArray::fromStringList(list)).toJson(QJsonDocument::Compact));
}
QJsonObject jsonObject(const QVariant& v) {
    return QJsonDocument::fromJson(v.toString().toUtf8()).object();
}
QStringList jsonStrings(const QVariant& v) {
    QStringList out;
    for (const auto& x : QJsonDocument::fromJson(v.toString().toUtf8()).array())
        out << x.toString();
    return out;
}
QVariant orNull(const std::optional<double>& v) {
    return v ? QVariant(*v) : QVariant();
}
QVariant orNull(const std::optional<qint64>& v) {
    return v ? QVariant(*v) : QVariant();
}
QVariant orNull(const std::optional<int>& v) {
    return v ? QVariant(*v) : QVariant();
}
QVariant orNull(const QString& s) {
    return s.isEmpty() ? QVariant() : QVariant(s);
}
template <class T> std::optional<T> opt(const QVariant& v) {
    if (v.isNull()) return std::nullopt;
    return v.value<T>();
}

QSqlQuery prepared(QSqlDatabase& db, const QString& sql) {
    QSqlQuery q(db);
    if (!q.prepare(sql))
        throw StoreError(QStringLiteral("%1: %2 (in: %3)")
                             .arg(db.databaseName(), q.lastError().text(), sql)
                             .toStdString());
    return q;
}
void execQuery(QSqlQuery& q) {
    if (!q.exec())
        throw StoreError(
            QStringLiteral("%1: %2").arg(q.lastQuery(), q.lastError().text()).toStdString());
}

const char* kNodeColumns =
    "id, name, kind, host, port, user, identity, known_hosts, engine, run_root, "
    "price_per_hour, probe, probed_at, created_at, job_defaults";

NodeRecord nodeFrom(const QSqlQuery& q) {
    NodeRecord n;
    n.id = q.value(0).toLongLong();
    n.name = q.value(1).toString();
    n.kind = q.value(2).toString();
    n.host = q.value(3).toString();
    n.port = q.value(4).isNull() ? 22 : q.value(4).toInt();
    n.user = q.value(5).toString();
    n.identity = q.value(6).toString();
    n.knownHosts = q.value(7).toString();
    n.engine = q.value(8).toString();
    n.runRoot = q.value(9).toString();
    n.pricePerHour = opt<double>(q.value(10));
    n.probe = jsonObject(q.value(11));
    n.probedAt = q.value(12).toDouble();
    n.createdAt = q.value(13).toDouble();
    n.jobDefaults = jsonObject(q.value(14));
    return n;
}

const char* kRunColumns =
    "r.id, r.name, r.tags, r.notes, r.config, r.status, r.message, n.name, r.hosts, r.remote_dir, "
    "r.pid, r.metrics_offset, r.price_per_hour, r.created_at, r.started_at, r.ended_at, "
    "r.last_step, "
    "r.steps_total, r.job_id, r.job_state, r.job_reason, r.processes_per_node, r.world_size, "
    "r.own_price";

// The price changes of runs, by run id, in elapsed order (runId 0: every run's).
QMap<qint64, QVector<PriceSegment>> priceChanges(QSqlDatabase& db, qint64 runId) {
    QSqlQuery q = prepared(
        db, QStringLiteral("SELECT run_id, from_elapsed, price_per_hour, set_at FROM run_prices%1 "
                           "ORDER BY run_id, from_elapsed")
                .arg(runId > 0 ? QStringLiteral(" WHERE run_id = ?") : QString()));
    if (runId > 0) q.addBindValue(runId);
    execQuery(q);
    QMap<qint64, QVector<PriceSegment>> out;
    while (q.next())
        out[q.value(0).toLongLong()].push_back(
            PriceSegment{q.value(1).toDouble(), q.value(2).toDouble(), q.value(3).toString()});
    return out;
}

void applyPriceChanges(RunRecord& r, const QVector<PriceSegment>& changes) {
    r.prices = PriceSchedule(r.pricePerHour);
    for (const auto& c : changes) r.prices.change(c.fromElapsed, *c.pricePerHour, c.setAt);
}

RunRecord runFrom(const QSqlQuery& q) {
    RunRecord r;
    r.id = q.value(0).toLongLong();
    r.name = q.value(1).toString();
    r.tags = jsonStrings(q.value(2));
    r.notes = q.value(3).toString();
    r.config = jsonObject(q.value(4));
    r.status = q.value(5).toString();
    r.message = q.value(6).toString();
    r.node = q.value(7).toString();
    r.hosts = jsonStrings(q.value(8));
    r.remoteDir = q.value(9).toString();
    r.pid = q.value(10).toLongLong();
    r.metricsOffset = q.value(11).toLongLong();
    r.pricePerHour = opt<double>(q.value(12));
    r.prices = PriceSchedule(r.pricePerHour);
    r.createdAt = q.value(13).toDouble();
    r.startedAt = opt<double>(q.value(14));
    r.endedAt = opt<double>(q.value(15));
    r.lastStep = opt<qint64>(q.value(16));
    r.stepsTotal = opt<qint64>(q.value(17));
    r.jobId = q.value(18).toString();
    r.jobState = q.value(19).toString();
    r.jobReason = q.value(20).toString();
    r.processesPerNode = q.value(21).toInt();
    r.worldSize = opt<int>(q.value(22));
    r.ownPrice = q.value(23).toBool();
    return r;
}

} // namespace

RunStore::RunStore(const QString& path) : d_(std::make_unique<Impl>()) {
    d_->path = path;
    d_->owner = QThread::currentThread();
    d_->connection = QStringLiteral("bcd-store-%1").arg(g_connections.fetchAndAddRelaxed(1));
    const QFileInfo fi(path);
    if (!QDir().mkpath(fi.absolutePath()))
        throw StoreError(path.toStdString() + ": cannot create the folder " +
                         fi.absolutePath().toStdString());
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE")))
        throw StoreError("the Qt SQLite driver (QSQLITE) is missing: install libqt6sql6-sqlite");
    d_->db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), d_->connection);
    d_->db.setDatabaseName(path);
    d_->db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
    try {
        if (!d_->db.open())
            throw StoreError(path.toStdString() +
                             ": cannot open: " + d_->db.lastError().text().toStdString());
        const QVariant h = d_->db.driver()->handle();
        if (!h.isValid() || qstrcmp(h.typeName(), "sqlite3*") != 0 ||
            !*static_cast<sqlite3* const*>(h.constData()))
            throw StoreError(path.toStdString() + ": the SQLite driver gave no connection handle");
        d_->handle = *static_cast<sqlite3* const*>(h.constData());
        schema::exec(d_->db, QStringLiteral("PRAGMA busy_timeout = 5000"));
        {
            // Nothing is written before the file is known to be a store this build can use: a
            // file that is not a database fails here, a newer schema right after, and a failed
            // migration rolls back in the file's own journal mode. Only then does the file switch
            // to WAL (which rewrites its header).
            QSqlQuery q(d_->db);
            if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next())
                throw StoreError(path.toStdString() + ": not a usable SQLite database: " +
                                 q.lastError().text().toStdString());
            schema::checkKnown(q.value(0).toInt(), path);
        }
        d_->versionFound = schema::migrate(d_->db, path, [this] { rebuildLod(); });
        {
            QSqlQuery q(d_->db);
            if (!q.exec(QStringLiteral("PRAGMA journal_mode = WAL")) || !q.next())
                throw StoreError(path.toStdString() + ": cannot switch to WAL journaling: " +
                                 q.lastError().text().toStdString());
            if (q.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0)
                throw StoreError(path.toStdString() + ": cannot switch to WAL journaling (mode " +
                                 q.value(0).toString().toStdString() + ")");
        }
        schema::exec(d_->db, QStringLiteral("PRAGMA synchronous = NORMAL"));
        schema::exec(d_->db, QStringLiteral("PRAGMA foreign_keys = ON"));
        QSqlQuery local = prepared(
            d_->db, QStringLiteral("INSERT INTO nodes(name, kind, created_at) VALUES('local', "
                                   "'local', ?) ON CONFLICT(name) DO NOTHING"));
        local.addBindValue(nowSeconds());
        execQuery(local);
    } catch (...) {
        d_->finalizeAll();
        d_->db.close();
        d_->db = QSqlDatabase();
        QSqlDatabase::removeDatabase(d_->connection);
        throw;
    }
}

RunStore::~RunStore() {
    d_->finalizeAll();
    d_->db.close();
    d_->db = QSqlDatabase();
    QSqlDatabase::removeDatabase(d_->connection);
}

QString RunStore::path() const {
    return d_->path;
}
void RunStore::interrupt() {
    if (d_->handle) sqlite3_interrupt(d_->handle);
}

int RunStore::schemaVersion() {
    return schema::userVersion(d_->db);
}
int RunStore::versionFoundOnOpen() const {
    return d_->versionFound;
}

QVariant RunStore::pragma(const QString& name) {
    d_->checkThread();
    for (QChar c : name)
        if (!(c.isLower() || c == '_'))
            throw StoreError("not a pragma name: " + name.toStdString());
    QSqlQuery q(d_->db);
    if (!q.exec(QStringLiteral("PRAGMA ") + name) || !q.next()) return {};
    return q.value(0);
}

// --- Nodes -----------------------------------------------------------------------------------

namespace {
// The settings columns of a node, in the order addNode and updateNode name them.
void bindNodeSettings(QSqlQuery& q, const NodeRecord& n) {
    q.addBindValue(orNull(n.host));
    q.addBindValue(n.port);
    q.addBindValue(orNull(n.user));
    q.addBindValue(orNull(n.identity));
    q.addBindValue(orNull(n.knownHosts));
    q.addBindValue(orNull(n.engine));
    q.addBindValue(orNull(n.runRoot));
    q.addBindValue(orNull(n.pricePerHour));
    q.addBindValue(n.jobDefaults.isEmpty() ? QVariant() : QVariant(jsonText(n.jobDefaults)));
}
} // namespace

qint64 RunStore::addNode(const NodeRecord& n) {
    d_->checkThread();
    if (node(n.name)) throw StoreError("node '" + n.name.toStdString() + "' already exists");
    QSqlQuery q =
        prepared(d_->db, QStringLiteral("INSERT INTO nodes(name, kind, host, port, user, identity, "
                                        "known_hosts, engine, run_root, "
                                        "price_per_hour, job_defaults, created_at) "
                                        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"));
    q.addBindValue(n.name);
    q.addBindValue(n.kind);
    bindNodeSettings(q, n);
    q.addBindValue(nowSeconds());
    execQuery(q);
    return q.lastInsertId().toLongLong();
}

std::optional<NodeRecord> RunStore::node(const QString& name) {
    d_->checkThread();
    QSqlQuery q = prepared(
        d_->db,
        QStringLiteral("SELECT %1 FROM nodes WHERE name = ?").arg(QLatin1String(kNodeColumns)));
    q.addBindValue(name);
    execQuery(q);
    if (!q.next()) return std::nullopt;
    return nodeFrom(q);
}

QVector<NodeRecord> RunStore::nodes() {
    d_->checkThread();
    QSqlQuery q =
        prepared(d_->db, QStringLiteral("SELECT %1 FROM nodes ORDER BY kind != 'local', name")
                             .arg(QLatin1String(kNodeColumns)));
    execQuery(q);
    QVector<NodeRecord> out;
    while (q.next()) out.push_back(nodeFrom(q));
    return out;
}

void RunStore::setNodeProbe(const QString& name, const QJsonObject& probe) {
    d_->checkThread();
    QSqlQuery q = prepared(
        d_->db, QStringLiteral("UPDATE nodes SET probe = ?, probed_at = ? WHERE name = ?"));
    q.addBindValue(jsonText(probe));
    q.addBindValue(nowSeconds());
    q.addBindValue(name);
    execQuery(q);
}

void RunStore::updateNode(const NodeRecord& n) {
    d_->checkThread();
    const auto old = node(n.name);
    if (!old) throw StoreError("no node '" + n.name.toStdString() + "'");
    const bool local = old->kind == QLatin1String("local");
    if (local) {
        if (n.kind != old->kind || n.host != old->host)
            throw StoreError("the node 'local' is this machine: its kind and host cannot change");
    } else if (n.kind == QLatin1String("local")) {
        throw StoreError("node '" + n.name.toStdString() + "' cannot become a local node");
    }
    const bool connectionChanged = n.host != old->host || n.port != old->port ||
                                   n.user != old->user || n.identity != old->identity ||
                                   n.knownHosts != old->knownHosts;
    QSqlQuery q = prepared(
        d_->db,
        QStringLiteral("UPDATE nodes SET kind = ?, host = ?, port = ?, user = ?, identity = ?, "
                       "known_hosts = ?, "
                       "engine = ?, run_root = ?, price_per_hour = ?, job_defaults = ?, "
                       "probe = CASE WHEN ? THEN NULL ELSE probe END, "
                       "probed_at = CASE WHEN ? THEN NULL ELSE probed_at END WHERE name = ?"));
    q.addBindValue(n.kind);
    bindNodeSettings(q, n);
    q.addBindValue(connectionChanged ? 1 : 0);
    q.addBindValue(connectionChanged ? 1 : 0);
    q.addBindValue(n.name);
    execQuery(q);
    if (q.numRowsAffected() == 0) throw StoreError("no node '" + n.name.toStdString() + "'");
}

void RunStore::removeNode(const QString& name) {
    d_->checkThread();
    if (name == QLatin1String("local")) throw StoreError("the node 'local' cannot be removed");
    QSqlQuery used = prepared(
        d_->db,
        QStringLiteral(
            "SELECT COUNT(*) FROM runs r JOIN nodes n ON n.id = r.node_id WHERE n.name = ?"));
    used.addBindValue(name);
    execQuery(used);
    if (used.next() && used.value(0).toLongLong() > 0)
        throw StoreError("node '" + name.toStdString() +
                         "' has runs; it stays while they are stored");
    QSqlQuery q = prepared(d_->db, QStringLiteral("DELETE FROM nodes WHERE name = ?"));
    q.addBindValue(name);
    execQuery(q);
    if (q.numRowsAffected() == 0) throw StoreError("no node '" + name.toStdString() + "'");
}

// --- Runs ------------------------------------------------------------------------------------

qint64 RunStore::createRun(const NewRun& r) {
    d_->checkThread();
    const auto n = node(r.node);
    if (!n) throw StoreError("no node '" + r.node.toStdString() + "'");
    QSqlQuery q = prepared(
        d_->db,
        QStringLiteral(
            "INSERT INTO runs(name, tags, notes, config, status, node_id, hosts, price_per_hour, "
            "steps_total, created_at, processes_per_node, world_size, own_price) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    q.addBindValue(r.name);
    q.addBindValue(jsonText(r.tags));
    q.addBindValue(r.notes.isNull() ? QStringLiteral("") : r.notes);
    q.addBindValue(jsonText(r.config));
    q.addBindValue(status::kStarting);
    q.addBindValue(n->id);
    q.addBindValue(jsonText(r.hosts));
    q.addBindValue(orNull(r.pricePerHour ? r.pricePerHour : n->pricePerHour));
    q.addBindValue(orNull(r.stepsTotal));
    q.addBindValue(nowSeconds());
    q.addBindValue(r.processesPerNode);
    q.addBindValue(orNull(r.worldSize));
    q.addBindValue(r.ownPrice && r.pricePerHour.has_value());
    execQuery(q);
    return q.lastInsertId().toLongLong();
}

std::optional<RunRecord> RunStore::run(qint64 id) {
    d_->checkThread();
    QSqlQuery q =
        prepared(d_->db, QStringLiteral("SELECT %1 FROM runs r JOIN nodes n ON n.id = r.node_id "
                                        "WHERE r.id = ?")
                             .arg(QLatin1String(kRunColumns)));
    q.addBindValue(id);
    execQuery(q);
    if (!q.next()) return std::nullopt;
    RunRecord r = runFrom(q);
    q.finish();
    applyPriceChanges(r, priceChanges(d_->db, id).value(id));
    return r;
}

QVector<RunRecord> RunStore::runs() {
    d_->checkThread();
    QSqlQuery q =
        prepared(d_->db, QStringLiteral("SELECT %1 FROM runs r JOIN nodes n ON n.id = r.node_id "
                                        "ORDER BY r.id")
                             .arg(QLatin1String(kRunColumns)));
    execQuery(q);
    QVector<RunRecord> out;
    while (q.next()) out.push_back(runFrom(q));
    q.finish();
    const auto changes = priceChanges(d_->db, 0);
    for (auto& r : out)
        if (const auto it = changes.constFind(r.id); it != changes.constEnd())
            applyPriceChanges(r, *it);
    return out;
}

void RunStore::updateRunInfo(qint64 id, const QString& name, const QStringList& tags,
                             const QString& notes) {
    d_->checkThread();
    if (name.trimmed().isEmpty())
        throw StoreError("run " + std::to_string(id) + ": the name is empty");
    QSqlQuery q = prepared(
        d_->db, QStringLiteral("UPDATE runs SET name = ?, tags = ?, notes = ? WHERE id = ?"));
    q.addBindValue(name);
    q.addBindValue(jsonText(tags));
    q.addBindValue(notes.isNull() ? QStringLiteral("") : notes);
    q.addBindValue(id);
    execQuery(q);
    if (q.numRowsAffected() == 0) throw StoreError("no run " + std::to_string(id));
}

void RunStore::deleteRun(qint64 id) {
    d_->checkThread();
    const auto r = run(id);
    if (!r) throw StoreError("no run " + std::to_string(id));
    if (!status::isTerminal(r->status))
        throw StoreError("run " + std::to_string(id) + " is " + r->status.toStdString() +
                         ": cancel it before deleting it");
    QSqlQuery q = prepared(d_->db, QStringLiteral("DELETE FROM runs WHERE id = ?"));
    q.addBindValue(id);
    execQuery(q); // points, levels of detail and events go with it (ON DELETE CASCADE)
}

void RunStore::setRunLocation(qint64 id, const QString& remoteDir, qint64 pid,
                              const QString& jobId) {
    d_->checkThread();
    QSqlQuery q = prepared(
        d_->db, QStringLiteral("UPDATE runs SET remote_dir = ?, pid = ?, job_id = ? WHERE id = ?"));
    q.addBindValue(remoteDir);
    q.addBindValue(pid);
    q.addBindValue(orNull(jobId));
    q.addBindValue(id);
    execQuery(q);
    if (q.numRowsAffected() == 0) throw StoreError("no run " + std::to_string(id));
}

void RunStore::setRunStatus(qint64 id, const QString& st, const QString& message) {
    d_->checkThread();
    if (!status::isValid(st)) throw StoreError("not a run status: " + st.toStdString());
    // Plain '?' placeholders: Qt's driver binds by position and does not know SQLite's ?N.
    QSqlQuery q = prepared(
        d_->db,
        QStringLiteral(
            "UPDATE runs SET status = ?, message = COALESCE(?, message), "
            "started_at = CASE WHEN ? = 'running' AND started_at IS NULL THEN ? ELSE started_at "
            "END, "
            "ended_at = CASE WHEN ? IN ('finished', 'failed', 'cancelled') THEN ? ELSE NULL END "
            "WHERE id = ?"));
    const double now = nowSeconds();
    q.addBindValue(st);
    q.addBindValue(message.isEmpty() ? QVariant() : QVariant(message));
    q.addBindValue(st);
    q.addBindValue(now);
    q.addBindValue(st);
    q.addBindValue(now);
    q.addBindValue(id);
    execQuery(q);
    if (q.numRowsAffected() == 0) throw StoreError("no run " + std::to_string(id));
}

void RunStore::setRunJobState(qint64 id, const QString& jobState, const QString& reason) {
    d_->checkThread();
    static const QStringList waiting{QStringLiteral("PENDING"), QStringLiteral("REQUEUED"),
                                     QStringLiteral("REQUEUE_HOLD"), QStringLiteral("SUSPENDED"),
                                     QStringLiteral("CONFIGURING")};
    const QString follow = waiting.contains(jobState)             ? status::kQueued
                           : jobState == QLatin1String("RUNNING") ? status::kRunning
                                                                  : QString();
    QSqlQuery q = prepared(
        d_->db,
        QStringLiteral(
            "UPDATE runs SET job_state = ?, job_reason = ?, "
            "status = CASE WHEN ? <> '' AND status NOT IN ('finished', 'failed', 'cancelled') "
            "THEN ? ELSE status END, "
            "started_at = CASE WHEN ? = 'running' AND started_at IS NULL THEN ? ELSE started_at "
            "END WHERE id = ?"));
    q.addBindValue(jobState);
    q.addBindValue(reason);
    q.addBindValue(follow);
    q.addBindValue(follow);
    q.addBindValue(follow);
    q.addBindValue(nowSeconds());
    q.addBindValue(id);
    execQuery(q);
    if (q.numRowsAffected() == 0) throw StoreError("no run " + std::to_string(id));
}

void RunStore::addRunPrice(qint64 runId, double fromElapsed, double pricePerHour) {
    d_->checkThread();
    if (!(pricePerHour >= 0))
        throw StoreError("run " + std::to_string(runId) + ": price per hour " +
                         std::to_string(pricePerHour) + ": expected a number >= 0");
    if (!run(runId)) throw StoreError("no run " + std::to_string(runId));
    QSqlQuery q = prepared(d_->db, QStringLiteral("INSERT OR REPLACE INTO run_prices(run_id, "
                                                  "from_elapsed, price_per_hour, set_at) "
                                                  "VALUES(?,?,?,?)"));
    q.addBindValue(runId);
    q.addBindValue(std::max(0.0, fromElapsed));
    q.addBindValue(pricePerHour);
    q.addBindValue(QDateTime::currentDateTimeUtc().toString(Qt::ISODate));
    execQuery(q);
}

std::optional<double> RunStore::latestElapsed(qint64 runId) {
    d_->checkThread();
    QSqlQuery q = prepared(d_->db, QStringLiteral("SELECT elapsed FROM metric_points WHERE "
                                                  "run_id = ? AND type = ? AND elapsed IS NOT "
                                                  "NULL ORDER BY step DESC LIMIT 1"));
    q.addBindValue(runId);
    q.addBindValue(static_cast<int>(PointType::Step));
    execQuery(q);
    return q.next() ? std::optional<double>(q.value(0).toDouble()) : std::nullopt;
}

void RunStore::transaction(const std::function<void()>& work) {
    d_->checkThread();
    schema::exec(d_->db, QStringLiteral("BEGIN IMMEDIATE"));
    try {
        work();
    } catch (...) {
        QSqlQuery(d_->db).exec(QStringLiteral("ROLLBACK"));
        throw;
    }
    schema::exec(d_->db, QStringLiteral("COMMIT"));
}

void RunStore::addEvent(qint64 runId, const QString& kind, const QJsonObject& data) {
    d_->checkThread();
    QSqlQuery q =
        prepared(d_->db, QStringLiteral("INSERT INTO events(run_id, source, kind, step, time, "
                                        "data) VALUES(?, 'workbench', ?, NULL, ?, ?)"));
    q.addBindValue(runId);
    q.addBindValue(kind);
    q.addBindValue(nowSeconds());
    q.addBindValue(jsonText(data));
    execQuery(q);
}

QVector<EventRecord> RunStore::events(qint64 runId) {
    d_->checkThread();
    QSqlQuery q = prepared(
        d_->db,
        QStringLiteral(
            "SELECT id, source, kind, step, time, data FROM events WHERE run_id = ? ORDER BY id"));
    q.addBindValue(runId);
    execQuery(q);
    QVector<EventRecord> out;
    while (q.next()) {
        EventRecord e;
        e.id = q.value(0).toLongLong();
        e.source = q.value(1).toString();
        e.kind = q.value(2).toString();
        e.step = opt<qint64>(q.value(3));
        e.time = q.value(4).toDouble();
        e.data = jsonObject(q.value(5));
        out.push_back(e);
    }
    return out;
}

QVector<PhaseRecord> RunStore::phases(qint64 runId) {
    d_->checkThread();
    QSqlQuery q = prepared(d_->db, QStringLiteral("SELECT phase, step, state, done, total, bytes, "
                                                  "phase_s, elapsed, updated_at FROM run_phases "
                                                  "WHERE run_id = ? ORDER BY step, updated_at"));
    q.addBindValue(runId);
    execQuery(q);
    QVector<PhaseRecord> out;
    while (q.next()) {
        PhaseRecord p;
        p.phase = q.value(0).toString();
        p.step = q.value(1).toLongLong();
        p.state = q.value(2).toString();
        p.done = opt<qint64>(q.value(3));
        p.total = opt<qint64>(q.value(4));
        p.bytes = opt<qint64>(q.value(5));
        p.seconds = q.value(6).toDouble();
        p.elapsed = opt<double>(q.value(7));
        p.updatedAt = q.value(8).toDouble();
        out.push_back(p);
    }
    // In the order they happened: by step, then by the run's elapsed time where known (an
    // evaluation and a checkpoint after the same step); a phase that has not ended comes after
    // those that have (it began last).
    std::stable_sort(out.begin(), out.end(), [](const PhaseRecord& a, const PhaseRecord& b) {
        if (a.step != b.step) return a.step < b.step;
        if (a.elapsed && b.elapsed && *a.elapsed != *b.elapsed) return *a.elapsed < *b.elapsed;
        return a.ended() && !b.ended();
    });
    return out;
}

QJsonObject RunStore::startRecord(qint64 runId) {
    d_->checkThread();
    QSqlQuery q = prepared(d_->db, QStringLiteral("SELECT data FROM events WHERE run_id = ? AND "
                                                  "kind = 'start' AND source = 'engine' "
                                                  "ORDER BY id DESC LIMIT 1"));
    q.addBindValue(runId);
    execQuery(q);
    return q.next() ? jsonObject(q.value(0)) : QJsonObject();
}

// --- CSV -------------------------------------------------------------------------------------

void RunStore::writeCsv(qint64 runId, QIODevice& out) {
    d_->checkThread();
    writeMetricsCsv(*this, {runId}, out, false);
}

void RunStore::exportCsv(qint64 runId, const QString& file) {
    if (!run(runId)) throw StoreError("no run " + std::to_string(runId));
    exportMetricsCsv(*this, {runId}, file, false);
}

} // namespace bcd::store
