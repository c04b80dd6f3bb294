// bcd-workbench run list | show | export | delete, and compare.

#include "cli/cli.h"
#include "cli/cli_args.h"
#include "cli/records_json.h"
#include "launch/engine_defaults.h"
#include "launch/run_folders.h"
#include "store/compare.h"
#include "store/number_format.h"
#include "store/run_curves.h"
#include "store/run_status.h"
#include "store/run_store.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QHash>
#include <QJsonDocument>
#include <QLocale>

namespace bcd::cli {

namespace {

using store::RunStore;

void printJson(const QJsonValue& v) {
    const QJsonDocument doc =
        v.isArray() ? QJsonDocument(v.toArray()) : QJsonDocument(v.toObject());
    out(QString::fromUtf8(doc.toJson(QJsonDocument::Indented)).trimmed());
}

QString when(double t) {
    return t > 0 ? QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(t * 1000))
                       .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"))
                 : QStringLiteral("-");
}

QString num(const std::optional<double>& v, int precision = 4) {
    return v ? QString::number(*v, 'f', precision) : QStringLiteral("-");
}

store::RunRecord existing(RunStore& s, qint64 id) {
    const auto r = s.run(id);
    if (!r) throw UsageError(QStringLiteral("no run %1 (run list)").arg(id));
    return *r;
}

int runList(Context& ctx) {
    const Args a(QStringLiteral("run list"), ctx.args, {{}, {"json", "all"}, {}, {}});
    if (!a.positional().isEmpty())
        throw UsageError(
            QStringLiteral("run list: unexpected argument '%1'").arg(a.positional().front()));
    RunStore s(ctx.db);
    QVector<store::RunRecord> runs = s.runs();
    const qsizetype stored = runs.size();
    if (!a.flag(QStringLiteral("all")))
        runs.removeIf([](const store::RunRecord& r) { return store::status::isArchived(r.tags); });
    if (a.flag(QStringLiteral("json"))) {
        QJsonArray arr;
        for (const auto& r : runs) arr.append(runJson(r));
        printJson(arr);
        return kExitOk;
    }
    for (const auto& r : runs)
        out(QStringLiteral("%1\t%2\t%3\t%4\tstep %5/%6\t%7")
                .arg(r.id)
                .arg(r.name, r.node,
                     r.jobState.isEmpty() || store::status::isTerminal(r.status)
                         ? r.status
                         : QStringLiteral("%1 [%2%3]")
                               .arg(r.status, r.jobState,
                                    r.jobReason.isEmpty() || r.jobReason == QLatin1String("None")
                                        ? QString()
                                        : ' ' + r.jobReason))
                .arg(r.lastStep ? QString::number(*r.lastStep) : QStringLiteral("-"))
                .arg(r.stepsTotal ? QString::number(*r.stepsTotal) : QStringLiteral("?"))
                .arg(when(r.createdAt)));
    if (runs.size() < stored)
        out(QStringLiteral("(%1 archived run(s) not shown: run list --all)")
                .arg(stored - runs.size()));
    return kExitOk;
}

// run archive / unarchive ID...: the "archived" tag added or removed.
int runArchive(Context& ctx, bool archive) {
    const QString verb = archive ? QStringLiteral("archive") : QStringLiteral("unarchive");
    const Args a(QStringLiteral("run ") + verb, ctx.args, {{}, {}, {}, {}});
    if (a.positional().isEmpty())
        throw UsageError(QStringLiteral("run %1: expected one or more IDs").arg(verb));
    RunStore s(ctx.db);
    QVector<store::RunRecord> runs;
    for (const QString& id : a.positional()) runs << existing(s, parseRunId(id));
    for (const store::RunRecord& r : runs) {
        if (archive && !store::status::isTerminal(r.status))
            throw UsageError(QStringLiteral("run archive: run %1 is %2; archive it once it is over")
                                 .arg(r.id)
                                 .arg(r.status));
    }
    for (const store::RunRecord& r : runs) {
        QStringList tags = r.tags;
        tags.removeAll(store::status::kArchivedTag);
        if (archive) tags << store::status::kArchivedTag;
        s.updateRunInfo(r.id, r.name, tags, r.notes);
        out(QStringLiteral("run %1 %2")
                .arg(r.id)
                .arg(archive ? QStringLiteral("archived") : QStringLiteral("unarchived")));
    }
    return kExitOk;
}

// "  phases    eval ×12 (34.2 s), checkpoint ×3 (1.2 GB, 4.5 s), final ×1 (...)" and, when the
// newest phase has not ended, "  now       eval after step 50: 3/12 batches, 2.1 s".
QStringList phaseLines(const QVector<store::PhaseRecord>& phases) {
    if (phases.isEmpty()) return {};
    struct Sum {
        int count = 0;
        double seconds = 0;
        qint64 bytes = 0;
    };
    QStringList order;
    QHash<QString, Sum> sums;
    for (const auto& p : phases) {
        if (!p.ended()) continue;
        if (!sums.contains(p.phase)) order << p.phase;
        Sum& s = sums[p.phase];
        ++s.count;
        s.seconds += p.seconds;
        s.bytes += p.bytes.value_or(0);
    }
    QStringList parts;
    for (const QString& name : order) {
        const Sum& s = sums[name];
        QString what = QString::number(s.seconds, 'f', 1) + QStringLiteral(" s");
        if (s.bytes > 0)
            what = QLocale::c().formattedDataSize(s.bytes, 1, QLocale::DataSizeSIFormat) +
                   QStringLiteral(", ") + what;
        parts << QStringLiteral("%1 ×%2 (%3)").arg(name).arg(s.count).arg(what);
    }
    QStringList lines;
    if (!parts.isEmpty())
        lines << QStringLiteral("  phases    ") + parts.join(QStringLiteral(", "));
    if (const auto& last = phases.back(); !last.ended()) {
        QString progress;
        if (last.done && last.total)
            progress = QStringLiteral(": %1/%2 batches").arg(*last.done).arg(*last.total);
        lines << QStringLiteral("  now       %1 after step %2%3, %4 s")
                     .arg(last.phase)
                     .arg(last.step)
                     .arg(progress)
                     .arg(QString::number(last.seconds, 'f', 1));
    }
    return lines;
}

int runShow(Context& ctx) {
    const Args a(QStringLiteral("run show"), ctx.args, {{}, {"json"}, {}, {}});
    if (a.positional().size() != 1) throw UsageError(QStringLiteral("run show: expected one ID"));
    RunStore s(ctx.db);
    const store::RunRecord r = existing(s, parseRunId(a.positional().front()));
    const auto steps = s.points(r.id, store::PointType::Step);
    const auto evals = s.points(r.id, store::PointType::Eval);
    const auto events = s.events(r.id);
    const auto phases = s.phases(r.id);
    if (a.flag(QStringLiteral("json"))) {
        QJsonObject o = runJson(r);
        o["config"] = r.config;
        QJsonArray st, ev, evt;
        for (const auto& p : steps) st.append(pointJson(p));
        for (const auto& p : evals) ev.append(pointJson(p));
        for (const auto& e : events) evt.append(eventJson(e));
        o["steps"] = st;
        o["evals"] = ev;
        o["events"] = evt;
        QJsonArray ph;
        for (const auto& p : phases) ph.append(phaseJson(p));
        o["phases"] = ph;
        printJson(o);
        return kExitOk;
    }
    out(QStringLiteral("run %1: %2").arg(r.id).arg(r.name));
    out(QStringLiteral("  status    %1%2")
            .arg(r.status,
                 r.message.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(r.message)));
    out(QStringLiteral("  node      %1%2")
            .arg(r.node, r.hosts.isEmpty()
                             ? QString()
                             : QStringLiteral(" (hosts: %1)").arg(r.hosts.join(", "))));
    out(QStringLiteral("  ranks     %1%2")
            .arg(r.worldSize ? QString::number(*r.worldSize) : QStringLiteral("-"),
                 r.processesPerNode > 0 ? QStringLiteral(" (%1 per node)").arg(r.processesPerNode)
                                        : QString()));
    out(QStringLiteral("  folder    %1 (%2)")
            .arg(r.remoteDir.isEmpty() ? QStringLiteral("-") : r.remoteDir)
            .arg(r.jobId.isEmpty() ? QStringLiteral("pid %1").arg(r.pid)
                                   : QStringLiteral("Slurm job %1").arg(r.jobId)));
    if (!r.jobId.isEmpty())
        out(QStringLiteral("  job       %1%2")
                .arg(r.jobState.isEmpty() ? QStringLiteral("-") : r.jobState,
                     r.jobReason.isEmpty() || r.jobReason == QLatin1String("None")
                         ? QString()
                         : QStringLiteral(" (%1)").arg(r.jobReason)));
    out(QStringLiteral("  created   %1, started %2, ended %3")
            .arg(when(r.createdAt), when(r.startedAt.value_or(0)), when(r.endedAt.value_or(0))));
    out(QStringLiteral("  steps     %1 stored, last %2 of %3")
            .arg(steps.size())
            .arg(r.lastStep ? QString::number(*r.lastStep) : QStringLiteral("-"))
            .arg(r.stepsTotal ? QString::number(*r.stepsTotal) : QStringLiteral("?")));
    if (!steps.isEmpty()) {
        const auto& last = steps.back();
        const auto lr = last.value(store::MetricColumn::Lr);
        out(QStringLiteral("  last      loss %1, lr %2, block %3, %4 tokens/s of step time")
                .arg(num(last.value(store::MetricColumn::Loss)),
                     lr ? store::formatLr(*lr) : QStringLiteral("-"),
                     num(last.value(store::MetricColumn::Block), 0),
                     num(last.value(store::MetricColumn::TokS), 0)));
    }
    // The price schedule, one segment a line, and what it came to by the last step.
    const QStringList segments = store::describeSegments(r.prices);
    for (qsizetype i = 0; i < segments.size(); ++i)
        out((i == 0 ? QStringLiteral("  price     ") : QStringLiteral("            ")) +
            segments[i]);
    if (!steps.isEmpty() && r.prices.hasPrice())
        if (const auto e = steps.back().value(store::MetricColumn::Elapsed))
            out(QStringLiteral("  cost      $%1 by %2 elapsed")
                    .arg(r.prices.costAt(*e), 0, 'f', 4)
                    .arg(store::formatDuration(*e)));
    if (!evals.isEmpty())
        out(QStringLiteral("  val_loss  %1 at step %2")
                .arg(num(evals.back().value(store::MetricColumn::ValLoss)))
                .arg(evals.back().step));
    for (const QString& line : phaseLines(phases)) out(line);
    const auto switches = std::count_if(events.begin(), events.end(), [](const auto& e) {
        return e.kind == QLatin1String("switch");
    });
    out(QStringLiteral("  events    %1%2")
            .arg(events.size())
            .arg(switches ? QStringLiteral(" (%1 block switches not listed; --json has them)")
                                .arg(switches)
                          : QString()));
    for (const auto& e : events)
        if (e.kind != QLatin1String("switch"))
            out(QStringLiteral("    %1 %2%3")
                    .arg(e.source, e.kind,
                         e.step ? QStringLiteral(" step %1").arg(*e.step) : QString()));
    return kExitOk;
}

int runExport(Context& ctx) {
    const Args a(QStringLiteral("run export"), ctx.args, {{"csv"}, {}, {}, {}});
    if (a.positional().size() != 1) throw UsageError(QStringLiteral("run export: expected one ID"));
    const QString file = a.required(QStringLiteral("csv"));
    RunStore s(ctx.db);
    const store::RunRecord r = existing(s, parseRunId(a.positional().front()));
    s.exportCsv(r.id, file);
    out(QStringLiteral("wrote %1 points of run %2 to %3")
            .arg(s.pointCount(r.id, store::PointType::Step) +
                 s.pointCount(r.id, store::PointType::Eval))
            .arg(r.id)
            .arg(QFileInfo(file).absoluteFilePath()));
    return kExitOk;
}

int runDelete(Context& ctx) {
    const Args a(QStringLiteral("run delete"), ctx.args, {{}, {"files"}, {}, {}});
    if (a.positional().size() != 1) throw UsageError(QStringLiteral("run delete: expected one ID"));
    RunStore s(ctx.db);
    const store::RunRecord r = existing(s, parseRunId(a.positional().front()));
    if (!store::status::isTerminal(r.status))
        throw UsageError(QStringLiteral("run delete: run %1 is %2; cancel it first (run cancel %1)")
                             .arg(r.id)
                             .arg(r.status));
    QString files = QStringLiteral("its files are kept");
    if (!r.remoteDir.isEmpty()) files += QStringLiteral(" (%1 on %2)").arg(r.remoteDir, r.node);
    if (a.flag(QStringLiteral("files")) && !r.remoteDir.isEmpty()) {
        // The folder first, wherever it lives; the row goes only once the folder is gone.
        const std::optional<store::NodeRecord> node = s.node(r.node);
        if (!node)
            throw UsageError(
                QStringLiteral("run delete: run %1's node '%2' is gone from the store; "
                               "its folder %3 cannot be reached (delete without "
                               "--files, then remove it by hand)")
                    .arg(r.id)
                    .arg(r.node, r.remoteDir));
        launch::PluginRegistry plugins;
        plugins.load(launch::PluginRegistry::defaultSearchPaths());
        launch::NodeSessions sessions(plugins, ctx.launcher);
        const launch::FolderRemoval done =
            launch::removeRunFolder(sessions, *node, r.id, r.remoteDir);
        if (!done.ok())
            throw launch::LaunchError(QStringLiteral("run delete: run %1 is kept: its folder %2 on "
                                                     "node %3 was not removed: %4")
                                          .arg(r.id)
                                          .arg(r.remoteDir, r.node, done.error));
        files =
            done.removed
                ? QStringLiteral("its folder %1 on %2 removed").arg(r.remoteDir, r.node)
                : QStringLiteral("its folder %1 on %2 was already gone").arg(r.remoteDir, r.node);
    }
    s.deleteRun(r.id);
    out(QStringLiteral("deleted run %1 from the store; %2").arg(r.id).arg(files));
    return kExitOk;
}

} // namespace

