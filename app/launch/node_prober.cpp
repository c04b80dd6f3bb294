#include "launch/node_prober.h"

#include "sdk/remote_node.h"

#include <QDeadlineTimer>
#include <QThread>
#include <algorithm>
#include <memory>

namespace bcd::launch {

HostKeyCheck checkHostKey(const nodes::SshEndpoint& endpoint, nodes::HostKeyTrust trust,
                          const QString& acceptFingerprint) {
    const nodes::SshSession ssh(endpoint, trust, acceptFingerprint);
    return {ssh.hostKey(), ssh.hostKeyAdded()};
}

nodes::NodeProbe probeNode(const PluginRegistry& plugins, const store::NodeRecord& node,
                           const LauncherContext& ctx) {
    LauncherPlugin* plugin = plugins.launcher(node.kind);
    if (!plugin) throw LaunchError(plugins.missingReason(node.kind));
    // The plugin answers with values; this blocking helper reports failures as its callers
    // expect them (LaunchFailure::raise: SshError for SSH trouble, else LaunchError).
    auto session = plugin->open(node, ctx).take();
    return session->probe().take();
}

namespace {

void classify(const nodes::SshError& e, ProbeOutcome* out) {
    out->message = QString::fromUtf8(e.what());
    out->hostKey = e.hostKey();
    switch (e.kind()) {
    case nodes::SshError::Kind::HostKeyUnknown:
        out->problem = ProbeOutcome::Problem::HostKeyUnknown;
        break;
    case nodes::SshError::Kind::HostKeyChanged:
        out->problem = ProbeOutcome::Problem::HostKeyChanged;
        break;
    default:
        out->problem = ProbeOutcome::Problem::Other;
        break;
    }
}

} // namespace

ProbeOutcome probeNodeChecked(const PluginRegistry& plugins, const store::NodeRecord& node,
                              const LauncherContext& ctx, const QString& acceptFingerprint) {
    ProbeOutcome out;
    out.node = node.name;
    try {
        if (node.kind != QLatin1String("local")) { // SSH hosts and Slurm login hosts
            const HostKeyCheck key =
                checkHostKey(sdk::endpointOf(node),
                             acceptFingerprint.isEmpty() ? nodes::HostKeyTrust::KnownOnly
                                                         : nodes::HostKeyTrust::AcceptNew,
                             acceptFingerprint);
            out.hostKey = key.key;
            out.hostKeyAdded = key.added;
        }
        out.probe = probeNode(plugins, node, ctx).toJson();
        out.problem = ProbeOutcome::Problem::None;
    } catch (const nodes::SshError& e) {
        classify(e, &out);
    } catch (const std::exception& e) {
        out.problem = ProbeOutcome::Problem::Other;
        out.message = QString::fromUtf8(e.what());
    }
    return out;
}

NodeProber::NodeProber(const PluginRegistry& plugins, const LauncherContext& ctx, QObject* parent)
    : QObject(parent), plugins_(plugins), ctx_(ctx) {
    qRegisterMetaType<ProbeOutcome>();
}

NodeProber::~NodeProber() {
    const QDeadlineTimer deadline(shutdownTimeoutMs);
    for (QThread* t : threads_) {
        if (t->wait(deadline)) {
            delete t;
            continue;
        }
        // Deleting a running QThread aborts the process, and terminating one can leave libssh or
        // a lock half-updated: the thread is left to end with the process.
        qWarning("bcd-workbench: a node probe did not finish within %d ms; leaving it to end "
                 "with the process",
                 shutdownTimeoutMs);
    }
}

void NodeProber::probe(const store::NodeRecord& node, const QString& acceptFingerprint) {
    auto out = std::make_shared<ProbeOutcome>();
    QThread* t = QThread::create([plugins = &plugins_, ctx = ctx_, node, acceptFingerprint, out] {
        *out = probeNodeChecked(*plugins, node, ctx, acceptFingerprint);
    });
    threads_.push_back(t);
    // Queued to this object: a connection Qt removes, thread-safely, if the prober is gone.
    connect(
        t, &QThread::finished, this,
        [this, t, out] {
            const auto it = std::find(threads_.begin(), threads_.end(), t);
            if (it == threads_.end()) return;
            threads_.erase(it);
            t->wait();
            delete t;
            emit finished(*out);
        },
        Qt::QueuedConnection);
    t->start();
}

} // namespace bcd::launch
