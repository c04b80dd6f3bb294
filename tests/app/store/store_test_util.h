#pragma once
// Helpers of the store tests: stores in fresh folders, raw SQLite access to set up files the
// workbench itself would never write, and file bytes for "left unchanged" checks.

#include "store/run_store.h"
#include "test_runs.h"

#include <QCryptographicHash>
#include <QFile>
#include <QString>
#include <sqlite3.h>
#include <stdexcept>

namespace bcd::test {

inline QByteArray fileBytes(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

inline bool writeBytes(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
}

// Runs statements on a database file through the plain SQLite API (foreign keys off, as the
// sqlite3 shell has them); returns SQLite's error text, empty on success.
inline QString rawSql(const QString& path, const char* sql) {
    sqlite3* db = nullptr;
    QString error;
    if (sqlite3_open_v2(path.toUtf8().constData(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
        SQLITE_OK) {
        error = QString::fromUtf8(sqlite3_errmsg(db));
    } else {
        char* msg = nullptr;
        if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK)
            error = QString::fromUtf8(msg);
        sqlite3_free(msg);
    }
    sqlite3_close(db);
    return error;
}

// One integer from a query on a database file (-1 on error).
inline qint64 rawInt(const QString& path, const char* sql) {
    sqlite3* db = nullptr;
    qint64 v = -1;
    if (sqlite3_open_v2(path.toUtf8().constData(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

// The committed v1 fixture copied into `dir` (writable), its path.
inline QString copyV1Fixture(const QString& dir) {
    const QString src = sourceDir() + QStringLiteral("/tests/app/fixtures/store-v1.sqlite");
    const QString dst = dir + QStringLiteral("/store-v1.sqlite");
    QFile::remove(dst);
    if (!QFile::copy(src, dst)) return {};
    QFile::setPermissions(dst, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    return dst;
}

// A store with one run on "local"; returns the run's id.
inline qint64 addRun(store::RunStore& s, const QString& name = QStringLiteral("r"),
                     const QString& node = QStringLiteral("local")) {
    store::NewRun r;
    r.name = name;
    r.node = node;
    r.config = QJsonObject{{"model", QJsonObject{{"path", "/m"}}}};
    return s.createRun(r);
}

} // namespace bcd::test
