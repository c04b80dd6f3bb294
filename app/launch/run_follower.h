#pragma once
// RunFollower: one run's connection to its node, on a worker thread of its own (with its own
// launcher session: one SSH session per thread). It starts the engine (or re-attaches to it),
// tails metrics.jsonl from the store's offset — one chunk in flight: the next read starts where
// the store's acknowledgement says the last one ended, so nothing is lost or read twice — notices
// when the process is gone, reads the final state, and sends SIGTERM then SIGKILL on cancel.
// Connection failures are retried with backoff; the engine runs on regardless.
//
// RunController creates and wires it; its slots are invoked queued, on its thread.

#include "launch/launcher.h"
#include "store/store_types.h"

#include <QDeadlineTimer>
#include <QObject>
#include <QTimer>
#include <atomic>
#include <memory>

namespace bcd::launch {

class RunFollower : public QObject {
    Q_OBJECT
public:
    static constexpr qint64 kChunkBytes = 4 << 20;
    // How long a run whose folder holds neither engine.pid nor status.json is looked at before it
    // is stored as never started (a launch by another workbench may be about to spawn it).
    static constexpr int kLocateGraceMs = 3000;

    RunFollower(qint64 runId, const store::NodeRecord& node, LauncherPlugin* plugin,
                const LauncherContext& ctx);
    ~RunFollower() override;

    qint64 runId() const { return runId_; }

    // On the follower's thread:
    void launch(const bcd::launch::LaunchRequest& request);
    // Starts the run in its folder again from its newest checkpoint, then follows it from
    // `offset` (the store's).
    void resume(const bcd::launch::RunLocation& at, qint64 offset);
    void follow(const bcd::launch::RunLocation& at, qint64 offset);
    void acknowledge(qint64 storedOffset); // where the store's consumption of the last chunk ended
    void cancel(int graceMs);
    void shutdown(); // stops polling and closes the session
    // Any thread, before shutdown() is queued: a launch in progress stops at its next check
    // (LaunchRequest::stopRequested) and starts nothing.
    void requestStop() { stop_->store(true); }

signals:
    void launched(qint64 runId, const bcd::launch::RunLocation& at);
    void launchFailed(qint64 runId, const QString& message, bool badInput);
    void metricsRead(qint64 runId, qint64 offset, const QByteArray& data);
    void ended(qint64 runId, const QString& status, const QString& message);
    void problem(qint64 runId, const QString& message);
    // The scheduler's state of the run's job changed (Slurm: PENDING and its reason, RUNNING,
    // TIMEOUT, ...); empty for a plain process.
    void jobState(qint64 runId, const QString& state, const QString& reason);
    void signalSent(qint64 runId, int signal);
    // Following a run whose pid was never stored, its engine was found by the pid in the run
    // folder (engine.pid or status.json).
    void located(qint64 runId, const bcd::launch::RunLocation& at);

private:
    void poll();
    bool openSession(LaunchFailure* failure);
    template <class Start> void startWith(Start&& start, bool fresh);
    void observe(); // throws (the poll's retry catches it)
    void schedule(int ms);
    void finish();
    bool locate(); // false: not found (yet: a retry is scheduled; else ended() was emitted)
    int interval() const;

    qint64 runId_;
    store::NodeRecord node_;
    LauncherPlugin* plugin_;
    LauncherContext ctx_;
    std::unique_ptr<LauncherSession> session_;
    int sessionInterval_ = 1000;
    QTimer timer_;
    RunLocation at_;
    qint64 offset_ = 0;
    bool following_ = false;
    bool awaitingAck_ = false;
    bool lastChunkFull_ = false;
    bool gone_ = false;
    bool alive_ = false;
    RunObservation observed_;
    bool done_ = false;
    int failures_ = 0;
    // Cancel: requested → SIGTERM sent → SIGKILL after the grace period.
    bool cancelRequested_ = false;
    bool termSent_ = false;
    bool termDelivered_ = false; // SIGTERM reached a running engine
    bool killed_ = false;
    int graceMs_ = 30000;
    QDeadlineTimer killAt_;
    QDeadlineTimer locateGrace_{QDeadlineTimer::Forever}; // started by the first failed locate()
    std::shared_ptr<std::atomic<bool>> stop_ = std::make_shared<std::atomic<bool>>(false);
};

} // namespace bcd::launch

Q_DECLARE_METATYPE(bcd::launch::RunLocation)
Q_DECLARE_METATYPE(bcd::launch::LaunchRequest)
