#include "ssh_launcher.h"

#include "launch/remote_commands.h"
#include "nodes/ssh_probe.h"
#include "remote_run.h"
#include "sdk/remote_node.h"

namespace bcd::plugins {

namespace {

using launch::RunLocation;

class SshLauncherSession final : public launch::LauncherSession {
public:
    SshLauncherSession(const nodes::NodeRecord& node, const launch::LauncherContext& ctx)
        : ssh_(sdk::endpointOf(node)), run_(ssh_, node, ctx) {}

    launch::Outcome<nodes::NodeProbe> probe() override {
        return launch::guarded([&] {
            nodes::NodeProbe p = nodes::probeOverSsh(ssh_, run_.node().engineForProbe());
            if (p.engineVersion.isEmpty())
                p.engineNote += QStringLiteral(" (uploaded at the first launch)");
            return p;
        });
    }

    launch::Outcome<RunLocation> start(const launch::LaunchRequest& req) override {
        return launch::guarded([&] { return run_.start(req); });
    }

    launch::Outcome<RunLocation> resume(const RunLocation& at) override {
        return launch::guarded([&] { return run_.resume(at); });
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
        return launch::guarded([&] { return launch::RunObservation{isRunning(at), {}, {}}; });
    }

    launch::Outcome<launch::Done> signal(const RunLocation& at, int sig) override {
        return launch::guarded([&] {
            if (isRunning(at)) ssh_.exec(launch::signalProcess(at.pid, sig).text(), 30000);
            return launch::Done{};
        });
    }

    int pollIntervalMs() const override { return 1000; }

    launch::Outcome<QStringList> listCheckpoints(const RunLocation& at) override {
        return launch::guarded([&] { return run_.node().listCheckpoints(at); });
    }

    launch::Outcome<bool> removeRunFolder(const RunLocation& at) override {
        return launch::guarded([&] { return run_.node().removeRunFolder(at); });
    }

    launch::Outcome<launch::Done> sample(const RunLocation& at, const launch::SampleRequest& req,
                                         const std::function<void(const QByteArray&)>& onOutput,
                                         const std::function<bool()>& stopRequested) override {
        return launch::guarded(
            [&] { return run_.node().sample(at, req, {}, onOutput, stopRequested); });
    }

private:
    bool isRunning(const RunLocation& at) {
        if (at.pid <= 0) return false;
        const nodes::ExecResult r = ssh_.exec(launch::processCommandLine(at.pid).text(), 30000);
        return r.exitStatus == 0 && launch::commandLineHas(r.out, at.configPath());
    }

    nodes::SshSession ssh_;
    RemoteRun run_;
};

} // namespace

launch::Outcome<std::unique_ptr<launch::LauncherSession>>
SshLauncherPlugin::open(const nodes::NodeRecord& node, const launch::LauncherContext& ctx) {
    return launch::guarded([&]() -> std::unique_ptr<launch::LauncherSession> {
        return std::make_unique<SshLauncherSession>(node, ctx);
    });
}

launch::Outcome<QString> SshLauncherPlugin::describeLaunch(const launch::LaunchRequest&,
                                                           const launch::LauncherContext&) const {
    return QString();
}

} // namespace bcd::plugins
