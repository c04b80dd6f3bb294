#pragma once
// StoreService: a RunStore on its own worker thread (STYLE.md: one worker thread per SQLite
// connection). Callers post work with call(); results come back as queued callbacks on the
// caller's thread, dropped when the context object is gone. The GUI never blocks on the store.
//
//   store.call([](RunStore& s) { return s.runs(); }, this,
//              [this](const QVector<RunRecord>& runs) { model_->setRuns(runs); });
//
// Shutdown is bounded and never kills: the destructor asks the thread to finish its current call
// and close the connection and waits up to shutdownTimeoutMs; then it interrupts the statement
// running (sqlite3_interrupt, whose transaction rolls back) and waits as long again; a thread
// still busy after that is left to end on its own, with a warning, its results dropped.

#include "store/run_store.h"

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QThread>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>

namespace bcd::store {

class StoreWorker;

class StoreService : public QObject {
    Q_OBJECT
public:
    // Starts the thread and opens the store there; opened() or openFailed() follows.
    explicit StoreService(const QString& path, QObject* parent = nullptr);
    ~StoreService() override;

    QString path() const { return path_; }
    int shutdownTimeoutMs = 10000;

    // Runs fn(RunStore&) on the store thread. Then, on this object's thread, done(result) — or
    // fail(message) when fn threw (without fail: the error() signal). With a context, the
    // callbacks are dropped once the context is destroyed.
    template <class Fn, class Done>
    void call(Fn fn, QObject* context, Done done, std::function<void(const QString&)> fail = {}) {
        using R = std::invoke_result_t<Fn&, RunStore&>;
        Pending p;
        p.context = context;
        p.hasContext = context != nullptr;
        p.fail = std::move(fail);
        if constexpr (std::is_void_v<R>) {
            p.done = [done = std::move(done)](const std::shared_ptr<void>&) mutable { done(); };
        } else {
            p.done = [done = std::move(done)](const std::shared_ptr<void>& r) mutable {
                done(*static_cast<const R*>(r.get()));
            };
        }
        const quint64 id = ++nextCall_;
        pending_.insert(id, std::move(p));
        post(id, [fn = std::move(fn)](RunStore& s) mutable -> std::shared_ptr<void> {
            if constexpr (std::is_void_v<R>) {
                fn(s);
                return nullptr;
            } else {
                return std::make_shared<R>(fn(s));
            }
        });
    }

    // Runs fn on the store thread and waits for it; rethrows its error as StoreError. For
    // threads that may block (the CLI, tests) — never the GUI thread.
    template <class Fn> auto callBlocking(Fn fn) -> std::invoke_result_t<Fn&, RunStore&> {
        using R = std::invoke_result_t<Fn&, RunStore&>;
        std::shared_ptr<void> result;
        std::optional<QString> error;
        runBlocking(
            [&](RunStore& s) {
                if constexpr (std::is_void_v<R>)
                    fn(s);
                else
                    result = std::make_shared<R>(fn(s));
            },
            &error);
        if (error) throw StoreError(error->toStdString());
        if constexpr (!std::is_void_v<R>) return std::move(*static_cast<R*>(result.get()));
    }

    // Ingests bytes of a run's metrics.jsonl (RunStore::ingest); ingested() reports the outcome,
    // newData() follows when points or events were stored.
    void ingest(qint64 runId, qint64 offset, const QByteArray& data);

signals:
    void opened(int schemaVersion);
    void openFailed(const QString& message);
    void ingested(qint64 runId, const bcd::store::IngestResult& result);
    void ingestFailed(qint64 runId, const QString& message);
    // New points or events for a run: views pull what they show (25–60 Hz at most).
    void newData(qint64 runId);
    void error(const QString& message);

private:
    struct Pending {
        QPointer<QObject> context;
        bool hasContext = false;
        std::function<void(const std::shared_ptr<void>&)> done;
        std::function<void(const QString&)> fail;
    };
    using Work = std::function<std::shared_ptr<void>(RunStore&)>;
    void post(quint64 id, Work work);
    void complete(quint64 id, const std::shared_ptr<void>& result,
                  const std::optional<QString>& error);
    void runBlocking(const std::function<void(RunStore&)>& fn, std::optional<QString>* error);

    // What the store thread calls back into; cleared when this object goes before the thread.
    struct Link {
        std::mutex mutex;
        StoreService* service = nullptr;
    };
    // On the store thread: fn(service) on this object's thread, unless this object is gone.
    static void postBack(const std::shared_ptr<Link>& link, std::function<void(StoreService*)> fn);

    QString path_;
    QThread* thread_ = nullptr; // left running, not deleted, when a shutdown runs out of time
    StoreWorker* worker_ = nullptr;
    std::shared_ptr<Link> link_;
    quint64 nextCall_ = 0;
    QHash<quint64, Pending> pending_;
};

} // namespace bcd::store
