#include "ssh_launcher.h"

#include "launch/remote_commands.h"
#include "nodes/ssh_probe.h"
#include "remote_run.h"

namespace bcd::plugins {

namespace {

using launch::RunLocation;

constexpr qint64 kSmallFileBytes = 1 << 20;

class SshLauncherSession final : public launch::LauncherSession {
public:
    SshLauncherSession(const store::NodeRecord& node, const launch::LauncherContext& ctx)
        : ssh_(endpointOf(node)), run_(ssh_, node, ctx) {}

    nodes::NodeProbe probe() override {
        nodes::NodeProbe p = nodes::probeOverSsh(ssh_, run_.engineForProbe());
        if (p.engineVersion.isEmpty())
            p.engineNote += QStringLiteral(" (uploaded at the first launch)");
        return p;
    }

    RunLocation start(const launch::LaunchRequest& req) override { return run_.start(req); }

    launch::MetricsRead readMetrics(const RunLocation& at, qint64 offset,
                                    qint64 maxBytes) override {
        launch::MetricsRead r;
        qint64 size = -1;
        if (auto data =
                ssh_.readFile(at.dir + QStringLiteral("/metrics.jsonl"), offset, maxBytes, &size)) {
            r.data = std::move(*data);
            r.fileSize = size;
        }
        return r;
    }

    std::optional<QByteArray> readRunFile(const RunLocation& at, const QString& name) override {
        const QString path = at.dir + '/' + name;
        qint64 size = 0;
        if (!ssh_.readFile(path, 0, 0, &size)) return std::nullopt;
        return ssh_.readFile(path, std::max<qint64>(0, size - kSmallFileBytes), kSmallFileBytes);
    }

    bool isRunning(const RunLocation& at) override {
        if (at.pid <= 0) return false;
        const nodes::ExecResult r = ssh_.exec(launch::processCommandLine(at.pid).text(), 30000);
        return r.exitStatus == 0 && launch::commandLineHas(r.out, at.configPath());
    }

    void signal(const RunLocation& at, int sig) override {
        if (isRunning(at)) ssh_.exec(launch::signalProcess(at.pid, sig).text(), 30000);
    }

    int pollIntervalMs() const override { return 1000; }

private:
    nodes::SshSession ssh_;
    RemoteRun run_;
};

} // namespace

std::unique_ptr<launch::LauncherSession>
SshLauncherPlugin::open(const store::NodeRecord& node, const launch::LauncherContext& ctx) {
    return std::make_unique<SshLauncherSession>(node, ctx);
}

} // namespace bcd::plugins
