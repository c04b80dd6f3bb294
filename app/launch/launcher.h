#pragma once
// The launcher plugin interface (docs/workbench.md, "Launcher plugins" and "The launcher SDK"). A
// plugin handles one kind of node ("local", "ssh", "slurm"); it opens sessions to nodes of that
// kind. A session belongs to the thread that opened it (an SSH session per thread) and blocks: the
// workbench calls it from a RunFollower's worker thread, never from the GUI thread.
//
// Plugins depend on the launcher SDK only: these headers and one shared library
// (libbcd-launcher-sdk.so: node access, SSH, quoting, run-folder helpers) that the workbench
// links too. Every call returns an Outcome (launch_outcome.h): no exception crosses the boundary.
//
// Versioning: the IID carries the interface's major version; a plugin's metadata (its
// Q_PLUGIN_METADATA JSON) names Name, Version (the plugin's own) and CompatVersion (the interface
// version "major.minor" it was built against). The loader reads the metadata before loading any
// code and skips, by name, a plugin whose major differs or whose minor is newer than this
// workbench's.

#include "launch/launch_outcome.h"
#include "nodes/node_probe.h"
#include "nodes/node_record.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVector>
#include <QtPlugin>
#include <functional>
#include <memory>
#include <optional>

#define BCD_LAUNCHER_IID "org.bcd-workbench.Launcher/2"

namespace bcd::launch {

inline constexpr char kLauncherIid[] = BCD_LAUNCHER_IID;
inline constexpr char kLauncherIidPrefix[] = "org.bcd-workbench.Launcher/";
inline constexpr int kLauncherApiMajor = 2;
// 1: LaunchRequest::processesPerNode; 2: LaunchRequest::recordFolder and stopRequested;
// 3: LauncherSession::listCheckpoints, sample and removeRunFolder (appended to the class: the host
// calls them only on plugins built for 2.3 or later, see PluginRegistry::runFilesSupport()).
inline constexpr int kLauncherApiMinor = 3;
// The first minor whose sessions list and sample checkpoints and remove run folders.
inline constexpr int kLauncherRunFilesMinor = 3;

// What the workbench tells every plugin about this machine.
struct LauncherContext {
    QString localEngine; // this machine's bcd-train (run locally, uploaded to nodes lacking one)
    QString localEngineVersion; // its version, "0.1.0"
    QString localRunRoot;       // the folder of local runs
    int pollMs = 0;             // 0: the session's own interval
};

struct LaunchRequest {
    qint64 runId = 0;
    QString name;       // shown to people; only its slug (run_config.h) reaches a path
    QJsonObject config; // paths absolute on this machine; output.dir is set by the launcher
    QVector<nodes::NodeRecord> nodes; // one, or the ranks' nodes of a multi-node run (first = head)
    // Engine processes (ranks) per node, started by mpirun (docs/data-parallel.md); 0: one per
    // GPU of each node on a run over several nodes, one process on a single node. Added in 2.1:
    // a 2.0 plugin never reads it.
    int processesPerNode = 0;
    // Added in 2.2. start() calls it once the run folder is made and its config written, before
    // the engine starts or the job is submitted; the host stores the folder there, so that a
    // workbench that dies from now on finds the run again (docs/workbench.md, "Run lifecycle").
    // It answers an error message (empty: stored); the plugin then starts nothing. Unset: no-op.
    std::function<QString(const QString& dir)> recordFolder;
    // Added in 2.2: true once the host is closing. A plugin checks it between the steps of start()
    // and while it waits for a process (throwIfStopped), so that the host's bounded shutdown
    // need not outwait a launch. Unset: never.
    std::function<bool()> stopRequested;
};

// For plugins: a LaunchError when the host asked the launch to stop.
inline void throwIfStopped(const LaunchRequest& request) {
    if (request.stopRequested && request.stopRequested())
        throw LaunchError(QStringLiteral("the launch stopped: the workbench is closing"));
}

// For plugins, inside start(): the request's recordFolder, a refusal thrown as a LaunchError (which
// guarded() turns into a value at the boundary).
inline void recordRunFolder(const LaunchRequest& request, const QString& dir) {
    throwIfStopped(request);
    if (!request.recordFolder) return;
    const QString error = request.recordFolder(dir);
    if (!error.isEmpty())
        throw LaunchError(
            QStringLiteral("storing the run folder %1 failed, so nothing was started: %2")
                .arg(dir, error));
}

// The engine's pid, written by the launcher into the run folder as soon as it has it (local:
// after the spawn; SSH: by the shell that started it), before the host stores it.
inline constexpr char kEnginePidFile[] = "engine.pid";
// A batch job's id, written the same way by a scheduler's launcher (Slurm) after the submission.
inline constexpr char kJobIdFile[] = "job.id";

// Where a run lives: its folder on the (first) node and the process that runs it.
struct RunLocation {
    QString dir;
    qint64 pid = 0; // the engine (or mpirun) process; 0 for a batch job or when unknown
    QString jobId;  // the scheduler's job (Slurm); empty for a plain process
    QString configPath() const { return dir + QStringLiteral("/launch.json"); }
};

struct MetricsRead {
    QByteArray data;
    qint64 fileSize = -1; // -1: no metrics.jsonl yet
};

// What a session sees of a run now.
struct RunObservation {
    bool alive = false; // the engine (or its job) may still write to the run folder
    // The scheduler's view (Slurm: PENDING, RUNNING, COMPLETED, TIMEOUT, ...); empty for a plain
    // process. reason: PENDING's reason (Priority, Resources, JobHeldUser, ...) or why it ended.
    QString jobState;
    QString reason;
};

// What `bcd-train sample` is asked for on a run's checkpoint (added in 2.3).
struct SampleRequest {
    QString checkpoint = QStringLiteral("final"); // "final" or "step-N" (listCheckpoints)
    QString prompt;
    int maxNew = 200;
    double temperature = 0.8;
    double topP = 1.0;
    qint64 seed = 1;
    // This machine only: 0 and empty leave the engine's auto (all cores, the run's device); a
    // remote node always samples with the engine's auto.
    int threads = 0;
    QString device;
};

class LauncherSession {
public:
    virtual ~LauncherSession() = default;
    virtual Outcome<nodes::NodeProbe> probe() = 0;
    // Makes the run folder, writes the config (launch.json) and whatever inputs the node lacks,
    // checks the config with `bcd-train validate`, starts `bcd-train train` detached from the
    // workbench (or submits the job that will) and returns where it runs.
    virtual Outcome<RunLocation> start(const LaunchRequest& request) = 0;
    // Starts the run in its folder again, continuing from its newest complete checkpoint
    // (`bcd-train train --resume`); returns the new process or job.
    virtual Outcome<RunLocation> resume(const RunLocation& at) = 0;
    // Bytes of metrics.jsonl from offset, at most maxBytes.
    virtual Outcome<MetricsRead> readMetrics(const RunLocation& at, qint64 offset,
                                             qint64 maxBytes) = 0;
    // A small file of the run folder (status.json, engine.err); nullopt when it does not exist.
    virtual Outcome<std::optional<QByteArray>> readRunFile(const RunLocation& at,
                                                           const QString& name) = 0;
    // Whether the run is alive: its pid runs a command line holding the run's config path (a
    // reused pid or a zombie is not the run), or its job is queued or running.
    virtual Outcome<RunObservation> observe(const RunLocation& at) = 0;
    // SIGTERM asks the engine to checkpoint and stop; SIGKILL ends it (and its job) now.
    virtual Outcome<Done> signal(const RunLocation& at, int signal) = 0;
    virtual int pollIntervalMs() const = 0;

