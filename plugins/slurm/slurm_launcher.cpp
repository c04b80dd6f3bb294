#include "slurm_launcher.h"

#include "batch_script.h"
#include "job_queue.h"
#include "launch/run_config.h"
#include "launch/run_files.h"
#include "nodes/node_probe.h"
#include "nodes/slurm_job.h"
#include "nodes/slurm_probe.h"
#include "nodes/ssh_probe.h"
#include "sdk/remote_node.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace bcd::plugins {

namespace {

using launch::LaunchError;
using launch::RunLocation;
using nodes::ShellCommand;

// Engine processes per node. The engine runs one process per run until its data parallelism
// (MPI ranks from Slurm's PMI, one per GPU) lands; the batch script takes any number
// (slurm::BatchJob::tasksPerNode).
constexpr int kEngineTasksPerNode = 1;

slurm::BatchJob batchJobFor(const nodes::NodeRecord& node, qint64 runId, const QString& name,
                            const QString& dir, const QString& engine) {
    slurm::BatchJob b;
    b.runId = runId;
    b.runName = name;
    b.runDir = dir;
    b.engine = engine;
    b.job = nodes::SlurmJobDefaults::fromJson(node.jobDefaults);
    b.tasksPerNode = kEngineTasksPerNode;
    if (b.job.nodes > 1)
        throw LaunchError(
            QStringLiteral("node %1: a job over %2 nodes needs the engine's data parallelism "
                           "(MPI ranks), which this engine does not have yet; set nodes to 1")
                .arg(node.name)
                .arg(b.job.nodes),
            true);
    return b;
}

class SlurmSession final : public launch::LauncherSession {
public:
    SlurmSession(const nodes::NodeRecord& node, const launch::LauncherContext& ctx)
        : ssh_(sdk::endpointOf(node)), remote_(ssh_, node, ctx) {}

    launch::Outcome<nodes::NodeProbe> probe() override {
        return launch::guarded([&] { return probeCluster(); });
    }

    launch::Outcome<RunLocation> start(const launch::LaunchRequest& req) override {
        return launch::guarded([&] { return startRun(req); });
    }

    launch::Outcome<RunLocation> resume(const RunLocation& at) override {
        return launch::guarded([&] {
            if (at.dir.isEmpty())
                throw LaunchError(QStringLiteral("no run folder to resume"), true);
            return RunLocation{at.dir, 0,
                               submit(at.dir + '/' + QLatin1String(slurm::kBatchScriptName))};
        });
    }

    launch::Outcome<launch::MetricsRead> readMetrics(const RunLocation& at, qint64 offset,
                                                     qint64 maxBytes) override {
        return launch::guarded([&] {
            launch::MetricsRead r;
            qint64 size = -1;
            if (auto data = ssh_.readFile(at.dir + QStringLiteral("/metrics.jsonl"), offset,
                                          maxBytes, &size)) {
                r.data = std::move(*data);
                r.fileSize = size;
            }
            return r;
        });
    }

    launch::Outcome<std::optional<QByteArray>> readRunFile(const RunLocation& at,
                                                           const QString& name) override {
        return launch::guarded([&] { return sdk::readSmallFile(ssh_, at.dir + '/' + name); });
    }

    launch::Outcome<launch::RunObservation> observe(const RunLocation& at) override {
        return launch::guarded([&] { return observeJob(at); });
    }

    launch::Outcome<launch::Done> signal(const RunLocation& at, int sig) override {
        return launch::guarded([&] {
            if (at.jobId.isEmpty()) return launch::Done{};
            const nodes::ExecResult r =
                ssh_.exec(slurm::scancelCommand(at.jobId, sig).text(), 30000);
            if (r.exitStatus != 0 && !slurm::squeueSaysUnknownJob(r.err))
                throw LaunchError(
                    QStringLiteral("node %1: scancel %2: %3")
                        .arg(remote_.node().name, at.jobId, launch::lastLine(r.err + r.out)));
            return launch::Done{};
        });
    }

