#pragma once
// Probing a node off the GUI thread, with the host-key outcome kept apart: an SSH node's host key
// is checked first (nodes::SshSession), so that an unknown key can be shown to the user and a
// changed one refused, then the node is probed through its launcher plugin (launch::probeNode).

#include "launch/plugin_registry.h"
#include "nodes/ssh_session.h"
#include "store/store_types.h"

#include <QJsonObject>
#include <QObject>
#include <QString>
#include <functional>

class QThread;

namespace bcd::ui {

struct ProbeOutcome {
    enum class Problem { None, HostKeyUnknown, HostKeyChanged, Other };
    QString node;
    Problem problem = Problem::None;
    QJsonObject probe; // NodeProbe::toJson() when problem is None
    QString message;   // what went wrong
    nodes::HostKey hostKey;
    bool hostKeyAdded = false; // this probe wrote the accepted key to known_hosts
};

// The SSH endpoint a node record names.
nodes::SshEndpoint sshEndpoint(const store::NodeRecord& node);

// Starts the probe on a thread of its own and returns the thread (deleted when done). With
// acceptFingerprint, an unknown host key with exactly that fingerprint is added to known_hosts
// first (the user accepted it). done(outcome) runs on receiver's thread, unless receiver is gone.
QThread* startNodeProbe(const launch::PluginRegistry& plugins, const launch::LauncherContext& ctx,
                        const store::NodeRecord& node, QObject* receiver,
                        std::function<void(const ProbeOutcome&)> done,
                        const QString& acceptFingerprint = {});

} // namespace bcd::ui
