#pragma once
// The store's schema and its migrations, versioned by PRAGMA user_version (docs/workbench.md).

#include <QSqlDatabase>
#include <QString>
#include <functional>
#include <string>

namespace bcd::store::schema {

inline constexpr int kVersion = 6;

// Levels of detail of metric_lod: level L summarises kLodFactor^L consecutive steps.
inline constexpr int kLodFactor = 16;
inline constexpr int kLodLevels = 4;

// The CREATE TABLE of metric_lod (one row per (run, type, level, bucket), every column's extremes).
std::string lodTableSql();

// Brings the database to kVersion, one migration per version, each in its own transaction with
// foreign keys off (SQLite's procedure for table rebuilds) and checked afterwards. `rebuildLod`
// runs inside the 4 → 5 transaction, after metric_points has its last columns (the system
// figures). Throws
// StoreError (naming `path`) for a newer schema than this build knows or a failed statement; a
// failed migration leaves the file as it was. Returns the version found before migrating. Each step
// reads the version again inside its write transaction, so that two connections opening a store at
// once migrate it once.
int migrate(QSqlDatabase& db, const QString& path, const std::function<void()>& rebuildLod);

// Throws StoreError (naming `path`) when `version` is newer than this build's schema.
void checkKnown(int version, const QString& path);

// Executes one statement (Qt 6.4's driver runs one per exec); throws StoreError with the SQL.
void exec(QSqlDatabase& db, const QString& sql);

int userVersion(QSqlDatabase& db);

} // namespace bcd::store::schema
