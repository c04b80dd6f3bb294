#pragma once
// RunController: launches, follows, re-attaches and cancels runs (DESIGN.md §4). It lives on the
// caller's (GUI) thread and never blocks it: the store works on its own thread (StoreService),
// each followed run on another (RunFollower); they talk through queued signals. Every metric of a
// run reaches the store exactly once because the store records, in the same transaction as the
// points, the byte offset where the next read must start; after a restart, attach() continues
// from there.
//
// Signals, all on the controller's thread:
//   launched(run, dir, pid)    the engine runs; the run's folder and process are stored
//   launchFailed(run, msg, bad) nothing runs (run 0: none was created; bad: the input was wrong,
//                              or the node's host key is unknown or changed: a person decides)
//   newData(run)               points or events were stored: views pull what they show
//   progress(run, step)        the last stored step
//   problem(run, msg)          a transient failure (connection lost, ...); retried
//   jobStateChanged(run, s, r) a Slurm job's state and reason changed (stored)
//   runEnded(run, status, msg) the process is gone and its final state is stored

#include "launch/plugin_registry.h"
#include "launch/run_follower.h"
#include "store/store_service.h"

#include <QMap>
#include <QObject>
#include <QPointer>
#include <QThread>
#include <memory>
#include <mutex>
#include <vector>

namespace bcd::launch {

struct LaunchInput {
    QString configFile; // read and resolved against its folder; or, when empty:
    QJsonObject config; // a config built in memory (absolute paths)
    QStringList nodes;  // node names; several: one mpirun over them, the first is the head
    // Engine processes (ranks) per node, one mpirun for them all (docs/data-parallel.md); 0: one
    // per GPU of each node over several nodes, one process on a single node. Local and SSH nodes.
    int processesPerNode = 0;
    QString name; // default: the config file's base name
    QStringList tags;
    QString notes;
    std::optional<double> pricePerHour; // default: the node's
    bool follow = true; // false: start and store the location, then let the engine run alone
    // A Slurm node's job defaults changed for this run only (keys of nodes/slurm_job.h: the
    // New run page's partition); stored with the launch event.
    QJsonObject jobOverrides;
};

class RunController : public QObject {
    Q_OBJECT
public:
    RunController(store::StoreService& store, const PluginRegistry& plugins,
                  const LauncherContext& ctx, QObject* parent = nullptr);
    // Stops following (the engines run on), waiting at most followerShutdownMs per run; a follower
    // still inside a blocking call then (an SSH call runs into its timeout) is left to end on its
    // own, with a warning: it is never killed mid-call.
    ~RunController() override;

    void launch(const LaunchInput& input);
    // Follows a stored run from its stored offset: a run started by an earlier workbench, or one
    // this workbench stopped following. A run left in `starting` by a workbench that stopped while
    // launching it: its engine is found by the pid in its folder and followed, or, when none was
    // started, the run is stored as failed with the reason (runEnded).
    void attach(qint64 runId);
    // Whether a workbench that opens the store follows this run again by itself: it is not over
    // and its engine or batch job is known (a pid, or a Slurm job id). A run still `starting`
    // without either may be in the middle of another workbench's launch (uploading inputs): it is
    // left to `run attach` or Monitor's Attach, whose grace rules decide (docs/workbench.md).
    static bool reattachesAtStart(const store::RunRecord& run);
    void detach(qint64 runId);
    // Starts a stopped run (failed, cancelled, or ended by its job's time limit) again in its
    // folder from its newest checkpoint and follows it; answers with launched or launchFailed.
    void resume(qint64 runId);
    // SIGTERM now (the engine checkpoints and stops), SIGKILL after graceMs if it is still alive.
    void cancel(qint64 runId, int graceMs = 30000);
    bool following(qint64 runId) const { return followers_.contains(runId); }

    int followerShutdownMs = 5000;

signals:
    void launched(qint64 runId, const QString& runDir, qint64 pid);
    void launchFailed(qint64 runId, const QString& message, bool badInput);
    void attached(qint64 runId);
    void attachFailed(qint64 runId, const QString& message);
    void newData(qint64 runId);
    void progress(qint64 runId, qint64 step);
    void problem(qint64 runId, const QString& message);
    // A batch job's state (PENDING with its reason, RUNNING, ...) was stored.
    void jobStateChanged(qint64 runId, const QString& state, const QString& reason);
    void runEnded(qint64 runId, const QString& status, const QString& message);

private:
    RunFollower* startFollower(qint64 runId, const store::NodeRecord& node, LauncherPlugin* plugin);
    void stopFollower(qint64 runId);
    bool current(qint64 runId, const RunFollower* f) const { return followers_.value(runId) == f; }
    void failLaunch(qint64 runId, const QString& message, bool badInput);
    // A run left in `starting` without a folder by a workbench that stopped: stored as failed.
    void endNeverStarted(qint64 runId);

    store::StoreService& store_;
    // What a follower's thread reaches the store through (a launch storing its folder): closed
    // by the destructor, under its lock, so that a follower left inside a call past
    // followerShutdownMs never reaches a store that is gone.
    struct StoreGate {
        std::mutex lock;
        store::StoreService* store = nullptr;
    };
    std::shared_ptr<StoreGate> gate_;
    const PluginRegistry& plugins_;
    LauncherContext ctx_;
    QMap<qint64, RunFollower*> followers_;
    std::vector<QThread*> threads_;
    QMap<qint64, int> pendingCancel_;
};

} // namespace bcd::launch
