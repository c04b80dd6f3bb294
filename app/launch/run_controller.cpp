#include "launch/run_controller.h"

#include "launch/remote_commands.h"
#include "launch/run_config.h"

#include <QFileInfo>
#include <QJsonArray>
#include <algorithm>
#include <csignal>

namespace bcd::launch {

using store::NodeRecord;
using store::RunStore;

namespace {

// A started engine, or a submitted job (queued until the scheduler runs it).
void storeStart(RunStore& s, qint64 id, const RunLocation& at, const QString& message = {}) {
    s.setRunLocation(id, at.dir, at.pid, at.jobId);
    s.setRunStatus(id, at.jobId.isEmpty() ? store::status::kRunning : store::status::kQueued,
                   message);
    QJsonObject data{{"dir", at.dir}, {"pid", at.pid}};
    if (!at.jobId.isEmpty()) data["job"] = at.jobId;
    s.addEvent(id, QStringLiteral("started"), data);
}

// Test hook (docs/workbench.md, "Run lifecycle"): BCD_TEST_WORKBENCH_STOP_AT=<phase>, read once,
// makes the workbench SIGKILL itself at that phase of a launch: before-folder (the run is created,
// its folder not stored), after-folder (stored, no engine started), after-spawn (the engine runs,
// its pid not stored): the crashes that attach must survive. Unset, a phase costs one test of a
// flag.
void stopPoint(const char* phase) {
    static const QByteArray stopAt = qgetenv("BCD_TEST_WORKBENCH_STOP_AT");
    if (!stopAt.isEmpty() && stopAt == phase) ::raise(SIGKILL);
}

} // namespace

RunController::RunController(store::StoreService& store, const PluginRegistry& plugins,
                             const LauncherContext& ctx, QObject* parent)
    : QObject(parent), store_(store), gate_(std::make_shared<StoreGate>()), plugins_(plugins),
      ctx_(ctx) {
    gate_->store = &store_;
    qRegisterMetaType<bcd::launch::RunLocation>();
    qRegisterMetaType<bcd::launch::LaunchRequest>();
    connect(&store_, &store::StoreService::error, this, [this](const QString& message) {
        emit problem(0, QStringLiteral("store: %1").arg(message));
    });
}

RunController::~RunController() {
    {
        // Waits for a folder being stored right now (a bounded store call), then closes.
        const std::lock_guard hold(gate_->lock);
        gate_->store = nullptr;
    }
    for (RunFollower* f : std::as_const(followers_)) {
        f->requestStop(); // a launch in progress stops at its next check, before the store
        QMetaObject::invokeMethod(
            f,
            [f] {
                f->shutdown();
                QThread::currentThread()->quit();
            },
            Qt::QueuedConnection);
    }
    followers_.clear();
    for (QThread* t : threads_) {
        t->quit();
        if (t->wait(followerShutdownMs)) {
            delete t;
            continue;
        }
        // Killing a thread mid-call could leave a lock held or a session half-written. It ends
        // once its call returns (SSH calls have timeouts); its shutdown is already queued, and
        // it deletes itself then. Nothing of this controller is touched by it any more.
        qWarning("bcd-workbench: run follower %s is inside a call after %d ms; it stops when the "
                 "call returns",
                 qPrintable(t->objectName()), followerShutdownMs);
        QObject::connect(t, &QThread::finished, t, &QObject::deleteLater, Qt::DirectConnection);
    }
}

void RunController::failLaunch(qint64 runId, const QString& message, bool badInput) {
    QMetaObject::invokeMethod(
        this, [this, runId, message, badInput] { emit launchFailed(runId, message, badInput); },
        Qt::QueuedConnection);
}

void RunController::launch(const LaunchInput& input) {
    QJsonObject config = input.config;
    QString name = input.name;
    try {
        if (!input.configFile.isEmpty()) {
            config = resolveConfigPaths(loadRunConfig(input.configFile),
                                        QFileInfo(input.configFile).absolutePath());
            if (name.isEmpty()) name = QFileInfo(input.configFile).completeBaseName();
        }
    } catch (const LaunchError& e) {
        failLaunch(0, QString::fromUtf8(e.what()), true);
        return;
    }
    if (name.isEmpty()) name = QStringLiteral("run");
    if (input.nodes.isEmpty()) {
        failLaunch(0, QStringLiteral("no node given"), true);
        return;
    }
    struct Prepared {
        qint64 id = 0;
        QVector<NodeRecord> nodes;
        QString bad;
    };
    store_.call(
        [input, config, name](RunStore& s) {
            Prepared p;
            for (const QString& n : input.nodes) {
                const auto node = s.node(n);
                if (!node) {
                    p.bad = QStringLiteral("no node '%1' (bcd-workbench node list)").arg(n);
                    return p;
                }
                if (input.nodes.size() > 1 && node->kind != QLatin1String("ssh")) {
                    p.bad = QStringLiteral("a multi-node run needs SSH nodes; '%1' is %2")
                                .arg(n, node->kind);
                    return p;
                }
                if (input.processesPerNode > 0 && node->kind == QLatin1String("slurm")) {
                    p.bad = QStringLiteral(
                                "processes per node: node '%1' is a Slurm cluster, whose job "
                                "runs one process per GPU it asks for (its job defaults)")
                                .arg(n);
                    return p;
                }
                NodeRecord record = *node;
                if (record.kind == QLatin1String("slurm"))
                    for (auto it = input.jobOverrides.begin(); it != input.jobOverrides.end(); ++it)
                        record.jobDefaults[it.key()] = it.value();
                p.nodes.push_back(record);
            }
            store::NewRun r;
            r.name = name;
            r.tags = input.tags;
            r.notes = input.notes;
            r.config = config;
            r.node = input.nodes.front();
            if (input.nodes.size() > 1) r.hosts = input.nodes;
            r.processesPerNode = input.processesPerNode;
            if (p.nodes.front().kind != QLatin1String("slurm")) {
                try {
                    r.worldSize = worldSize(p.nodes, input.processesPerNode);
                } catch (const LaunchError& e) {
                    p.bad = QString::fromUtf8(e.what());
                    return p;
                }
            }
            r.pricePerHour = input.pricePerHour;
            r.ownPrice = input.pricePerHour.has_value();
            // A run over several nodes costs all of them: the sum of their prices when every
            // node has one (else the head's, as createRun falls back to).
            if (!r.pricePerHour && p.nodes.size() > 1) {
                double sum = 0;
                bool all = true;
                for (const NodeRecord& n : p.nodes) {
                    all = all && n.pricePerHour.has_value();
                    sum += n.pricePerHour.value_or(0);
                }
                if (all) r.pricePerHour = sum;
            }
            r.stepsTotal = configSteps(config);
            p.id = s.createRun(r);
            QJsonObject launchEvent{{"nodes", QJsonArray::fromStringList(input.nodes)}};
            if (input.processesPerNode > 0)
                launchEvent["processes_per_node"] = input.processesPerNode;
            if (!input.jobOverrides.isEmpty()) launchEvent["job"] = input.jobOverrides;
            s.addEvent(p.id, QStringLiteral("launch"), launchEvent);
            return p;
        },
        this,
        [this, input, config, name](const Prepared& p) {
            if (!p.bad.isEmpty()) {
                emit launchFailed(0, p.bad, true);
                return;
            }
            LauncherPlugin* plugin = plugins_.launcher(p.nodes.front().kind);
            if (!plugin) {
                const QString why = plugins_.missingReason(p.nodes.front().kind);
                store_.call([id = p.id,
                             why](RunStore& s) { s.setRunStatus(id, store::status::kFailed, why); },
                            this, [this, id = p.id, why] { emit launchFailed(id, why, false); });
                return;
            }
            RunFollower* f = startFollower(p.id, p.nodes.front(), plugin);
            LaunchRequest req;
            req.runId = p.id;
            req.name = name;
            req.config = config;
            req.nodes = p.nodes;
            req.processesPerNode = input.processesPerNode;
            // On the follower's thread, which may wait for the store: the folder is stored before
            // the engine starts, so that attach finds the run whatever happens next.
            req.recordFolder = [gate = gate_, id = p.id](const QString& dir) -> QString {
                stopPoint("before-folder");
                try {
                    const std::lock_guard hold(gate->lock);
                    if (!gate->store) return QStringLiteral("the workbench is closing");
                    gate->store->callBlocking([id, dir](RunStore& s) {
                        s.setRunLocation(id, dir, 0, {});
                        s.addEvent(id, QStringLiteral("folder"), QJsonObject{{"dir", dir}});
                    });
                    stopPoint("after-folder");
                    return {};
                } catch (const std::exception& e) {
                    return QString::fromUtf8(e.what());
                }
            };
            const bool follow = input.follow;
            connect(f, &RunFollower::launched, this,
                    [this, f, follow](qint64 id, const RunLocation& at) {
                        if (!current(id, f)) return;
                        stopPoint("after-spawn");
                        store_.call([id, at](RunStore& s) { storeStart(s, id, at); }, this,
                                    [this, id, at, follow] {
                                        emit launched(id, at.dir, at.pid);
                                        if (!follow) stopFollower(id);
                                    },
                                    [this, id, at, follow](const QString& message) {
                                        // The engine runs all the same; say what could not be
                                        // stored.
                                        emit problem(
                                            id,
                                            QStringLiteral("storing the run's location failed: %1")
                                                .arg(message));
                                        emit launched(id, at.dir, at.pid);
                                        if (!follow) stopFollower(id);
                                    });
                    });
            connect(f, &RunFollower::launchFailed, this,
                    [this, f](qint64 id, const QString& message, bool bad) {
                        if (!current(id, f)) return;
                        stopFollower(id);
                        store_.call(
                            [id, message](RunStore& s) {
                                s.setRunStatus(id, store::status::kFailed, message);
                                s.addEvent(id, QStringLiteral("error"),
                                           QJsonObject{{"message", message}});
                            },
                            this,
                            [this, id, message, bad] { emit launchFailed(id, message, bad); });
                    });
            QMetaObject::invokeMethod(
                f, [f, req] { f->launch(req); }, Qt::QueuedConnection);
        },
        [this](const QString& message) { emit launchFailed(0, message, false); });
}

RunFollower* RunController::startFollower(qint64 runId, const NodeRecord& node,
                                          LauncherPlugin* plugin) {
    auto* thread = new QThread;
    thread->setObjectName(QStringLiteral("bcd-run-%1").arg(runId));
    auto* f = new RunFollower(runId, node, plugin, ctx_);
    f->moveToThread(thread);
    connect(thread, &QThread::finished, f, &QObject::deleteLater);
    connect(
        thread, &QThread::finished, this,
        [this, thread] {
            const auto it = std::find(threads_.begin(), threads_.end(), thread);
            if (it == threads_.end()) return;
            threads_.erase(it);
            thread->wait();
            delete thread;
        },
        Qt::QueuedConnection);
    threads_.push_back(thread);
    followers_.insert(runId, f);

    connect(f, &RunFollower::metricsRead, this,
            [this, f](qint64 id, qint64 offset, const QByteArray& data) {
                if (!current(id, f)) return;
                store_.call(
                    [id, offset, data](RunStore& s) { return s.ingest(id, offset, data); }, this,
                    [this, f, id, offset](const store::IngestResult& r) {
                        if (!current(id, f)) return;
                        QMetaObject::invokeMethod(
                            f, [f, o = r.offset] { f->acknowledge(o); }, Qt::QueuedConnection);
                        if (r.points > 0 || r.events > 0 || r.malformed > 0) emit newData(id);
                        if (r.lastStep) emit progress(id, *r.lastStep);
                        (void)offset;
                    },
                    [this, f, id, offset](const QString& message) {
                        emit problem(id, QStringLiteral("storing metrics failed: %1").arg(message));
                        if (current(id, f))
                            QMetaObject::invokeMethod(
                                f, [f, offset] { f->acknowledge(offset); }, Qt::QueuedConnection);
                    });
            });
    connect(f, &RunFollower::problem, this, [this, f](qint64 id, const QString& message) {
        if (current(id, f)) emit problem(id, message);
    });
    connect(f, &RunFollower::jobState, this,
            [this, f](qint64 id, const QString& state, const QString& reason) {
                if (!current(id, f)) return;
                store_.call(
                    [id, state, reason](RunStore& s) {
                        s.setRunJobState(id, state, reason);
                        s.addEvent(id, QStringLiteral("job"),
                                   QJsonObject{{"state", state}, {"reason", reason}});
                    },
                    this, [this, id, state, reason] { emit jobStateChanged(id, state, reason); });
            });
    connect(f, &RunFollower::signalSent, this, [this, f](qint64 id, int sig) {
        if (!current(id, f)) return;
        store_.call(
            [id, sig](RunStore& s) {
                s.addEvent(id, QStringLiteral("signal"),
                           QJsonObject{{"signal", sig == SIGKILL ? "SIGKILL" : "SIGTERM"}});
            },
            this, [] {});
    });
    connect(f, &RunFollower::located, this, [this, f](qint64 id, const RunLocation& at) {
        if (!current(id, f)) return;
        store_.call(
            [id, at](RunStore& s) {
                storeStart(s, id, at,
                           QStringLiteral("found by the %1 in its run folder after the "
                                          "workbench stopped while launching it")
                               .arg(at.jobId.isEmpty() ? QStringLiteral("pid")
                                                       : QStringLiteral("job id")));
            },
            this, [] {});
    });
    connect(f, &RunFollower::ended, this,
            [this, f](qint64 id, const QString& status, const QString& message) {
                if (!current(id, f)) return;
                stopFollower(id);
                store_.call(
                    [id, status, message](RunStore& s) {
                        s.setRunStatus(id, status, message);
                        s.addEvent(id, QStringLiteral("end"),
                                   QJsonObject{{"status", status}, {"message", message}});
                    },
                    this, [this, id, status, message] { emit runEnded(id, status, message); },
                    [this, id, status, message](const QString& error) {
                        emit problem(
                            id, QStringLiteral("storing the final state failed: %1").arg(error));
                        emit runEnded(id, status, message);
                    });
            });
    thread->start();
    return f;
}

void RunController::stopFollower(qint64 runId) {
    RunFollower* f = followers_.take(runId);
    if (!f) return;
    QMetaObject::invokeMethod(
        f,
        [f] {
            f->shutdown();
            QThread::currentThread()->quit();
        },
        Qt::QueuedConnection);
}

void RunController::detach(qint64 runId) {
    stopFollower(runId);
}

bool RunController::reattachesAtStart(const store::RunRecord& run) {
    return !store::status::isTerminal(run.status) && (run.pid > 0 || !run.jobId.isEmpty());
}

void RunController::attach(qint64 runId) {
    if (following(runId)) {
        QMetaObject::invokeMethod(
            this, [this, runId] { emit attached(runId); }, Qt::QueuedConnection);
        return;
    }
    struct Found {
        std::optional<store::RunRecord> run;
        std::optional<NodeRecord> node;
    };
    store_.call(
        [runId](RunStore& s) {
            Found f;
            f.run = s.run(runId);
            if (f.run) {
                f.node = s.node(f.run->node);
                s.addEvent(runId, QStringLiteral("attach"),
                           QJsonObject{{"offset", f.run->metricsOffset}});
            }
            return f;
        },
        this,
        [this, runId](const Found& found) {
            QString why;
            if (!found.run)
                why = QStringLiteral("no run %1").arg(runId);
            else if (!found.node)
                why =
                    QStringLiteral("run %1: its node '%2' is gone").arg(runId).arg(found.run->node);
            else if (found.run->remoteDir.isEmpty() &&
                     found.run->status == store::status::kStarting) {
                // The folder is stored before the engine starts (recordFolder): without one,
                // the workbench stopped before anything ran. Say so in the store, once.
                pendingCancel_.remove(runId);
                endNeverStarted(runId);
                return;
            } else if (found.run->remoteDir.isEmpty())
                why =
                    QStringLiteral("run %1 never started (no run folder was recorded)").arg(runId);
            LauncherPlugin* plugin = why.isEmpty() ? plugins_.launcher(found.node->kind) : nullptr;
            if (why.isEmpty() && !plugin) why = plugins_.missingReason(found.node->kind);
            if (!why.isEmpty() || following(runId)) {
                pendingCancel_.remove(runId);
                if (!why.isEmpty()) emit attachFailed(runId, why);
                return;
            }
            RunFollower* f = startFollower(runId, *found.node, plugin);
            RunLocation at{found.run->remoteDir, found.run->pid, found.run->jobId};
            const qint64 offset = found.run->metricsOffset;
            QMetaObject::invokeMethod(
                f, [f, at, offset] { f->follow(at, offset); }, Qt::QueuedConnection);
            if (pendingCancel_.contains(runId)) {
                const int grace = pendingCancel_.take(runId);
                QMetaObject::invokeMethod(
                    f, [f, grace] { f->cancel(grace); }, Qt::QueuedConnection);
            }
            emit attached(runId);
        },
        [this, runId](const QString& message) {
            pendingCancel_.remove(runId);
            emit attachFailed(runId, message);
        });
}

void RunController::endNeverStarted(qint64 runId) {
    const QString message =
        QStringLiteral("never started: the workbench stopped before the run folder was made, so "
                       "no engine ran; launch it again");
    store_.call(
        [runId, message](RunStore& s) {
            s.setRunStatus(runId, store::status::kFailed, message);
            s.addEvent(runId, QStringLiteral("end"),
                       QJsonObject{{"status", store::status::kFailed}, {"message", message}});
        },
        this, [this, runId, message] { emit runEnded(runId, store::status::kFailed, message); },
        [this, runId](const QString& error) { emit attachFailed(runId, error); });
}

void RunController::resume(qint64 runId) {
    if (following(runId)) {
        QMetaObject::invokeMethod(
            this,
            [this, runId] {
                emit launchFailed(
                    runId, QStringLiteral("run %1 is running; nothing to resume").arg(runId), true);
            },
            Qt::QueuedConnection);
        return;
    }
    struct Found {
        std::optional<store::RunRecord> run;
        std::optional<NodeRecord> node;
    };
    store_.call(
        [runId](RunStore& s) {
            Found f;
            f.run = s.run(runId);
            if (f.run) f.node = s.node(f.run->node);
            return f;
        },
        this,
        [this, runId](const Found& found) {
            QString why;
            if (!found.run)
                why = QStringLiteral("no run %1").arg(runId);
            else if (!found.node)
                why =
                    QStringLiteral("run %1: its node '%2' is gone").arg(runId).arg(found.run->node);
            else if (found.run->remoteDir.isEmpty())
                why = QStringLiteral("run %1 never started (no run folder to resume)").arg(runId);
            else if (!store::status::isTerminal(found.run->status))
                why = QStringLiteral("run %1 is %2; attach to it instead of resuming")
                          .arg(runId)
                          .arg(found.run->status);
            else if (found.run->status == store::status::kFinished)
                why = QStringLiteral("run %1 is finished; nothing to resume").arg(runId);
            LauncherPlugin* plugin = why.isEmpty() ? plugins_.launcher(found.node->kind) : nullptr;
            if (why.isEmpty() && !plugin) why = plugins_.missingReason(found.node->kind);
            if (!why.isEmpty() || following(runId)) {
                if (!why.isEmpty()) emit launchFailed(runId, why, true);
                return;
            }
            RunFollower* f = startFollower(runId, *found.node, plugin);
            connect(f, &RunFollower::launched, this, [this, f](qint64 id, const RunLocation& at) {
                if (!current(id, f)) return;
                store_.call(
                    [id, at](RunStore& s) {
                        storeStart(s, id, at, QStringLiteral("resumed from its newest checkpoint"));
                        s.addEvent(id, QStringLiteral("resume"), QJsonObject{{"dir", at.dir}});
                    },
                    this, [this, id, at] { emit launched(id, at.dir, at.pid); });
            });
            connect(f, &RunFollower::launchFailed, this,
                    [this, f](qint64 id, const QString& message, bool bad) {
                        if (!current(id, f)) return;
                        stopFollower(id);
                        emit launchFailed(id, message, bad);
                    });
            const RunLocation at{found.run->remoteDir, found.run->pid, found.run->jobId};
            const qint64 offset = found.run->metricsOffset;
            QMetaObject::invokeMethod(
                f, [f, at, offset] { f->resume(at, offset); }, Qt::QueuedConnection);
        },
        [this, runId](const QString& message) { emit launchFailed(runId, message, false); });
}

void RunController::cancel(qint64 runId, int graceMs) {
    store_.call(
        [runId, graceMs](RunStore& s) {
            if (s.run(runId))
                s.addEvent(runId, QStringLiteral("cancel"), QJsonObject{{"grace_ms", graceMs}});
        },
        this, [] {});
    if (RunFollower* f = followers_.value(runId)) {
        QMetaObject::invokeMethod(
            f, [f, graceMs] { f->cancel(graceMs); }, Qt::QueuedConnection);
        return;
    }
    pendingCancel_.insert(runId, graceMs);
    attach(runId);
}

} // namespace bcd::launch
