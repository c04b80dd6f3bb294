#pragma once
// RunStore's private state, shared by run_store.cpp, ingest.cpp and series.cpp.

#include "store/run_store.h"
#include "store/sqlite_statement.h"

#include <QSqlDatabase>
#include <QThread>
#include <array>
#include <map>

namespace bcd::store {

struct RunStore::Impl {
    QString path;
    QString connection;
    QSqlDatabase db;
    sqlite3* handle = nullptr;
    QThread* owner = nullptr;
    int versionFound = 0;

    // Prepared on first use, finalized before the connection closes.
    std::unique_ptr<SqliteStatement> runOffset, setOffset, upsertPoint, upsertEvent, setStatus;
    std::unique_ptr<SqliteStatement> setWorldSize, upsertPhase;
    std::unique_ptr<SqliteStatement> lodRaw, lodUpper, lodWrite, stepRange;
    std::map<int, SqliteStatement> rawColumn, lodColumn;

    SqliteStatement& stmt(std::unique_ptr<SqliteStatement>& slot, const char* sql) {
        if (!slot) slot = std::make_unique<SqliteStatement>(handle, sql);
        return *slot;
    }
    void finalizeAll() {
        runOffset.reset();
        setOffset.reset();
        upsertPoint.reset();
        upsertEvent.reset();
        setStatus.reset();
        setWorldSize.reset();
        upsertPhase.reset();
        lodRaw.reset();
        lodUpper.reset();
        lodWrite.reset();
        stepRange.reset();
        rawColumn.clear();
        lodColumn.clear();
    }
    void checkThread() const;

    // Recomputes the levels of detail of steps [lo, hi] of one (run, type) (ingest.cpp).
    void updateLod(qint64 runId, int type, qint64 lo, qint64 hi);
};

double nowSeconds();

} // namespace bcd::store