int cmdRun(const QString& verb, Context& ctx) {
    if (verb == QLatin1String("list")) return runList(ctx);
    if (verb == QLatin1String("delete")) return runDelete(ctx);
    if (verb == QLatin1String("show")) return runShow(ctx);
    if (verb == QLatin1String("export")) return runExport(ctx);
    if (verb == QLatin1String("archive")) return runArchive(ctx, true);
    if (verb == QLatin1String("unarchive")) return runArchive(ctx, false);
    throw UsageError(
        QStringLiteral(
            "run %1: unknown command (expected launch, list, show, attach, resume, fork, cancel, "
            "delete, archive, unarchive, export, checkpoints or sample)")
            .arg(verb));
}

int cmdCompare(Context& ctx) {
    const Args a(QStringLiteral("compare"), ctx.args, {{}, {"json"}, {}, {}});
    if (a.positional().isEmpty())
        throw UsageError(QStringLiteral("compare: expected one or more run IDs"));
    RunStore s(ctx.db);
    QVector<store::RunSummary> sums;
    QVector<QJsonObject> configs;
    for (const QString& id : a.positional()) {
        existing(s, parseRunId(id));
        sums.push_back(store::summarize(s, parseRunId(id)));
        // With the engine's defaults filled in: a key written out equal to its default is no
        // difference (as on the Compare page).
        configs.push_back(launch::resolvedConfig(sums.back().run.config));
    }
    const auto diffs = store::configDifferences(configs);
    if (a.flag(QStringLiteral("json"))) {
        QJsonArray runs, differences;
        for (const auto& x : sums) runs.append(summaryJson(x));
        for (const auto& d : diffs) {
            QJsonArray values;
            for (const auto& v : d.values)
                values.append(v.isUndefined() ? QJsonValue(QJsonValue::Null) : v);
            differences.append(QJsonObject{{"key", d.key}, {"values", values}});
        }
        printJson(QJsonObject{{"runs", runs}, {"config_differences", differences}});
        return kExitOk;
    }
    out(QStringLiteral(
        "id\tname\tstatus\tsteps\tfinal loss\tmin loss\tval loss\ttokens/s (step time)\tcost\t"
        "ranks"));
    for (const auto& x : sums)
        out(QStringLiteral("%1\t%2\t%3\t%4\t%5\t%6\t%7\t%8\t%9\t%10")
                .arg(x.run.id)
                .arg(x.run.name, x.run.status)
                .arg(x.steps)
                .arg(num(x.finalLoss), num(x.minLoss), num(x.finalValLoss), num(x.meanTokS, 0),
                     x.cost ? QStringLiteral("$%1").arg(*x.cost, 0, 'f', 2) : QStringLiteral("-"),
                     x.run.worldSize ? QString::number(*x.run.worldSize) : QStringLiteral("-")));
    if (diffs.isEmpty()) out(QStringLiteral("configs: identical (output.dir aside)"));
    for (const auto& d : diffs) {
        QStringList values;
        for (const auto& v : d.values)
            values << (v.isUndefined()
                           ? QStringLiteral("(absent)")
                           : QString::fromUtf8(
                                 QJsonDocument(QJsonArray{v}).toJson(QJsonDocument::Compact))
                                 .mid(1)
                                 .chopped(1));
        out(QStringLiteral("  %1: %2").arg(d.key, values.join(QStringLiteral(" | "))));
    }
    return kExitOk;
}

} // namespace bcd::cli
