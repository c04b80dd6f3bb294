#include "launch/node_prober.h"

#include <algorithm>

namespace bcd::launch {

nodes::NodeProbe probeNode(const PluginRegistry& plugins, const store::NodeRecord& node,
                           const LauncherContext& ctx) {
    LauncherPlugin* plugin = plugins.launcher(node.kind);
    if (!plugin) throw LaunchError(plugins.missingReason(node.kind));
    // The plugin answers with values; this blocking helper reports failures as its callers
    // expect them (LaunchFailure::raise: SshError for SSH trouble, else LaunchError).
    auto session = plugin->open(node, ctx).take();
    return session->probe().take();
}

NodeProber::NodeProber(const PluginRegistry& plugins, const LauncherContext& ctx, QObject* parent)
    : QObject(parent), plugins_(plugins), ctx_(ctx) {}

NodeProber::~NodeProber() {
    for (QThread* t : threads_) {
        if (!t->wait(shutdownTimeoutMs)) {
            qWarning("bcd-workbench: a node probe did not finish within %d ms; terminating it",
                     shutdownTimeoutMs);
            t->terminate();
            t->wait();
        }
        delete t;
    }
}

void NodeProber::probe(const store::NodeRecord& node) {
    QThread* t = QThread::create([this, node] {
        try {
            const QJsonObject p = probeNode(plugins_, node, ctx_).toJson();
            QMetaObject::invokeMethod(
                this, [this, name = node.name, p] { emit probed(name, p); }, Qt::QueuedConnection);
        } catch (const std::exception& e) {
            const QString m = QString::fromUtf8(e.what());
            QMetaObject::invokeMethod(
                this, [this, name = node.name, m] { emit probeFailed(name, m); },
                Qt::QueuedConnection);
        }
    });
    threads_.push_back(t);
    connect(
        t, &QThread::finished, this,
        [this, t] {
            const auto it = std::find(threads_.begin(), threads_.end(), t);
            if (it == threads_.end()) return;
            threads_.erase(it);
            t->wait();
            delete t;
        },
        Qt::QueuedConnection);
    t->start();
}

} // namespace bcd::launch
