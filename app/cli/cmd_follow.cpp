// bcd-workbench run launch | attach | resume | cancel: the RunController on an event loop, as the
// GUI will run it, printing progress to stderr.

#include "cli/cli.h"
#include "cli/cli_args.h"
#include "cli/interrupt_watcher.h"
#include "launch/run_config.h"
#include "launch/run_controller.h"
#include "launch/run_folders.h"
#include "nodes/local_probe.h"
#include "store/run_store.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSocketNotifier>
#include <csignal>
#include <sys/socket.h>
#include <unistd.h>

namespace bcd::cli {

namespace {

int exitFor(const QString& status) {
    if (status == store::status::kFinished) return kExitOk;
    if (status == store::status::kCancelled) return kExitCancelled;
    return kExitFailure;
}

} // namespace

int cmdFollow(const QString& verb, Context& ctx) {
    launch::LaunchInput input;
    qint64 runId = 0;
    int graceMs = 30000;
    bool detach = false;
    if (verb == QLatin1String("launch")) {
        const Args a(QStringLiteral("run launch"), ctx.args,
                     {{"config", "name", "notes", "price-per-hour", "processes-per-node"},
                      {"detach"},
                      {"node", "tag"},
                      {}});
        if (!a.positional().isEmpty())
            throw UsageError(
                QStringLiteral("run launch: unexpected argument '%1'").arg(a.positional().front()));
        input.configFile = QFileInfo(a.required(QStringLiteral("config"))).absoluteFilePath();
        input.nodes = a.values(QStringLiteral("node"));
        if (input.nodes.isEmpty())
            throw UsageError(
                QStringLiteral("run launch: --node is required ('local' for this machine)"));
        input.name = a.value(QStringLiteral("name"));
        input.tags = a.values(QStringLiteral("tag"));
        input.notes = a.value(QStringLiteral("notes"));
        if (a.has(QStringLiteral("price-per-hour")))
            input.pricePerHour = a.number(QStringLiteral("price-per-hour"));
        if (a.has(QStringLiteral("processes-per-node"))) {
            const double n = a.number(QStringLiteral("processes-per-node"));
            if (n < 1 || n > 1024 || n != static_cast<int>(n))
                throw UsageError(QStringLiteral(
                    "run launch: --processes-per-node: expected a whole number from 1 to 1024"));
            input.processesPerNode = static_cast<int>(n);
        }
        detach = a.flag(QStringLiteral("detach"));
        input.follow = !detach;
        launch::loadRunConfig(
            input.configFile); // bad input fails here, before the store is touched
    } else if (verb == QLatin1String("fork")) {
        // A new run from a checkpoint of a stopped or finished run, with changed settings.
        const Args a(QStringLiteral("run fork"), ctx.args,
                     {{"checkpoint", "name", "notes", "price-per-hour"},
                      {"detach"},
                      {"node", "tag", "set"},
                      {}});
        if (a.positional().size() != 1)
            throw UsageError(QStringLiteral("run fork: expected one ID"));
        const qint64 parent = parseRunId(a.positional().front());
        store::RunRecord r;
        {
            store::RunStore s(ctx.db);
            const auto found = s.run(parent);
            if (!found) throw UsageError(QStringLiteral("no run %1 (run list)").arg(parent));
            r = *found;
        }
        input.nodes = a.values(QStringLiteral("node"));
        if (input.nodes.isEmpty()) input.nodes = {r.node};
        QStringList found;
        if (r.node == QLatin1String("local")) {
            found = launch::localCheckpoints(r.remoteDir);
        } else {
            // Its checkpoints are on its node: listed there, and the new run starts there (the
            // checkpoint folder becomes model.path, a path on that node).
            if (input.nodes.front() != r.node)
                throw UsageError(QStringLiteral("run fork: run %1's checkpoints are on node %2: "
                                                "fork it there (--node %2), or copy a checkpoint "
                                                "and run launch with model.path set to it")
                                     .arg(parent)
                                     .arg(r.node));
            const auto node = store::RunStore(ctx.db).node(r.node);
            if (!node)
                throw UsageError(QStringLiteral("run fork: run %1's node '%2' is gone from the "
                                                "store")
                                     .arg(parent)
                                     .arg(r.node));
            launch::PluginRegistry plugins;
            plugins.load(launch::PluginRegistry::defaultSearchPaths());
            launch::NodeSessions sessions(plugins, ctx.launcher);
            QString error;
            found = launch::listRunCheckpoints(sessions, *node, r.remoteDir, &error);
            if (!error.isEmpty())
                throw launch::LaunchError(
                    QStringLiteral("run fork: cannot list the checkpoints of run %1 on node %2: %3")
                        .arg(parent)
                        .arg(r.node, error));
        }
        const QString checkpoint = a.value(QStringLiteral("checkpoint"), QStringLiteral("final"));
        if (!found.contains(checkpoint))
            throw UsageError(
                QStringLiteral("run fork: --checkpoint: run %1 has no complete checkpoint '%2' "
                               "(it has: %3)")
                    .arg(parent)
                    .arg(checkpoint, found.isEmpty() ? QStringLiteral("none")
                                                     : found.join(QStringLiteral(", "))));
        QJsonObject config = launch::forkConfig(r.config, r.remoteDir, checkpoint);
        for (const QString& set : a.values(QStringLiteral("set"))) {
            const qsizetype eq = set.indexOf(QLatin1Char('='));
            if (eq <= 0)
                throw UsageError(
                    QStringLiteral("run fork: --set: expected KEY=VALUE (e.g. optim.lr=1e-4), "
                                   "got '%1'")
                        .arg(set));
            const QString value = set.mid(eq + 1);
            // JSON where it parses (numbers, true, [..]), else the text itself.
            const QJsonDocument doc =
                QJsonDocument::fromJson(QByteArrayLiteral("[") + value.toUtf8() + "]");
            const QJsonValue v =
                doc.isArray() && doc.array().size() == 1 ? doc.array().at(0) : QJsonValue(value);
            config = launch::withConfigValue(config, set.left(eq), v);
        }
        input.config = config;
        input.name = a.value(QStringLiteral("name"), r.name + QStringLiteral(" fork"));
        input.tags = a.values(QStringLiteral("tag")) << launch::forkTag(parent, checkpoint);
        input.notes = a.value(QStringLiteral("notes"));
        if (a.has(QStringLiteral("price-per-hour")))
            input.pricePerHour = a.number(QStringLiteral("price-per-hour"));
        detach = a.flag(QStringLiteral("detach"));
        input.follow = !detach;
    } else {
        const bool cancel = verb == QLatin1String("cancel");
        const bool resume = verb == QLatin1String("resume");
        const Args a(QStringLiteral("run ") + verb, ctx.args,
                     {cancel ? QSet<QString>{"grace"} : QSet<QString>{},
                      resume ? QSet<QString>{"detach"} : QSet<QString>{},
                      {},
                      {}});
        detach = resume && a.flag(QStringLiteral("detach"));
        if (a.positional().size() != 1)
            throw UsageError(QStringLiteral("run %1: expected one ID").arg(verb));
        runId = parseRunId(a.positional().front());
        if (cancel && a.has(QStringLiteral("grace"))) {
            const double g = a.number(QStringLiteral("grace"));
            if (g < 0)
                throw UsageError(QStringLiteral("run cancel: --grace: expected seconds ≥ 0"));
            graceMs = static_cast<int>(g * 1000);
        }
    }

    launch::PluginRegistry plugins;
    plugins.load(launch::PluginRegistry::defaultSearchPaths());
    ctx.launcher.localEngineVersion = nodes::localEngineVersion(ctx.launcher.localEngine);

    int code = -1;
    qint64 followed = runId;
    const auto finish = [&](int c) {
        if (code < 0) code = c;
        QCoreApplication::exit(code);
    };
    store::StoreService store(ctx.db);
    launch::RunController runs(store, plugins, ctx.launcher);
    InterruptWatcher interrupt([&] {
        if (followed > 0)
            err(QStringLiteral("bcd-workbench: stopped following run %1; it goes on (bcd-workbench "
                               "run attach %1)")
                    .arg(followed));
        finish(kExitCancelled);
    });

    QObject::connect(&store, &store::StoreService::openFailed, [&](const QString& m) {
        err(QStringLiteral("bcd-workbench: error: ") + m);
        finish(kExitFailure);
    });
    QObject::connect(
        &runs, &launch::RunController::launched, [&](qint64 id, const QString& dir, qint64 pid) {
            followed = id;
            QString how = QStringLiteral("started (pid %1)").arg(pid);
            if (pid <= 0) { // a batch job: name it
                try {
                    const auto run =
                        store.callBlocking([id](store::RunStore& s) { return s.run(id); });
                    if (run && !run->jobId.isEmpty())
                        how = QStringLiteral("submitted as Slurm job %1").arg(run->jobId);
                } catch (const std::exception&) {
                    how = QStringLiteral("submitted");
                }
            }
            err(QStringLiteral("run %1 %2 in %3%4")
                    .arg(id)
                    .arg(how)
                    .arg(dir, detach
                                  ? QString()
                                  : QStringLiteral(
                                        "; following (Ctrl-C stops following, the run goes on)")));
            out(QString::number(id));
            if (detach) finish(kExitOk);
        });
    QObject::connect(&runs, &launch::RunController::launchFailed,
                     [&](qint64 id, const QString& m, bool bad) {
                         err(QStringLiteral("bcd-workbench: error: ") +
                             (id > 0 ? QStringLiteral("run %1: ").arg(id) : QString()) + m);
                         finish(bad ? kExitBadInput : kExitFailure);
                     });
    QObject::connect(&runs, &launch::RunController::attachFailed, [&](qint64, const QString& m) {
        err(QStringLiteral("bcd-workbench: error: ") + m);
        finish(m.startsWith(QLatin1String("no run")) ? kExitBadInput : kExitFailure);
    });
    QObject::connect(&runs, &launch::RunController::problem, [&](qint64 id, const QString& m) {
        err(QStringLiteral("bcd-workbench: warning: run %1: %2").arg(id).arg(m));
    });
    QObject::connect(&runs, &launch::RunController::jobStateChanged,
                     [&](qint64 id, const QString& state, const QString& reason) {
                         err(QStringLiteral("run %1: job %2%3")
                                 .arg(id)
                                 .arg(state, reason.isEmpty() || reason == QLatin1String("None")
                                                 ? QString()
                                                 : QStringLiteral(" (%1)").arg(reason)));
                     });
    QElapsedTimer sincePrint;
    sincePrint.start();
    QObject::connect(&runs, &launch::RunController::progress, [&](qint64 id, qint64 step) {
        if (sincePrint.elapsed() < 2000) return;
        sincePrint.restart();
        // The stored point of that step: what a person watching wants (loss, throughput).
        QString line = QStringLiteral("run %1: step %2").arg(id).arg(step);
        try {
            const auto [run, point] = store.callBlocking([id, step](store::RunStore& s) {
                const auto pts = s.points(id, store::PointType::Step, step, step);
                return std::pair{s.run(id),
                                 pts.isEmpty() ? std::optional<store::MetricPoint>() : pts.front()};
            });
            if (run && run->stepsTotal) line += QStringLiteral("/%1").arg(*run->stepsTotal);
            if (point) {
                if (const auto loss = point->value(store::MetricColumn::Loss))
                    line += QStringLiteral("  loss %1").arg(*loss, 0, 'f', 4);
                if (const auto block = point->value(store::MetricColumn::Block))
                    line += QStringLiteral("  block %1").arg(static_cast<qint64>(*block));
                if (const auto toks = point->value(store::MetricColumn::TokS))
                    line += QStringLiteral("  %1 tok/s").arg(static_cast<qint64>(*toks));
            }
        } catch (const std::exception&) {
            // The line without the details: the store's problem is reported by its own signal.
        }
        err(line);
    });
    QObject::connect(&runs, &launch::RunController::runEnded,
                     [&](qint64 id, const QString& status, const QString& m) {
                         err(QStringLiteral("run %1 %2%3")
                                 .arg(id)
                                 .arg(status, m.isEmpty() ? QString() : QStringLiteral(": ") + m));
                         // run cancel succeeds when the run is over without failing: cancelled, or
                         // finished first.
                         const bool cancelDone = verb == QLatin1String("cancel") &&
                                                 (status == store::status::kCancelled ||
                                                  status == store::status::kFinished);
                         finish(cancelDone ? kExitOk : exitFor(status));
                     });

    if (verb == QLatin1String("launch") || verb == QLatin1String("fork"))
        runs.launch(input);
    else if (verb == QLatin1String("attach"))
        runs.attach(runId);
    else if (verb == QLatin1String("resume"))
        runs.resume(runId);
    else
        runs.cancel(runId, graceMs);
    const int rc = QCoreApplication::exec();
    return code >= 0 ? code : rc;
}

} // namespace bcd::cli
