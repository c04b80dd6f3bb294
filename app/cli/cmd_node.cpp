// bcd-workbench node add | list | probe | price | remove

#include "cli/cli.h"
#include "cli/cli_args.h"
#include "cli/records_json.h"
#include "launch/node_prober.h"
#include "nodes/local_probe.h"
#include "nodes/slurm_job.h"
#include "nodes/ssh_session.h"
#include "sdk/remote_node.h"
#include "store/node_price.h"
#include "store/run_store.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <cmath>

namespace bcd::cli {

namespace {

using store::NodeRecord;

void checkNodeName(const QString& name) {
    static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"));
    if (!re.match(name).hasMatch())
        throw UsageError(
            QStringLiteral("node name '%1': expected letters, digits, '.', '_' or '-' (at most 64)")
                .arg(name));
}

QString absolute(const QString& path) {
    return path.isEmpty() ? path : QFileInfo(path).absoluteFilePath();
}

void printJson(const QJsonObject& o) {
    out(QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Indented)).trimmed());
}

nodes::NodeProbe probeAndStore(store::RunStore& s, const NodeRecord& n, Context& ctx) {
    launch::PluginRegistry plugins;
    plugins.load(launch::PluginRegistry::defaultSearchPaths());
    ctx.launcher.localEngineVersion = nodes::localEngineVersion(ctx.launcher.localEngine);
    const nodes::NodeProbe p = launch::probeNode(plugins, n, ctx.launcher);
    s.setNodeProbe(n.name, p.toJson());
    return p;
}

// The job defaults of a Slurm node from node add's options; UsageError naming the option.
nodes::SlurmJobDefaults slurmDefaults(const Args& a) {
    nodes::SlurmJobDefaults d;
    d.partition = a.value(QStringLiteral("partition"));
    d.account = a.value(QStringLiteral("account"));
    d.qos = a.value(QStringLiteral("qos"));
    d.timeLimit = a.value(QStringLiteral("time"));
    const auto count = [&](const char* name, int fallback, int lo, int hi) {
        if (!a.has(QLatin1String(name))) return fallback;
        const double v = a.number(QLatin1String(name));
        if (v < lo || v > hi || v != static_cast<int>(v))
            throw UsageError(QStringLiteral("node add: --%1: expected a whole number from %2 to %3")
                                 .arg(QLatin1String(name))
                                 .arg(lo)
                                 .arg(hi));
        return static_cast<int>(v);
    };
    d.nodes = count("nodes", 1, 1, 4096);
    d.gpusPerNode = count("gpus-per-node", 0, 0, 64);
    d.cpusPerTask = count("cpus-per-task", 0, 0, 4096);
    d.memPerTaskMiB = count("mem-per-task", 0, 0, 1 << 30);
    d.extraLines = a.values(QStringLiteral("sbatch"));
    if (const QString why = d.validate(); !why.isEmpty())
        throw UsageError(QStringLiteral("node add: ") + why);
    return d;
}

