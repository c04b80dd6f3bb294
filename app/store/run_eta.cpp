#include "store/run_eta.h"

#include <QJsonArray>
#include <algorithm>

namespace bcd::store {

namespace {

// How many times a phase runs after steps in (done, total]: at every multiple of `every` and at
// the last step (the engine's rule); `every` 0: only at the last step when `atEnd`.
qint64 occurrencesAfter(qint64 done, qint64 total, qint64 every, bool atEnd) {
    if (total <= done) return 0;
    if (every <= 0) return atEnd ? 1 : 0;
    const qint64 multiples = total / every - done / every;
    return multiples + (total % every != 0 ? 1 : 0);
}

double mean(const QVector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.isEmpty() ? 0 : s / double(v.size());
}

} // namespace

std::optional<Eta> estimateRemaining(const EtaInput& in) {
    if (in.done <= 0 || in.total <= 0) return std::nullopt;
    Eta e;
    const QJsonObject output = in.config.value(QLatin1String("output")).toObject();
    const qint64 evalEvery = output.value(QLatin1String("eval_every")).toInteger(0);
    const qint64 ckptEvery = output.value(QLatin1String("checkpoint_every")).toInteger(0);
    const bool hasVal = !in.config.value(QLatin1String("data"))
                             .toObject()
                             .value(QLatin1String("val"))
                             .toString()
                             .isEmpty();

    // Measured: the phases that ended, and the time before the last step spent in them.
    QVector<double> evals, ckpts;
    double phaseTimeBefore = 0;
    bool finalDone = false;
    const PhaseRecord* current = nullptr;
    for (const auto& p : in.phases) {
        if (p.ended()) {
            if (p.phase == QLatin1String("eval")) evals << p.seconds;
            if (p.phase == QLatin1String("checkpoint")) ckpts << p.seconds;
            if (p.phase == QLatin1String("final")) finalDone = true;
            if (p.step < in.done) phaseTimeBefore += p.seconds;
        }
    }
    if (!in.phases.isEmpty() && !in.phases.back().ended() && in.phases.back().step >= in.done)
        current = &in.phases.back();
    e.step_s = std::max(0.0, in.elapsed - phaseTimeBefore) / double(in.done);
    const qint64 left = std::max<qint64>(0, in.total - in.done);
    e.train_s = e.step_s * double(left);

    // Planned phase lengths.
    const double tokensPerS = e.step_s > 0 ? in.tokens / double(in.done) / e.step_s : 0;
    const double evalTokens = in.start.value(QLatin1String("eval_tokens")).toDouble(0);
    const double params = in.start.value(QLatin1String("params")).toDouble(0);
    double largestBlock = 0;
    for (const auto& b : in.start.value(QLatin1String("blocks")).toArray())
        largestBlock =
            std::max(largestBlock, b.toObject().value(QLatin1String("params")).toDouble());
    const bool full = in.start.value(QLatin1String("mode")).toString() == QLatin1String("full");
    const QString optimizer = in.config.value(QLatin1String("optim"))
                                  .toObject()
                                  .value(QLatin1String("name"))
                                  .toString(QStringLiteral("adamw"));
    const double states = optimizer == QLatin1String("adamw") ? 2 : 1;
    const double ckptBytes = 4 * params + 4 * states * (full ? params : largestBlock);

    if (hasVal) {
        if (!evals.isEmpty()) {
            e.one_eval_s = mean(evals);
            e.eval_measured = true;
        } else if (evalTokens > 0 && tokensPerS > 0) {
            // Planned conservatively (docs/workbench.md "Progress and ETA"): a token of a
            // gradient-free pass at half a full training step's time per token, at a BCD step's
            // whole (its truncated backward is short: measured alike on the CPU engine).
            e.one_eval_s = evalTokens / tokensPerS * (full ? 0.5 : 1.0);
        }
        if (e.one_eval_s) {
            e.eval_s = double(occurrencesAfter(in.done, in.total, evalEvery, true)) * *e.one_eval_s;
            if (current && current->phase == QLatin1String("eval")) {
                const double total = double(current->total.value_or(0));
                const double frac = total > 0 ? double(current->done.value_or(0)) / total : 0;
                e.eval_s += std::max(0.0, *e.one_eval_s * (1 - frac));
            }
        }
    }
    if (ckptEvery > 0) {
        if (!ckpts.isEmpty()) {
            e.one_checkpoint_s = mean(ckpts);
            e.checkpoint_measured = true;
        } else if (params > 0) {
            e.one_checkpoint_s = ckptBytes / kAssumedDiskBytesPerSecond;
        }
        if (e.one_checkpoint_s) {
            e.checkpoint_s =
                double(occurrencesAfter(in.done, in.total, ckptEvery, false)) * *e.one_checkpoint_s;
            if (current && current->phase == QLatin1String("checkpoint"))
                e.checkpoint_s += std::max(0.0, *e.one_checkpoint_s - current->seconds);
        }
    }
    if (!finalDone && params > 0) e.checkpoint_s += 4 * params / kAssumedDiskBytesPerSecond;
    e.remaining_s = e.train_s + e.eval_s + e.checkpoint_s;
    return e;
}

QString phaseInProgress(const QVector<PhaseRecord>& phases) {
    if (phases.isEmpty() || phases.back().ended()) return {};
    const PhaseRecord& p = phases.back();
    if (p.phase == QLatin1String("eval"))
        return p.total ? QStringLiteral("evaluating %1/%2").arg(p.done.value_or(0)).arg(*p.total)
                       : QStringLiteral("evaluating");
    if (p.phase == QLatin1String("checkpoint")) return QStringLiteral("writing checkpoint");
    if (p.phase == QLatin1String("final")) return QStringLiteral("writing the final model");
    return p.phase;
}

} // namespace bcd::store
