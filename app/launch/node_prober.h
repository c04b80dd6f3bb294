#pragma once
// Probing a node (GPUs, CPU, engine) through its launcher plugin, with the host key of an SSH
// node checked first so that an unknown key can be shown to the user and a changed one refused.
// The one implementation for the CLI (node add, node probe: blocking calls) and the GUI
// (NodeProber: a worker thread per probe, answers with a signal, nothing waits on the caller's
// thread).

#include "launch/plugin_registry.h"
#include "nodes/ssh_session.h"

#include <QJsonObject>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <vector>

class QThread;

namespace bcd::launch {

struct HostKeyCheck {
    nodes::HostKey key;
    bool added = false; // this check wrote the accepted key to known_hosts
};

// Connects to the endpoint and checks its host key (nodes::SshSession: KnownOnly, or AcceptNew
// restricted to acceptFingerprint when that is not empty). Blocks up to the endpoint's timeout;
// throws nodes::SshError (HostKeyUnknown carries the key the user may accept).
HostKeyCheck checkHostKey(const nodes::SshEndpoint& endpoint, nodes::HostKeyTrust trust,
                          const QString& acceptFingerprint = {});

// Probes through the node's plugin; blocks. Throws LaunchError (no plugin) or nodes::SshError
// (connection, host key, authentication).
nodes::NodeProbe probeNode(const PluginRegistry& plugins, const store::NodeRecord& node,
                           const LauncherContext& ctx);

struct ProbeOutcome {
    enum class Problem { None, HostKeyUnknown, HostKeyChanged, Other };
    QString node;
    Problem problem = Problem::None;
    QJsonObject probe; // NodeProbe::toJson() when problem is None
    QString message;   // what went wrong
    nodes::HostKey hostKey;
    bool hostKeyAdded = false; // this probe wrote the accepted key to known_hosts
};

// The host key of an SSH or Slurm node (not of "local"), then probeNode; blocks, never throws.
// With acceptFingerprint, an unknown host key with exactly that fingerprint is added to
// known_hosts first (the user accepted it).
ProbeOutcome probeNodeChecked(const PluginRegistry& plugins, const store::NodeRecord& node,
                              const LauncherContext& ctx, const QString& acceptFingerprint = {});

// probeNodeChecked on a thread of its own per probe; the outcome comes back as a queued signal
// on the prober's thread. The destructor joins the running probes, waiting at most
// shutdownTimeoutMs in all (a probe ends by itself within its SSH and command timeouts); a probe
// still running then is reported and left to end with the process, never terminated.
class NodeProber : public QObject {
    Q_OBJECT
public:
    NodeProber(const PluginRegistry& plugins, const LauncherContext& ctx,
               QObject* parent = nullptr);
    ~NodeProber() override;

    void probe(const store::NodeRecord& node, const QString& acceptFingerprint = {});
    // For the probes started from now on (the engine's version became known).
    void setContext(const LauncherContext& ctx) { ctx_ = ctx; }
    int running() const { return static_cast<int>(threads_.size()); }

    int shutdownTimeoutMs = 20000;

signals:
    void finished(const bcd::launch::ProbeOutcome& outcome);

private:
    const PluginRegistry& plugins_;
    LauncherContext ctx_;
    std::vector<QThread*> threads_;
};

} // namespace bcd::launch

Q_DECLARE_METATYPE(bcd::launch::ProbeOutcome)