    // --- Added in 2.3, at the end of the class: a 2.2 plugin's vtable has no slots for these,
    // so the host calls them only on plugins whose CompatVersion minor is 3 or more
    // (PluginRegistry::runFilesSupport). The bodies here answer for a 2.3 plugin that has none
    // of its own.

    // The checkpoints of the run that can be sampled or forked: "final" (when complete), then
    // checkpoints/step-N holding DONE, newest step first (launch::checkpointsFromListing).
    virtual Outcome<QStringList> listCheckpoints(const RunLocation& at) {
        (void)at;
        return LaunchFailure{LaunchFailure::Kind::Failed,
                             QStringLiteral("this launcher plugin cannot list checkpoints"),
                             std::nullopt,
                             {}};
    }
    // Runs `bcd-train sample` on a checkpoint of the run where the run lives and hands its
    // stdout to onOutput as it comes (on the calling thread). stopRequested is asked between
    // reads: true ends the engine's process promptly (SIGTERM and the channel closed) and the
    // call returns Done. A non-zero exit is a failure holding the last lines of the engine's
    // stderr.
    virtual Outcome<Done> sample(const RunLocation& at, const SampleRequest& req,
                                 const std::function<void(const QByteArray&)>& onOutput,
                                 const std::function<bool()>& stopRequested) {
        (void)at, (void)req, (void)onOutput, (void)stopRequested;
        return LaunchFailure{LaunchFailure::Kind::Failed,
                             QStringLiteral("this launcher plugin cannot sample checkpoints"),
                             std::nullopt,
                             {}};
    }
    // Removes the folder of a run that is over (checkpoints, logs, the final model) where it
    // lives. Only a run folder is removed: an absolute path, not "/", holding launch.json (every
    // launcher writes it); anything else is refused as bad input. Answers false when the folder
    // was already gone.
    virtual Outcome<bool> removeRunFolder(const RunLocation& at) {
        (void)at;
        return LaunchFailure{LaunchFailure::Kind::Failed,
                             QStringLiteral("this launcher plugin cannot remove run folders"),
                             std::nullopt,
                             {}};
    }
};

class LauncherPlugin {
public:
    virtual ~LauncherPlugin() = default;
    virtual QString nodeKind() const = 0;
    // Opens a session on the calling thread (SSH, Slurm: connects; an unknown or changed host key
    // is a failure with LaunchFailure::ssh set).
    virtual Outcome<std::unique_ptr<LauncherSession>> open(const nodes::NodeRecord& node,
                                                           const LauncherContext& ctx) = 0;
    // What a launch on this node will run, shown before launching (Slurm: the batch script),
    // without connecting; paths that only the launch decides are shown as placeholders. Empty
    // when there is nothing more to show than the engine's command line.
    virtual Outcome<QString> describeLaunch(const LaunchRequest& request,
                                            const LauncherContext& ctx) const = 0;
};

} // namespace bcd::launch

Q_DECLARE_INTERFACE(bcd::launch::LauncherPlugin, BCD_LAUNCHER_IID)
