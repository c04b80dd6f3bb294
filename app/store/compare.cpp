#include "store/compare.h"

#include <QMap>
#include <algorithm>

namespace bcd::store {

namespace {
void flattenInto(const QJsonObject& o, const QString& prefix,
                 QVector<QPair<QString, QJsonValue>>* out) {
    for (auto it = o.begin(); it != o.end(); ++it) {
        const QString key = prefix.isEmpty() ? it.key() : prefix + '.' + it.key();
        if (it->isObject() && !it->toObject().isEmpty())
            flattenInto(it->toObject(), key, out);
        else
            out->push_back({key, *it});
    }
}
} // namespace

QVector<QPair<QString, QJsonValue>> flattenJson(const QJsonObject& o) {
    QVector<QPair<QString, QJsonValue>> out;
    flattenInto(o, {}, &out);
    return out;
}

RunSummary summarize(RunStore& store, qint64 runId) {
    RunSummary s;
    const auto run = store.run(runId);
    if (!run) throw StoreError("no run " + std::to_string(runId));
    s.run = *run;
    s.steps = store.pointCount(runId, PointType::Step);
    const auto steps = store.points(runId, PointType::Step);
    // Tokens per second of step time (docs/workbench.md "Throughput"): every step trains the same
    // tokens, so the run's rate is the harmonic mean of its steps' tok_s.
    double inverseSum = 0;
    qint64 rated = 0;
    for (const auto& p : steps)
        if (const auto r = p.value(MetricColumn::TokS); r && *r > 0) {
            inverseSum += 1.0 / *r;
            ++rated;
        }
    if (rated > 0) s.meanTokS = double(rated) / inverseSum;
    for (const auto& p : steps)
        if (const auto l = p.value(MetricColumn::Loss); l && (!s.minLoss || *l < *s.minLoss)) {
            s.minLoss = l;
            s.minLossStep = p.step;
        }
    if (!steps.isEmpty()) {
        const MetricPoint& last = steps.back();
        s.lastStep = last.step;
        s.tokens = last.value(MetricColumn::Tokens);
        s.elapsed = last.value(MetricColumn::Elapsed);
        s.finalLoss = last.value(MetricColumn::Loss);
        if (s.elapsed && run->prices.hasPrice()) s.cost = run->prices.costAt(*s.elapsed);
    }
    const auto evals = store.points(runId, PointType::Eval);
    if (!evals.isEmpty()) s.finalValLoss = evals.back().value(MetricColumn::ValLoss);
    return s;
}

RunComparison compareRun(RunStore& s, qint64 runId) {
    RunComparison c;
    c.summary = summarize(s, runId);
    for (const auto& p : s.points(runId, PointType::Eval))
        if (const auto v = p.value(MetricColumn::ValLoss);
            v && (!c.bestValLoss || *v < *c.bestValLoss))
            c.bestValLoss = v;
    double commSum = 0;
    qint64 commSteps = 0;
    for (const auto& p : s.points(runId, PointType::Step))
        if (const auto v = p.value(MetricColumn::CommBytes)) {
            commSum += *v;
            ++commSteps;
        }
    if (commSteps > 0) c.meanCommBytes = commSum / static_cast<double>(commSteps);
    const auto mem = s.series(runId, MetricColumn::Mem, 0, RunStore::kLastStep, 1);
    if (!mem.isEmpty() && mem.front().hasValue) c.peakMem = mem.front().max;
    if (c.summary.cost && c.summary.tokens && *c.summary.tokens > 0)
        c.usdPerMTokens = *c.summary.cost / (*c.summary.tokens / 1e6);
    return c;
}

QVector<ConfigDifference> configDifferences(const QVector<QJsonObject>& configs) {
    QMap<QString, QVector<QJsonValue>> byKey; // sorted keys
    for (qsizetype i = 0; i < configs.size(); ++i)
        for (const auto& [key, value] : flattenJson(configs[i])) {
            auto& values = byKey[key];
            values.resize(configs.size(), QJsonValue(QJsonValue::Undefined));
            values[i] = value;
        }
    QVector<ConfigDifference> out;
    for (auto it = byKey.begin(); it != byKey.end(); ++it) {
        if (it.key() == QLatin1String("output.dir")) continue;
        auto& values = it.value();
        values.resize(configs.size(), QJsonValue(QJsonValue::Undefined));
        const bool same = std::all_of(values.begin(), values.end(),
                                      [&](const QJsonValue& v) { return v == values.front(); });
        if (!same) out.push_back({it.key(), values});
    }
    return out;
}

QJsonObject withDefaults(const QJsonObject& config, const QJsonObject& defaults) {
    QJsonObject out = config;
    for (auto it = defaults.begin(); it != defaults.end(); ++it) {
        const auto mine = out.constFind(it.key());
        if (mine == out.constEnd())
            out.insert(it.key(), *it);
        else if (mine->isObject() && it->isObject())
            out.insert(it.key(), withDefaults(mine->toObject(), it->toObject()));
    }
    return out;
}

} // namespace bcd::store
