#pragma once
// A prepared statement on the store's own connection, for the two hot paths (ingestion and
// series queries), where QSqlQuery's per-row QVariant conversions cost more than SQLite itself
// (bench/bench_store.cpp measures both). Everything else goes through QSqlQuery.

#include "store/store_types.h"

#include <optional>
#include <sqlite3.h>
#include <string>

namespace bcd::store {

class SqliteStatement {
public:
    SqliteStatement() = default;
    SqliteStatement(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
            SQLITE_OK)
            throw StoreError(std::string("cannot prepare a statement: ") + sqlite3_errmsg(db) +
                             " (" + sql + ")");
    }
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;
    SqliteStatement(SqliteStatement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) {
        o.stmt_ = nullptr;
    }
    SqliteStatement& operator=(SqliteStatement&& o) noexcept {
        if (this != &o) {
            sqlite3_finalize(stmt_);
            db_ = o.db_;
            stmt_ = o.stmt_;
            o.stmt_ = nullptr;
        }
        return *this;
    }
    ~SqliteStatement() { sqlite3_finalize(stmt_); }

    void bind(int i, qint64 v) { check(sqlite3_bind_int64(stmt_, i, v)); }
    void bind(int i, double v) { check(sqlite3_bind_double(stmt_, i, v)); }
    void bind(int i, const std::string& v) {
        check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    void bindText(int i, const char* data, int size) {
        check(sqlite3_bind_text(stmt_, i, data, size, SQLITE_TRANSIENT));
    }
    void bindNull(int i) { check(sqlite3_bind_null(stmt_, i)); }
    void bind(int i, const std::optional<double>& v, bool integer) {
        if (!v)
            bindNull(i);
        else if (integer)
            bind(i, static_cast<qint64>(*v));
        else
            bind(i, *v);
    }

    // Runs a statement that returns no rows, then resets it.
    void exec() {
        const int rc = sqlite3_step(stmt_);
        sqlite3_reset(stmt_);
        if (rc != SQLITE_DONE) throw StoreError(std::string("SQLite: ") + sqlite3_errmsg(db_));
    }
    // Steps a query: true while there is a row. Call reset() when done.
    bool next() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc != SQLITE_DONE) {
            sqlite3_reset(stmt_);
            throw StoreError(std::string("SQLite: ") + sqlite3_errmsg(db_));
        }
        return false;
    }
    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

    bool isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    qint64 int64(int col) const { return sqlite3_column_int64(stmt_, col); }
    double real(int col) const { return sqlite3_column_double(stmt_, col); }
    std::optional<double> optReal(int col) const {
        if (isNull(col)) return std::nullopt;
        return real(col);
    }

private:
    void check(int rc) const {
        if (rc != SQLITE_OK) throw StoreError(std::string("SQLite bind: ") + sqlite3_errmsg(db_));
    }

    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE … COMMIT, rolled back when left by an exception.
class SqliteTransaction {
public:
    explicit SqliteTransaction(sqlite3* db) : db_(db) { run("BEGIN IMMEDIATE"); }
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;
    ~SqliteTransaction() {
        if (db_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void commit() {
        run("COMMIT");
        db_ = nullptr;
    }

private:
    void run(const char* sql) {
        if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
            throw StoreError(std::string("SQLite ") + sql + ": " + sqlite3_errmsg(db_));
    }
    sqlite3* db_;
};

} // namespace bcd::store