int nodeAdd(Context& ctx) {
    const Args a(QStringLiteral("node add"), ctx.args,
                 {{"host", "port", "user", "identity", "known-hosts", "engine", "run-root",
                   "price-per-hour", "partition", "account", "qos", "time", "nodes",
                   "gpus-per-node", "cpus-per-task", "mem-per-task"},
                  {"no-probe", "slurm"},
                  {"sbatch"},
                  {"accept-new-host-key"}});
    if (a.positional().size() != 1) throw UsageError(QStringLiteral("node add: expected one NAME"));
    NodeRecord n;
    n.name = a.positional().front();
    checkNodeName(n.name);
    n.kind = a.flag(QStringLiteral("slurm")) ? QStringLiteral("slurm") : QStringLiteral("ssh");
    if (n.kind == QLatin1String("slurm")) {
        n.jobDefaults = slurmDefaults(a).toJson();
    } else {
        for (const char* o : {"partition", "account", "qos", "time", "nodes", "gpus-per-node",
                              "cpus-per-task", "mem-per-task", "sbatch"})
            if (a.has(QLatin1String(o)))
                throw UsageError(
                    QStringLiteral("node add: --%1 is a Slurm job setting (add --slurm)").arg(o));
    }
    n.host = a.required(QStringLiteral("host"));
    if (a.has(QStringLiteral("port"))) {
        const double port = a.number(QStringLiteral("port"));
        if (port < 1 || port > 65535 || port != static_cast<int>(port))
            throw UsageError(QStringLiteral("node add: --port: expected 1 to 65535"));
        n.port = static_cast<int>(port);
    }
    n.user = a.value(QStringLiteral("user"));
    n.identity = absolute(a.value(QStringLiteral("identity")));
    n.knownHosts = absolute(a.value(QStringLiteral("known-hosts")));
    n.engine = a.value(QStringLiteral("engine"));
    n.runRoot = a.value(QStringLiteral("run-root"));
    if (a.has(QStringLiteral("price-per-hour")))
        n.pricePerHour = a.number(QStringLiteral("price-per-hour"));
    if (!n.identity.isEmpty() && !QFileInfo(n.identity).isFile())
        throw UsageError(QStringLiteral("node add: --identity: no file %1").arg(n.identity));

    store::RunStore s(ctx.db);
    if (s.node(n.name))
        throw UsageError(
            QStringLiteral("node '%1' already exists (node remove it first)").arg(n.name));

    const nodes::SshEndpoint ep = sdk::endpointOf(n);
    const bool accept = a.has(QStringLiteral("accept-new-host-key"));
    try {
        const launch::HostKeyCheck key = launch::checkHostKey(
            ep, accept ? nodes::HostKeyTrust::AcceptNew : nodes::HostKeyTrust::KnownOnly,
            a.value(QStringLiteral("accept-new-host-key")));
        out(QStringLiteral("%1: host key %2 %3%4")
                .arg(ep.display(), key.key.type, key.key.sha256,
                     key.added ? QStringLiteral(" (accepted and stored)") : QString()));
    } catch (const nodes::SshError& e) {
        if (e.kind() == nodes::SshError::Kind::HostKeyUnknown && !accept)
            throw nodes::SshError(
                e.kind(),
                QString::fromUtf8(e.what()) +
                    QStringLiteral(" (if it is right, run again with --accept-new-host-key=%1)")
                        .arg(e.hostKey().sha256),
                e.hostKey());
        throw;
    }
    s.addNode(n);
    out(QStringLiteral("added node %1").arg(n.name));
    if (!a.flag(QStringLiteral("no-probe"))) {
        try {
            out(n.name + QStringLiteral(": ") + probeAndStore(s, *s.node(n.name), ctx).summary());
        } catch (const std::exception& e) {
            err(QStringLiteral("bcd-workbench: warning: node %1 added, but the probe failed: %2")
                    .arg(n.name, QString::fromUtf8(e.what())));
        }
    }
    return kExitOk;
}

int nodeList(Context& ctx) {
    const Args a(QStringLiteral("node list"), ctx.args, {{}, {"json"}, {}, {}});
    if (!a.positional().isEmpty())
        throw UsageError(
            QStringLiteral("node list: unexpected argument '%1'").arg(a.positional().front()));
    store::RunStore s(ctx.db);
    const auto all = s.nodes();
    if (a.flag(QStringLiteral("json"))) {
        QJsonArray arr;
        for (const auto& n : all) arr.append(nodeJson(n));
        out(QString::fromUtf8(QJsonDocument(arr).toJson(QJsonDocument::Indented)).trimmed());
        return kExitOk;
    }
    for (const auto& n : all) {
        const QString where =
            n.kind == QLatin1String("local")
                ? QStringLiteral("this machine")
                : nodes::SshEndpoint{n.host, n.port, n.user, {}, {}, 15}.display() +
                      (n.kind == QLatin1String("slurm")
                           ? QStringLiteral(" (%1)").arg(
                                 nodes::SlurmJobDefaults::fromJson(n.jobDefaults).summary())
                           : QString());
        const QString probe = n.probe.isEmpty() ? QStringLiteral("not probed")
                                                : nodes::NodeProbe::fromJson(n.probe).summary();
        out(QStringLiteral("%1\t%2\t%3\t%4").arg(n.name, n.kind, where, probe));
    }
    return kExitOk;
}

