#pragma once
// Probing a node (GPUs, CPU, engine) through its launcher plugin: probeNode() blocks (CLI, worker
// threads); NodeProber runs it on a thread of its own and answers with a signal (the GUI).

#include "launch/plugin_registry.h"

#include <QObject>
#include <QThread>
#include <vector>

namespace bcd::launch {

// Throws LaunchError (no plugin) or nodes::SshError (connection, host key, authentication).
nodes::NodeProbe probeNode(const PluginRegistry& plugins, const store::NodeRecord& node,
                           const LauncherContext& ctx);

class NodeProber : public QObject {
    Q_OBJECT
public:
    NodeProber(const PluginRegistry& plugins, const LauncherContext& ctx,
               QObject* parent = nullptr);
    ~NodeProber() override; // waits for running probes, at most shutdownTimeoutMs each

    void probe(const store::NodeRecord& node);
    int shutdownTimeoutMs = 20000;

signals:
    void probed(const QString& node, const QJsonObject& probe); // NodeProbe::toJson()
    void probeFailed(const QString& node, const QString& message);

private:
    const PluginRegistry& plugins_;
    LauncherContext ctx_;
    std::vector<QThread*> threads_;
};

} // namespace bcd::launch
