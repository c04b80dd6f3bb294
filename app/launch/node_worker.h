#pragma once
// A worker thread that reaches nodes through their launcher sessions (docs/workbench.md, "Worker
// threads"). A session belongs to the thread that opened it and blocks, so each NodeWorker owns
// one thread and, on it, one session per node, kept open between tasks (a Monitor refresh or a
// second sample does not reconnect) and opened again when the node's connection settings change
// or a task drops it after a failure. Tasks run in the order posted; what they answer reaches
// the NodeWorker's own thread as a closure, through a queued signal that Qt drops when the
// NodeWorker is gone, so a late answer never reaches a destroyed owner. RunLogTail, RunSampler
// and the run folder removal are built on it.

#include "launch/plugin_registry.h"

#include <QMap>
#include <QObject>
#include <QThread>
#include <functional>
#include <memory>

namespace bcd::launch {

// The sessions of one worker thread; used on that thread only.
class NodeSessions {
public:
    NodeSessions(const PluginRegistry& plugins, const LauncherContext& ctx)
        : plugins_(plugins), ctx_(ctx) {}
    // The node's session, opened when there is none or the node's host, port, user, kind, job
    // defaults or engine changed; nullptr with *error saying why it could not be opened.
    LauncherSession* open(const store::NodeRecord& node, QString* error);
    // Forgets the node's session (after a failure that may have left it unusable).
    void drop(const QString& nodeName) { sessions_.remove(nodeName); }
    const PluginRegistry& plugins() const { return plugins_; }
    void setContext(const LauncherContext& ctx) { ctx_ = ctx; }

private:
    struct Open {
        store::NodeRecord node;
        std::shared_ptr<LauncherSession> session;
    };
    const PluginRegistry& plugins_;
    LauncherContext ctx_;
    QMap<QString, Open> sessions_;
};

class NodeWorkerHost;

class NodeWorker : public QObject {
    Q_OBJECT
public:
    // Sends `answer` to run on the NodeWorker's thread (dropped when the NodeWorker is gone).
    using Reply = std::function<void(std::function<void()> answer)>;
    using Task = std::function<void(NodeSessions& sessions, const Reply& reply)>;

    NodeWorker(const PluginRegistry& plugins, const LauncherContext& ctx, const QString& threadName,
               QObject* parent = nullptr);
    // Lets the task in progress end, waiting at most shutdownTimeoutMs (an SSH call ends within
    // its timeouts; tasks that stream check their stop flags); a thread still inside a call then
    // is reported and left to end with the process — deleting or terminating it could leave
    // libssh or a lock half-updated. Tasks not yet started do not run.
    ~NodeWorker() override;

    void post(Task task);
    void setContext(const LauncherContext& ctx);

    int shutdownTimeoutMs = 20000;

signals:
    void answered(const std::function<void()>& answer); // internal: carries replies across

private:
    QThread* thread_;
    NodeWorkerHost* host_; // lives on thread_, deleted when it finishes
};

} // namespace bcd::launch
