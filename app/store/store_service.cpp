#include "store/store_service.h"

#include <QCoreApplication>
#include <QDebug>
#include <exception>

namespace bcd::store {

// Lives on the store thread; owns the connection, which is opened and closed there.
class StoreWorker : public QObject {
public:
    std::unique_ptr<RunStore> store;
    QString openError;
    std::mutex storeMutex; // guards `store` being replaced against interrupt() from other threads

    void close() {
        std::lock_guard lock(storeMutex);
        store.reset();
    }
    void interrupt() {
        std::lock_guard lock(storeMutex);
        if (store) store->interrupt();
    }

    RunStore& get() {
        if (!store)
            throw StoreError(openError.isEmpty() ? std::string("the store is closed")
                                                 : openError.toStdString());
        return *store;
    }
};

namespace {
// Only std::exception is caught: anything else (a thread's forced unwind among them) must pass.
QString messageOf(const std::exception& e) {
    return QString::fromUtf8(e.what());
}
} // namespace

StoreService::StoreService(const QString& path, QObject* parent)
    : QObject(parent), path_(path), link_(std::make_shared<Link>()) {
    qRegisterMetaType<bcd::store::IngestResult>();
    link_->service = this;
    thread_ = new QThread;
    thread_->setObjectName(QStringLiteral("bcd-store"));
    worker_ = new StoreWorker;
    worker_->moveToThread(thread_);
    thread_->start();
    QMetaObject::invokeMethod(
        worker_,
        [link = link_, w = worker_, path] {
            int version = 0;
            QString error;
            try {
                auto opened = std::make_unique<RunStore>(path);
                version = opened->schemaVersion();
                std::lock_guard lock(w->storeMutex);
                w->store = std::move(opened);
            } catch (const std::exception& e) {
                error = messageOf(e);
                w->openError = error;
            }
            postBack(link, [version, error](StoreService* self) {
                if (error.isEmpty())
                    emit self->opened(version);
                else
                    emit self->openFailed(error);
            });
        },
        Qt::QueuedConnection);
}

StoreService::~StoreService() {
    if (thread_->isRunning()) {
        QMetaObject::invokeMethod(
            worker_,
            [w = worker_] {
                w->close();
                QThread::currentThread()->quit();
            },
            Qt::QueuedConnection);
        if (!thread_->wait(shutdownTimeoutMs)) {
            qWarning("bcd-store: the store thread is still busy after %d ms; interrupting its "
                     "statement",
                     shutdownTimeoutMs);
            worker_->interrupt();
            if (!thread_->wait(shutdownTimeoutMs)) {
                // Never killed mid-call: it may hold the database's write lock or be inside
                // SQLite. It ends on its own (busy_timeout bounds a wait for a lock); what it
                // answers then goes nowhere.
                qWarning("bcd-store: the store thread did not stop; it is left to finish its call "
                         "(%s)",
                         qPrintable(path_));
                std::lock_guard lock(link_->mutex);
                link_->service = nullptr;
                return;
            }
        }
    }
    {
        std::lock_guard lock(link_->mutex);
        link_->service = nullptr;
    }
    delete worker_;
    delete thread_;
}

void StoreService::postBack(const std::shared_ptr<Link>& link,
                            std::function<void(StoreService*)> fn) {
    // Under the lock, the service cannot be destroyed before the call is queued; a queued call
    // to a destroyed object is dropped by Qt.
    std::lock_guard lock(link->mutex);
    if (StoreService* self = link->service)
        QMetaObject::invokeMethod(
            self, [self, fn = std::move(fn)] { fn(self); }, Qt::QueuedConnection);
}

void StoreService::post(quint64 id, Work work) {
    QMetaObject::invokeMethod(
        worker_,
        [link = link_, w = worker_, id, work = std::move(work)]() mutable {
            std::shared_ptr<void> result;
            std::optional<QString> error;
            try {
                result = work(w->get());
            } catch (const std::exception& e) {
                error = messageOf(e);
            }
            postBack(link, [id, result, error](StoreService* self) {
                self->complete(id, result, error);
            });
        },
        Qt::QueuedConnection);
}

void StoreService::complete(quint64 id, const std::shared_ptr<void>& result,
                            const std::optional<QString>& error) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending p = std::move(it.value());
    pending_.erase(it);
    if (p.hasContext && !p.context) return;
    if (!error) {
        p.done(result);
    } else if (p.fail) {
        p.fail(*error);
    } else {
        emit this->error(*error);
    }
}

void StoreService::runBlocking(const std::function<void(RunStore&)>& fn,
                               std::optional<QString>* error) {
    Q_ASSERT(QThread::currentThread() != thread_);
    QMetaObject::invokeMethod(
        worker_,
        [w = worker_, &fn, error] {
            try {
                fn(w->get());
            } catch (const std::exception& e) {
                *error = messageOf(e);
            }
        },
        Qt::BlockingQueuedConnection);
}

void StoreService::ingest(qint64 runId, qint64 offset, const QByteArray& data) {
    call([runId, offset, data](RunStore& s) { return s.ingest(runId, offset, data); }, this,
         [this, runId](const IngestResult& r) {
             emit ingested(runId, r);
             if (r.points > 0 || r.events > 0 || r.malformed > 0) emit newData(runId);
         },
         [this, runId](const QString& message) { emit ingestFailed(runId, message); });
}

} // namespace bcd::store
