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

StoreService::StoreService(const QString& path, QObject* parent) : QObject(parent), path_(path) {
    qRegisterMetaType<bcd::store::IngestResult>();
    thread_.setObjectName(QStringLiteral("bcd-store"));
    worker_ = new StoreWorker;
    worker_->moveToThread(&thread_);
    thread_.start();
    QMetaObject::invokeMethod(
        worker_,
        [this, w = worker_, path] {
            int version = 0;
            QString error;
            try {
                w->store = std::make_unique<RunStore>(path);
                version = w->store->schemaVersion();
            } catch (const std::exception& e) {
                error = messageOf(e);
                w->openError = error;
            }
            QMetaObject::invokeMethod(
                this,
                [this, version, error] {
                    if (error.isEmpty())
                        emit opened(version);
                    else
                        emit openFailed(error);
                },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
}

StoreService::~StoreService() {
    if (thread_.isRunning()) {
        QMetaObject::invokeMethod(
            worker_,
            [w = worker_] {
                w->store.reset();
                QThread::currentThread()->quit();
            },
            Qt::QueuedConnection);
        if (!thread_.wait(shutdownTimeoutMs)) {
            qWarning("bcd-store: the store thread did not stop within %d ms; terminating it",
                     shutdownTimeoutMs);
            thread_.terminate();
            thread_.wait();
        }
    }
    delete worker_;
}

void StoreService::post(quint64 id, Work work) {
    QMetaObject::invokeMethod(
        worker_,
        [this, w = worker_, id, work = std::move(work)]() mutable {
            std::shared_ptr<void> result;
            std::optional<QString> error;
            try {
                result = work(w->get());
            } catch (const std::exception& e) {
                error = messageOf(e);
            }
            QMetaObject::invokeMethod(
                this, [this, id, result, error] { complete(id, result, error); },
                Qt::QueuedConnection);
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
    Q_ASSERT(QThread::currentThread() != &thread_);
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
