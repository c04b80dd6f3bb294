#include "store/node_price.h"

#include "store/run_status.h"

#include <QObject>

namespace bcd::store {

namespace {

// The price a run on several nodes pays after `changed` got `price`: as RunController does at
// launch, the sum of its nodes' prices when every node has one, else its first node's.
std::optional<double> runPrice(RunStore& s, const RunRecord& r, const QString& changed,
                               double price) {
    if (r.hosts.isEmpty()) return price;
    double sum = 0;
    for (const QString& host : r.hosts) {
        std::optional<double> p;
        if (host == changed)
            p = price;
        else if (const auto n = s.node(host))
            p = n->pricePerHour;
        if (!p) return r.node == changed ? std::optional<double>(price) : std::nullopt;
        sum += *p;
    }
    return sum;
}

} // namespace

NodePriceChange saveNodeSettings(RunStore& s, const NodeRecord& node) {
    if (node.pricePerHour && !(*node.pricePerHour >= 0))
        throw StoreError("node '" + node.name.toStdString() +
                         "': price per hour: expected a number >= 0");
    NodePriceChange change;
    change.node = node.name;
    change.after = node.pricePerHour;
    s.transaction([&] {
        const auto old = s.node(node.name);
        if (!old) throw StoreError("no node '" + node.name.toStdString() + "'");
        change.before = old->pricePerHour;
        change.connectionChanged = old->host != node.host || old->port != node.port ||
                                   old->user != node.user || old->identity != node.identity ||
                                   old->knownHosts != node.knownHosts;
        s.updateNode(node);
        if (!change.priceChanged() || !change.after) return;
        for (const RunRecord& r : s.runs()) {
            if (status::isTerminal(r.status) || r.ownPrice) continue;
            if (r.node != node.name && !r.hosts.contains(node.name)) continue;
            const auto price = runPrice(s, r, node.name, *change.after);
            if (!price) continue;
            const double from = s.latestElapsed(r.id).value_or(0.0);
            s.addRunPrice(r.id, from, *price);
            change.runs.push_back({r.id, r.name, from, *price});
        }
    });
    return change;
}

QString describe(const NodePriceChange& c) {
    if (!c.priceChanged()) return {};
    if (!c.after)
        return QObject::tr("Price of %1 cleared: new runs have no price; runs keep the prices "
                           "they had.")
            .arg(c.node);
    const QString price = formatPrice(c.after);
    if (c.runs.isEmpty())
        return QObject::tr("Price %1 applies to new runs on %2 (no active runs); finished runs "
                           "keep their cost.")
            .arg(price, c.node);
    QStringList ids;
    for (const auto& r : c.runs) ids << QStringLiteral("#%1").arg(r.runId);
    return QObject::tr("Price %1 applies to new runs and, from now, to the %2 on %3 (%4); "
                       "finished runs keep their cost.")
        .arg(price,
             c.runs.size() == 1 ? QObject::tr("active run")
                                : QObject::tr("%1 active runs").arg(c.runs.size()),
             c.node, ids.join(QStringLiteral(", ")));
}

} // namespace bcd::store