int nodeProbe(Context& ctx) {
    const Args a(QStringLiteral("node probe"), ctx.args, {{}, {"json"}, {}, {}});
    if (a.positional().size() != 1)
        throw UsageError(QStringLiteral("node probe: expected one NAME"));
    store::RunStore s(ctx.db);
    const auto n = s.node(a.positional().front());
    if (!n)
        throw UsageError(QStringLiteral("no node '%1' (node list)").arg(a.positional().front()));
    const nodes::NodeProbe p = probeAndStore(s, *n, ctx);
    if (a.flag(QStringLiteral("json")))
        printJson(QJsonObject{{"node", n->name}, {"probe", p.toJson()}});
    else
        out(n->name + QStringLiteral(": ") + p.summary());
    return kExitOk;
}

// The node's price, as the Nodes page's edit sets it (store::saveNodeSettings): new runs and the
// node's active runs from now; the sentence says which runs it reached.
int nodePrice(Context& ctx) {
    const Args a(QStringLiteral("node price"), ctx.args, {{}, {"json"}, {}, {}});
    if (a.positional().size() != 2)
        throw UsageError(QStringLiteral("node price: expected NAME and USD_PER_HOUR (or none)"));
    const QString name = a.positional()[0];
    const QString value = a.positional()[1];
    std::optional<double> price;
    if (value != QLatin1String("none")) {
        bool ok = false;
        const double v = value.toDouble(&ok);
        if (!ok || !(v >= 0) || !std::isfinite(v))
            throw UsageError(
                QStringLiteral("node price: '%1': expected dollars per hour (a number >= 0) or "
                               "none")
                    .arg(value));
        price = v;
    }
    store::RunStore s(ctx.db);
    auto n = s.node(name);
    if (!n) throw UsageError(QStringLiteral("no node '%1' (node list)").arg(name));
    n->pricePerHour = price;
    const store::NodePriceChange change = store::saveNodeSettings(s, *n);
    if (a.flag(QStringLiteral("json"))) {
        QJsonArray runs;
        for (const auto& r : change.runs)
            runs.append(QJsonObject{{"id", r.runId},
                                    {"from_elapsed", r.fromElapsed},
                                    {"price_per_hour", r.pricePerHour}});
        printJson(QJsonObject{
            {"node", name},
            {"price_per_hour", price ? QJsonValue(*price) : QJsonValue(QJsonValue::Null)},
            {"changed", change.priceChanged()},
            {"runs", runs},
            {"message", store::describe(change)}});
        return kExitOk;
    }
    out(change.priceChanged()
            ? store::describe(change)
            : QStringLiteral("%1: the price is already %2").arg(name, store::formatPrice(price)));
    return kExitOk;
}

int nodeRemove(Context& ctx) {
    const Args a(QStringLiteral("node remove"), ctx.args, {{}, {}, {}, {}});
    if (a.positional().size() != 1)
        throw UsageError(QStringLiteral("node remove: expected one NAME"));
    store::RunStore s(ctx.db);
    const QString name = a.positional().front();
    if (!s.node(name)) throw UsageError(QStringLiteral("no node '%1'").arg(name));
    try {
        s.removeNode(name);
    } catch (const store::StoreError& e) {
        throw UsageError(QString::fromUtf8(e.what()));
    }
    out(QStringLiteral("removed node %1").arg(name));
    return kExitOk;
}

} // namespace

int cmdNode(const QString& verb, Context& ctx) {
    if (verb == QLatin1String("add")) return nodeAdd(ctx);
    if (verb == QLatin1String("list")) return nodeList(ctx);
    if (verb == QLatin1String("probe")) return nodeProbe(ctx);
    if (verb == QLatin1String("price")) return nodePrice(ctx);
    if (verb == QLatin1String("remove")) return nodeRemove(ctx);
    throw UsageError(
        QStringLiteral("node %1: unknown command (expected add, list, probe, price or remove)")
            .arg(verb));
}

} // namespace bcd::cli
