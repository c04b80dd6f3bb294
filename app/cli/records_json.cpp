#include "cli/records_json.h"

namespace bcd::cli {

namespace {
template <class T> QJsonValue orNull(const std::optional<T>& v) {
    return v ? QJsonValue(static_cast<double>(*v)) : QJsonValue(QJsonValue::Null);
}
QJsonValue orNull(const std::optional<qint64>& v) {
    return v ? QJsonValue(*v) : QJsonValue(QJsonValue::Null);
}
} // namespace

QJsonObject nodeJson(const store::NodeRecord& n) {
    QJsonObject o{{"name", n.name}, {"kind", n.kind}};
    if (n.kind != QLatin1String("local")) {
        o["host"] = n.host;
        o["port"] = n.port;
        o["user"] = n.user;
        o["identity"] = n.identity;
        o["known_hosts"] = n.knownHosts;
    }
    if (n.kind == QLatin1String("slurm")) o["job_defaults"] = n.jobDefaults;
    o["engine"] = n.engine;
    o["run_root"] = n.runRoot;
    o["price_per_hour"] = orNull(n.pricePerHour);
    o["probe"] = n.probe.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(n.probe);
    o["probed_at"] = n.probedAt > 0 ? QJsonValue(n.probedAt) : QJsonValue(QJsonValue::Null);
    return o;
}

QJsonObject runJson(const store::RunRecord& r) {
    QJsonObject o{{"id", r.id},
                  {"name", r.name},
                  {"status", r.status},
                  {"message", r.message},
                  {"node", r.node},
                  {"hosts", QJsonArray::fromStringList(r.hosts)},
                  {"processes_per_node", r.processesPerNode},
                  {"world_size", r.worldSize ? QJsonValue(*r.worldSize) : QJsonValue()},
                  {"run_dir", r.remoteDir},
                  {"pid", r.pid},
                  {"metrics_offset", r.metricsOffset},
                  {"tags", QJsonArray::fromStringList(r.tags)},
                  {"notes", r.notes},
                  {"price_per_hour", orNull(r.pricePerHour)},
                  {"created", r.createdAt},
                  {"started", orNull(r.startedAt)},
                  {"ended", orNull(r.endedAt)},
                  {"last_step", orNull(r.lastStep)},
                  {"steps_total", orNull(r.stepsTotal)}};
    if (!r.jobId.isEmpty())
        o["job"] = QJsonObject{{"id", r.jobId}, {"state", r.jobState}, {"reason", r.jobReason}};
    // The price schedule: the launch price from 0, then each change (docs/workbench.md "Cost").
    QJsonArray prices;
    for (const auto& seg : r.prices.segments())
        prices.append(QJsonObject{{"from_elapsed", seg.fromElapsed},
                                  {"price_per_hour", orNull(seg.pricePerHour)},
                                  {"set_at", seg.setAt.isEmpty() ? QJsonValue(QJsonValue::Null)
                                                                 : QJsonValue(seg.setAt)}});
    o["prices"] = prices;
    return o;
}

QJsonObject pointJson(const store::MetricPoint& p) {
    QJsonObject o{{"step", p.step}};
    for (int c = 0; c < store::kMetricColumns; ++c) {
        const auto col = static_cast<store::MetricColumn>(c);
        const auto v = p.value(col);
        if (!v) continue;
        o[QLatin1String(store::columnName(col))] =
            store::columnIsInteger(col) ? QJsonValue(static_cast<qint64>(*v)) : QJsonValue(*v);
    }
    return o;
}

QJsonObject eventJson(const store::EventRecord& e) {
    return QJsonObject{{"source", e.source},
                       {"kind", e.kind},
                       {"step", orNull(e.step)},
                       {"time", e.time},
                       {"data", e.data}};
}

QJsonObject phaseJson(const store::PhaseRecord& p) {
    return QJsonObject{{"phase", p.phase},         {"step", p.step},
                       {"state", p.state},         {"done", orNull(p.done)},
                       {"total", orNull(p.total)}, {"bytes", orNull(p.bytes)},
                       {"seconds", p.seconds},     {"elapsed_s", orNull(p.elapsed)}};
}

QJsonObject summaryJson(const store::RunSummary& s) {
    QJsonObject o = runJson(s.run);
    o["steps"] = s.steps;
    o["tokens"] = orNull(s.tokens);
    o["elapsed_s"] = orNull(s.elapsed);
    o["final_loss"] = orNull(s.finalLoss);
    o["min_loss"] = orNull(s.minLoss);
    o["min_loss_step"] = orNull(s.minLossStep);
    o["final_val_loss"] = orNull(s.finalValLoss);
    o["tok_s"] = orNull(s.meanTokS);
    o["cost_usd"] = orNull(s.cost);
    return o;
}

} // namespace bcd::cli
