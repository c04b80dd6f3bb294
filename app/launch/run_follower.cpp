#include "launch/run_follower.h"

#include "launch/run_files.h"
#include "nodes/local_probe.h"
#include "nodes/ssh_session.h"
#include "store/run_status.h"

#include <algorithm>
#include <csignal>

namespace bcd::launch {

RunFollower::RunFollower(qint64 runId, const store::NodeRecord& node, LauncherPlugin* plugin,
                         const LauncherContext& ctx)
    : runId_(runId), node_(node), plugin_(plugin), ctx_(ctx), timer_(this) {
    timer_.setSingleShot(true);
    connect(&timer_, &QTimer::timeout, this, &RunFollower::poll);
}

RunFollower::~RunFollower() = default;

int RunFollower::interval() const {
    return ctx_.pollMs > 0 ? ctx_.pollMs : sessionInterval_;
}

void RunFollower::schedule(int ms) {
    if (!done_) timer_.start(ms);
}

bool RunFollower::openSession(LaunchFailure* failure) {
    // The GUI asks for the engine's version without waiting (EngineVersionCheck); a launch or
    // attach that comes first asks here, on this worker thread, so that a node's engine is never
    // accepted against an unknown version.
    if (ctx_.localEngineVersion.isEmpty() && !ctx_.localEngine.isEmpty())
        ctx_.localEngineVersion = nodes::localEngineVersion(ctx_.localEngine);
    auto opened = plugin_->open(node_, ctx_);
    if (!opened) {
        *failure = opened.failure();
        return false;
    }
    session_ = std::move(opened.value());
    if (!session_) {
        *failure = {LaunchFailure::Kind::Failed,
                    QStringLiteral("the '%1' launcher plugin opened no session").arg(node_.kind),
                    std::nullopt,
                    {}};
        return false;
    }
    sessionInterval_ = session_->pollIntervalMs();
    return true;
}

void RunFollower::launch(const LaunchRequest& request) {
    LaunchRequest req = request;
    req.stopRequested = [stop = stop_] { return stop->load(); };
    if (req.recordFolder)
        req.recordFolder = [stop = stop_, record = req.recordFolder](const QString& dir) {
            // A closing host may be past its store: nothing is stored, nothing started.
            return stop->load() ? QStringLiteral("the workbench is closing") : record(dir);
        };
    startWith([&] { return session_->start(req); }, true);
}

void RunFollower::resume(const RunLocation& at, qint64 offset) {
    offset_ = offset;
    startWith([&] { return session_->resume(at); }, false);
}

template <class Start> void RunFollower::startWith(Start&& start, bool fresh) {
    LaunchFailure failure;
    std::optional<Outcome<RunLocation>> started;
    if (openSession(&failure)) {
        started.emplace(start());
        if (!started->ok()) failure = started->failure();
    }
    if (!started || !started->ok()) {
        done_ = true;
        session_.reset();
        // An unknown or changed host key needs a person's decision, like bad input (CLI exit 2).
        emit launchFailed(runId_, failure.message, failure.badInput() || failure.hostKeyRefused());
        return;
    }
    at_ = started->value();
    emit launched(runId_, at_);
    if (fresh)
        follow(at_, 0);
    else
        follow(at_, offset_);
}

void RunFollower::follow(const RunLocation& at, qint64 offset) {
    at_ = at;
    offset_ = offset;
    following_ = true;
    schedule(0);
}

void RunFollower::acknowledge(qint64 storedOffset) {
    awaitingAck_ = false;
    offset_ = storedOffset;
    schedule(lastChunkFull_ ? 0 : interval());
}

void RunFollower::cancel(int graceMs) {
    cancelRequested_ = true;
    graceMs_ = graceMs;
    if (!awaitingAck_) schedule(0);
}

void RunFollower::shutdown() {
    done_ = true;
    timer_.stop();
    session_.reset();
}

void RunFollower::observe() {
    const RunObservation o = session_->observe(at_).take();
    alive_ = o.alive;
    if (o.jobState != observed_.jobState || o.reason != observed_.reason) {
        observed_ = o;
        emit jobState(runId_, o.jobState, o.reason);
    }
}

void RunFollower::poll() {
    if (done_ || !following_ || awaitingAck_) return;
    try {
        if (!session_) {
            LaunchFailure failure;
            if (!openSession(&failure)) failure.raise();
            if (failures_ > 0)
                emit problem(runId_, QStringLiteral("reconnected to %1").arg(node_.name));
        }
        if (at_.pid <= 0 && at_.jobId.isEmpty() && !locate()) return;
        if (cancelRequested_ && !termSent_) {
            observe();
            if (alive_) {
                session_->signal(at_, SIGTERM).take();
                termDelivered_ = true;
                emit signalSent(runId_, SIGTERM);
            }
            termSent_ = true;
            killAt_ = QDeadlineTimer(graceMs_);
        }

        MetricsRead r = session_->readMetrics(at_, offset_, kChunkBytes).take();
        if (r.fileSize >= 0 && r.fileSize < offset_) {
            // Replaced or truncated: read it again from the start (ingestion is idempotent).
            offset_ = 0;
            r = session_->readMetrics(at_, 0, kChunkBytes).take();
        }
        failures_ = 0;
        if (r.data.contains('\n')) {
            awaitingAck_ = true;
            lastChunkFull_ = r.data.size() >= kChunkBytes;
            emit metricsRead(runId_, offset_, r.data);
            return; // acknowledge() schedules the next read
        }
        if (gone_) {
            finish();
            return;
        }
        observe();
        if (!alive_) {
            // Read once more: lines may have been written between the read and the check.
            gone_ = true;
            schedule(0);
            return;
        }
        if (termSent_ && !killed_ && killAt_.hasExpired()) {
            session_->signal(at_, SIGKILL).take();
            killed_ = true;
            emit signalSent(runId_, SIGKILL);
        }
        schedule(interval());
    } catch (const std::exception& e) {
        session_.reset();
        ++failures_;
        const int wait = std::min(30000, interval() * (1 << std::min(failures_, 5)));
        emit problem(runId_, QStringLiteral("%1 (retrying in %2 s; the run continues on the node)")
                                 .arg(QString::fromUtf8(e.what()))
                                 .arg(wait / 1000.0, 0, 'f', 1));
        schedule(wait);
    }
}

bool RunFollower::locate() {
    // The workbench stopped between storing the run folder and storing the engine's pid: the job
    // id or pid the launcher left in the folder, else the pid the engine wrote into status.json.
    if (const auto job = session_->readRunFile(at_, QLatin1String(kJobIdFile)).take())
        at_.jobId = QString::fromUtf8(job->trimmed());
    if (!at_.jobId.isEmpty()) {
        emit located(runId_, at_);
        return true;
    }
    if (const auto p = session_->readRunFile(at_, QLatin1String(kEnginePidFile)).take())
        at_.pid = p->trimmed().toLongLong();
    if (at_.pid <= 0)
        if (const auto st = session_->readRunFile(at_, QStringLiteral("status.json")).take())
            at_.pid = parseStatusFile(*st).pid;
    if (at_.pid > 0) {
        emit located(runId_, at_);
        return true;
    }
    // The launcher writes engine.pid right after the spawn, and the spawn comes after the folder
    // was stored: with neither file, no engine was started (docs/workbench.md, "Run lifecycle") —
    // unless another workbench is between the two right now, which a short grace covers.
    if (locateGrace_.isForever()) locateGrace_ = QDeadlineTimer(kLocateGraceMs);
    if (!locateGrace_.hasExpired()) {
        schedule(std::min<qint64>(interval(), locateGrace_.remainingTime() + 1));
        return false;
    }
    done_ = true;
    timer_.stop();
    emit ended(runId_, store::status::kFailed,
               QStringLiteral("the engine never started in %1: the workbench stopped after making "
                              "the run folder and before starting the engine (no %2 or "
                              "status.json there); launch the run again")
                   .arg(at_.dir, QLatin1String(kEnginePidFile)));
    return false;
}

void RunFollower::finish() {
    const auto statusJson = session_->readRunFile(at_, QStringLiteral("status.json")).take();
    const auto engineErr = session_->readRunFile(at_, QStringLiteral("engine.err")).take();
    const FinalState f = finalState(statusJson, engineErr, killed_, termDelivered_,
                                    observed_.jobState, observed_.reason);
    done_ = true;
    timer_.stop();
    emit ended(runId_, f.status, f.message);
}

} // namespace bcd::launch
