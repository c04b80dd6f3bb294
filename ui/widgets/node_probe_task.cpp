#include "ui/widgets/node_probe_task.h"

#include "launch/node_prober.h"

#include <QPointer>
#include <QThread>
#include <memory>

namespace bcd::ui {

nodes::SshEndpoint sshEndpoint(const store::NodeRecord& node) {
    nodes::SshEndpoint ep;
    ep.host = node.host;
    ep.port = node.port;
    ep.user = node.user;
    ep.identity = node.identity;
    ep.knownHosts = node.knownHosts;
    return ep;
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

void probeNow(const launch::PluginRegistry& plugins, const launch::LauncherContext& ctx,
              const store::NodeRecord& node, const QString& acceptFingerprint, ProbeOutcome* out) {
    out->node = node.name;
    if (node.kind != QLatin1String("local")) { // SSH hosts and Slurm login hosts
        try {
            const nodes::SshSession check(sshEndpoint(node),
                                          acceptFingerprint.isEmpty()
                                              ? nodes::HostKeyTrust::KnownOnly
                                              : nodes::HostKeyTrust::AcceptNew,
                                          acceptFingerprint);
            out->hostKey = check.hostKey();
            out->hostKeyAdded = check.hostKeyAdded();
        } catch (const nodes::SshError& e) {
            classify(e, out);
            return;
        } catch (const std::exception& e) {
            out->problem = ProbeOutcome::Problem::Other;
            out->message = QString::fromUtf8(e.what());
            return;
        }
    }
    try {
        out->probe = launch::probeNode(plugins, node, ctx).toJson();
        out->problem = ProbeOutcome::Problem::None;
    } catch (const nodes::SshError& e) {
        classify(e, out);
    } catch (const std::exception& e) {
        out->problem = ProbeOutcome::Problem::Other;
        out->message = QString::fromUtf8(e.what());
    }
}

} // namespace

QThread* startNodeProbe(const launch::PluginRegistry& plugins, const launch::LauncherContext& ctx,
                        const store::NodeRecord& node, QObject* receiver,
                        std::function<void(const ProbeOutcome&)> done,
                        const QString& acceptFingerprint) {
    auto out = std::make_shared<ProbeOutcome>();
    QThread* t = QThread::create([&plugins, ctx, node, acceptFingerprint, out] {
        probeNow(plugins, ctx, node, acceptFingerprint, out.get());
    });
    QObject::connect(t, &QThread::finished, t, &QObject::deleteLater);
    QObject::connect(t, &QThread::finished, receiver,
                     [out, done = std::move(done)] { done(*out); });
    t->start();
    return t;
}

} // namespace bcd::ui