    int pollIntervalMs() const override { return 2000; }

    launch::Outcome<QStringList> listCheckpoints(const RunLocation& at) override {
        return launch::guarded([&] { return remote_.listCheckpoints(at); });
    }

    launch::Outcome<bool> removeRunFolder(const RunLocation& at) override {
        return launch::guarded([&] { return remote_.removeRunFolder(at); });
    }

    // The same engine command as on an SSH node, as a job step of its own (srun): it waits in
    // the queue like any job, on the node's partition and account.
    launch::Outcome<launch::Done> sample(const RunLocation& at, const launch::SampleRequest& req,
                                         const std::function<void(const QByteArray&)>& onOutput,
                                         const std::function<bool()>& stopRequested) override {
        return launch::guarded([&] {
            const nodes::SlurmJobDefaults job =
                nodes::SlurmJobDefaults::fromJson(remote_.node().jobDefaults);
            const QStringList srun = slurm::sampleSrun(job, wantsGpu(at, job));
            return remote_.sample(at, req, srun, onOutput, stopRequested);
        });
    }

private:
    // One GPU when the run's config asked for CUDA, or for auto on a cluster whose job defaults
    // ask for GPUs; else a CPU step.
    bool wantsGpu(const RunLocation& at, const nodes::SlurmJobDefaults& job) {
        const auto config = sdk::readSmallFile(ssh_, at.configPath());
        const QString kind = config ? QJsonDocument::fromJson(*config)
                                          .object()
                                          .value(QLatin1String("device"))
                                          .toObject()
                                          .value(QLatin1String("kind"))
                                          .toString(QStringLiteral("auto"))
                                    : QStringLiteral("auto");
        if (kind == QLatin1String("cuda")) return true;
        return kind == QLatin1String("auto") && job.gpusPerNode > 0;
    }

    nodes::NodeProbe probeCluster() {
        const QString name = remote_.node().name;
        nodes::NodeProbe p;
        const nodes::ExecResult version =
            ssh_.exec(ShellCommand().op("sinfo").arg(QStringLiteral("--version")).text(), 30000);
        if (version.exitStatus == 127)
            throw LaunchError(QStringLiteral("node %1: sinfo is not on the login host's PATH (is "
                                             "it a Slurm login node?)")
                                  .arg(name));
        p.slurmVersion = nodes::parseSlurmVersion(version.out);
        const nodes::ExecResult info =
            ssh_.exec(ShellCommand().op("sinfo").args(nodes::sinfoArguments()).text(), 30000);
        if (info.exitStatus != 0)
            throw LaunchError(QStringLiteral("node %1: sinfo failed: %2")
                                  .arg(name, launch::lastLine(info.err + info.out)));
        p.partitions = nodes::parseSinfo(info.out);
        p.gpuNote = QStringLiteral("a Slurm cluster: GPUs per partition");
        p.engine = remote_.engineForProbe();
        QString note;
        p.engineVersion = nodes::remoteEngineVersion(ssh_, p.engine, &note);
        p.engineNote = note;
        if (p.engineVersion.isEmpty())
            p.engineNote += QStringLiteral(" (uploaded to the run root at the first launch)");
        return p;
    }

    QString submit(const QString& script) {
        const nodes::ExecResult r = ssh_.exec(slurm::sbatchCommand(script).text(), 60000);
        const QString id = slurm::parseSbatchJobId(r.out);
        if (r.exitStatus != 0 || id.isEmpty())
            // sbatch refuses what the job asks for (partition, account, time limit): the node's
            // settings must change.
            throw LaunchError(QStringLiteral("node %1: sbatch refused the job: %2")
                                  .arg(remote_.node().name, launch::lastLine(r.err + r.out)),
                              r.exitStatus != 127);
        return id;
    }

