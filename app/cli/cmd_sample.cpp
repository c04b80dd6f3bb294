// bcd-workbench run checkpoints | run sample: a run's checkpoints listed, and one of them sampled,
// wherever the run lives, through the same RunSampler (launcher sessions on a worker thread) as
// the Sample page. The engine's text goes to stdout as it comes.

#include "cli/cli.h"
#include "cli/cli_args.h"
#include "cli/interrupt_watcher.h"
#include "launch/run_sampler.h"
#include "launch/sample_command.h"
#include "nodes/local_probe.h"
#include "store/run_store.h"

#include <QEventLoop>
#include <cstdio>

namespace bcd::cli {

namespace {

struct SampledRun {
    store::RunRecord run;
    store::NodeRecord node;
    QString where; // "run 3 (tiny) on node gpu1"
};

SampledRun findRun(Context& ctx, const QString& command, const Args& a) {
    if (a.positional().size() != 1)
        throw UsageError(QStringLiteral("%1: expected one run ID").arg(command));
    const qint64 id = parseRunId(a.positional().front());
    store::RunStore s(ctx.db);
    const auto run = s.run(id);
    if (!run) throw UsageError(QStringLiteral("%1: no run %2 (run list)").arg(command).arg(id));
    SampledRun r{
        *run, {}, QStringLiteral("run %1 (%2) on node %3").arg(id).arg(run->name, run->node)};
    if (run->remoteDir.isEmpty())
        throw UsageError(QStringLiteral("%1: %2 has no run folder: it never started, so it has no "
                                        "checkpoint")
                             .arg(command, r.where));
    const auto node = s.node(run->node);
    if (!node)
        throw UsageError(QStringLiteral("%1: %2: the node is not in the store any more (node "
                                        "list)")
                             .arg(command, r.where));
    r.node = *node;
    return r;
}

// The run's checkpoints through the sampler; LaunchError naming the run and node when the node
// cannot list them.
QStringList listed(launch::RunSampler& sampler, const SampledRun& r) {
    QStringList found;
    QString error;
    QEventLoop loop;
    QObject::connect(&sampler, &launch::RunSampler::checkpointsListed, &loop,
                     [&](qint64, const QStringList& list, const QString& e) {
                         found = list;
                         error = e;
                         loop.quit();
                     });
    sampler.listCheckpoints(r.run.id, r.node, r.run.remoteDir);
    loop.exec();
    if (!error.isEmpty())
        throw launch::LaunchError(
            QStringLiteral("%1: cannot list its checkpoints: %2").arg(r.where, error));
    return found;
}

struct Tools {
    launch::PluginRegistry plugins;
    std::unique_ptr<launch::RunSampler> sampler;
    explicit Tools(Context& ctx) {
        plugins.load(launch::PluginRegistry::defaultSearchPaths());
        ctx.launcher.localEngineVersion = nodes::localEngineVersion(ctx.launcher.localEngine);
        sampler = std::make_unique<launch::RunSampler>(plugins, ctx.launcher);
    }
};

int runCheckpoints(Context& ctx) {
    const Args a(QStringLiteral("run checkpoints"), ctx.args, {{}, {}, {}, {}});
    const SampledRun r = findRun(ctx, QStringLiteral("run checkpoints"), a);
    Tools t(ctx);
    const QStringList found = listed(*t.sampler, r);
    if (found.isEmpty())
        err(QStringLiteral("%1 has no complete checkpoint yet (final/ or checkpoints/step-N "
                           "with DONE in %2)")
                .arg(r.where, r.run.remoteDir));
    for (const QString& c : found) out(c);
    return kExitOk;
}

int runSample(Context& ctx) {
    const Args a(QStringLiteral("run sample"), ctx.args,
                 {{"checkpoint", "prompt", "max-new", "temperature", "top-p", "seed"}, {}, {}, {}});
    const SampledRun r = findRun(ctx, QStringLiteral("run sample"), a);
    launch::SampleRequest req;
    req.prompt = a.required(QStringLiteral("prompt"));
    if (a.has(QStringLiteral("max-new"))) req.maxNew = static_cast<int>(a.number("max-new"));
    if (a.has(QStringLiteral("temperature"))) req.temperature = a.number("temperature");
    if (a.has(QStringLiteral("top-p"))) req.topP = a.number("top-p");
    if (a.has(QStringLiteral("seed"))) req.seed = static_cast<qint64>(a.number("seed"));
    try {
        launch::checkSampleRequest(req);
    } catch (const launch::LaunchError& e) {
        throw UsageError(QStringLiteral("run sample: ") + QString::fromUtf8(e.what()));
    }

    Tools t(ctx);
    const QStringList found = listed(*t.sampler, r);
    if (found.isEmpty())
        throw UsageError(QStringLiteral("run sample: %1 has no complete checkpoint yet (final/ "
                                        "or checkpoints/step-N with DONE in %2)")
                             .arg(r.where, r.run.remoteDir));
    req.checkpoint = a.value(QStringLiteral("checkpoint"), found.front());
    if (!found.contains(req.checkpoint))
        throw UsageError(QStringLiteral("run sample: %1 has no checkpoint '%2' (expected one of: "
                                        "%3)")
                             .arg(r.where, req.checkpoint, found.join(QStringLiteral(", "))));
    if (!a.has(QStringLiteral("checkpoint")))
        err(QStringLiteral("sampling %1 of %2").arg(req.checkpoint, r.where));

    QString error;
    bool interrupted = false;
    QEventLoop loop;
    QObject::connect(
        t.sampler.get(), &launch::RunSampler::output, &loop, [](qint64, const QByteArray& chunk) {
            std::fwrite(chunk.constData(), 1, static_cast<size_t>(chunk.size()), stdout);
            std::fflush(stdout);
        });
    QObject::connect(t.sampler.get(), &launch::RunSampler::finished, &loop,
                     [&](qint64, const QString& e) {
                         error = e;
                         loop.quit();
                     });
    const qint64 request = t.sampler->sample(r.node, r.run.remoteDir, req);
    // Ctrl-C ends the engine where it runs (a remote one too), then this command with 130.
    const InterruptWatcher interrupt([&] {
        interrupted = true;
        t.sampler->stop(request);
    });
    loop.exec();
    if (interrupted) {
        err(QStringLiteral("\nbcd-workbench: sampling stopped"));
        return kExitCancelled;
    }
    if (!error.isEmpty()) throw launch::LaunchError(QStringLiteral("%1: %2").arg(r.where, error));
    return kExitOk;
}

} // namespace

int cmdSample(const QString& verb, Context& ctx) {
    return verb == QLatin1String("checkpoints") ? runCheckpoints(ctx) : runSample(ctx);
}

} // namespace bcd::cli
