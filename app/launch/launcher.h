#pragma once
// The launcher plugin interface (docs/workbench.md, "Launcher plugins"). A plugin handles one
// kind of node ("local", "ssh"; later "slurm"); it opens sessions to nodes of that kind. A
// session belongs to the thread that opened it (an SSH session per thread) and blocks: the
// workbench calls it from a RunFollower's worker thread, never from the GUI thread.
//
// Versioning: the IID carries the interface's major version; a plugin's metadata (its
// Q_PLUGIN_METADATA JSON) names Name, Version (the plugin's own) and CompatVersion (the interface
// version "major.minor" it was built against). The loader reads the metadata before loading any
// code and skips, by name, a plugin whose major differs or whose minor is newer than this
// workbench's.

#include "nodes/node_probe.h"
#include "store/store_types.h"

#include <QJsonObject>
#include <QString>
#include <QVector>
#include <QtPlugin>
#include <memory>
#include <optional>
#include <stdexcept>

#define BCD_LAUNCHER_IID "org.bcd-workbench.Launcher/1"

namespace bcd::launch {

inline constexpr char kLauncherIid[] = BCD_LAUNCHER_IID;
inline constexpr char kLauncherIidPrefix[] = "org.bcd-workbench.Launcher/";
inline constexpr int kLauncherApiMajor = 1;
inline constexpr int kLauncherApiMinor = 0;

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
    QVector<store::NodeRecord> nodes; // one, or the ranks' nodes of a multi-node run (first = head)
    bool resume = false;
};

// Where a run lives: its folder on the (first) node and the process that runs it.
struct RunLocation {
    QString dir;
    qint64 pid = 0;
    QString configPath() const { return dir + QStringLiteral("/launch.json"); }
};

struct MetricsRead {
    QByteArray data;
    qint64 fileSize = -1; // -1: no metrics.jsonl yet
};

// A launch that cannot happen; badInput: the config or the request is wrong (CLI exit 2).
class LaunchError : public std::runtime_error {
public:
    LaunchError(const QString& message, bool badInput = false)
        : std::runtime_error(message.toStdString()), badInput_(badInput) {}
    bool badInput() const { return badInput_; }

private:
    bool badInput_;
};

class LauncherSession {
public:
    virtual ~LauncherSession() = default;
    virtual nodes::NodeProbe probe() = 0;
    // Makes the run folder, writes the config (launch.json) and whatever inputs the node lacks,
    // checks the config with `bcd-train validate`, starts `bcd-train train` detached from the
    // workbench and returns where it runs. Throws LaunchError.
    virtual RunLocation start(const LaunchRequest& request) = 0;
    // Bytes of metrics.jsonl from offset, at most maxBytes.
    virtual MetricsRead readMetrics(const RunLocation& at, qint64 offset, qint64 maxBytes) = 0;
    // A small file of the run folder (status.json, engine.err); nullopt when it does not exist.
    virtual std::optional<QByteArray> readRunFile(const RunLocation& at, const QString& name) = 0;
    // Whether the run's process is alive: the pid runs a command line holding the run's config
    // path (a reused pid or a zombie is not the run).
    virtual bool isRunning(const RunLocation& at) = 0;
    // Sends a signal (SIGTERM, SIGKILL) to the run's process when isRunning().
    virtual void signal(const RunLocation& at, int signal) = 0;
    virtual int pollIntervalMs() const = 0;
};

class LauncherPlugin {
public:
    virtual ~LauncherPlugin() = default;
    virtual QString nodeKind() const = 0;
    // Opens a session on the calling thread (for SSH: connects; throws nodes::SshError).
    virtual std::unique_ptr<LauncherSession> open(const store::NodeRecord& node,
                                                  const LauncherContext& ctx) = 0;
};

} // namespace bcd::launch

Q_DECLARE_INTERFACE(bcd::launch::LauncherPlugin, BCD_LAUNCHER_IID)