    RunLocation startRun(const launch::LaunchRequest& req) {
        const nodes::NodeRecord& node = remote_.node();
        if (req.nodes.size() > 1)
            throw LaunchError(QStringLiteral("a Slurm run names one cluster; its nodes come from "
                                             "the job settings of node %1")
                                  .arg(node.name),
                              true);
        // Refuse bad settings before anything is uploaded.
        if (const QString why = nodes::SlurmJobDefaults::fromJson(node.jobDefaults).validate();
            !why.isEmpty())
            throw LaunchError(QStringLiteral("node %1: %2").arg(node.name, why), true);
        const QString engine = remote_.engine();
        sdk::RemoteNode::PreparedRun p = remote_.prepareRun(req, engine);
        const QString script =
            slurm::batchScript(batchJobFor(node, req.runId, req.name, p.at.dir, engine));
        const QString path = p.at.dir + '/' + QLatin1String(slurm::kBatchScriptName);
        ssh_.writeFile(path, script.toUtf8());
        p.at.jobId = submit(path);
        // Before the host stores the id: a workbench that dies now finds the job by it. The job
        // is submitted whatever happens here, so a failure is only a warning.
        try {
            ssh_.writeFile(p.at.dir + '/' + QLatin1String(launch::kJobIdFile),
                           (p.at.jobId + '\n').toUtf8());
        } catch (const std::exception& e) {
            qWarning("bcd-workbench: cannot write %s in %s: %s", launch::kJobIdFile,
                     qPrintable(p.at.dir), e.what());
        }
        return p.at;
    }

    launch::RunObservation observeJob(const RunLocation& at) {
        if (at.jobId.isEmpty()) return {};
        const nodes::ExecResult q = ssh_.exec(slurm::squeueCommand(at.jobId).text(), 30000);
        if (q.exitStatus == 0) {
            if (const auto s = slurm::parseSqueue(q.out))
                return {slurm::jobAlive(s->state), s->state, s->reason};
        } else if (!slurm::squeueSaysUnknownJob(q.err)) {
            // The controller could not be asked: not a verdict on the job (retried).
            throw LaunchError(QStringLiteral("node %1: squeue: %2")
                                  .arg(remote_.node().name, launch::lastLine(q.err + q.out)));
        }
        // Gone from the controller's memory (MinJobAge): accounting may know how it ended.
        const nodes::ExecResult a = ssh_.exec(slurm::sacctCommand(at.jobId).text(), 30000);
        if (a.exitStatus == 0)
            if (const auto s = slurm::parseSacct(a.out))
                return {slurm::jobAlive(s->state), s->state, s->reason};
        return {}; // gone; the run folder's status.json says how it ended
    }

    nodes::SshSession ssh_;
    sdk::RemoteNode remote_;
};

} // namespace

launch::Outcome<std::unique_ptr<launch::LauncherSession>>
SlurmLauncherPlugin::open(const nodes::NodeRecord& node, const launch::LauncherContext& ctx) {
    return launch::guarded([&]() -> std::unique_ptr<launch::LauncherSession> {
        return std::make_unique<SlurmSession>(node, ctx);
    });
}

launch::Outcome<QString> SlurmLauncherPlugin::describeLaunch(const launch::LaunchRequest& req,
                                                             const launch::LauncherContext&) const {
    return launch::guarded([&] {
        const nodes::NodeRecord node = req.nodes.value(0);
        const QString root = node.runRoot.isEmpty() ? QStringLiteral("~/bcd-runs") : node.runRoot;
        const QString dir = root + '/' + launch::runFolderName(req.runId, req.name);
        slurm::BatchJob b =
            batchJobFor(node, req.runId, req.name, dir,
                        node.engine.isEmpty() ? QStringLiteral("bcd-train") : node.engine);
        b.preview = true;
        return slurm::batchScript(b);
    });
}

} // namespace bcd::plugins
