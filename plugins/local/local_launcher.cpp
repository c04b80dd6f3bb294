#include "local_launcher.h"

#include "launch/remote_commands.h"
#include "launch/run_config.h"
#include "launch/run_files.h"
#include "nodes/local_probe.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QProcess>
#include <QSaveFile>
#include <csignal>
#include <sys/types.h>

namespace bcd::plugins {

namespace {

using launch::LaunchError;
using launch::RunLocation;

constexpr qint64 kSmallFileBytes = 1 << 20;

class LocalSession final : public launch::LauncherSession {
public:
    LocalSession(nodes::NodeRecord node, launch::LauncherContext ctx)
        : node_(std::move(node)), ctx_(std::move(ctx)) {}

    launch::Outcome<nodes::NodeProbe> probe() override {
        return launch::guarded([&] { return nodes::probeLocal(ctx_.localEngine); });
    }

    launch::Outcome<RunLocation> start(const launch::LaunchRequest& req) override {
        return launch::guarded([&] { return startRun(req); });
    }

    launch::Outcome<RunLocation> resume(const RunLocation& at) override {
        return launch::guarded([&] { return RunLocation{at.dir, startEngine(at, true), {}}; });
    }

    launch::Outcome<launch::MetricsRead> readMetrics(const RunLocation& at, qint64 offset,
                                                     qint64 maxBytes) override {
        launch::MetricsRead r;
        QFile f(at.dir + QStringLiteral("/metrics.jsonl"));
        if (!f.open(QIODevice::ReadOnly)) return r;
        r.fileSize = f.size();
        if (offset < r.fileSize && f.seek(offset)) r.data = f.read(maxBytes);
        return r;
    }

    launch::Outcome<std::optional<QByteArray>> readRunFile(const RunLocation& at,
                                                           const QString& name) override {
        QFile f(at.dir + '/' + name);
        if (!f.open(QIODevice::ReadOnly)) return std::optional<QByteArray>();
        if (f.size() > kSmallFileBytes) f.seek(f.size() - kSmallFileBytes);
        return std::optional<QByteArray>(f.read(kSmallFileBytes));
    }

    launch::Outcome<launch::RunObservation> observe(const RunLocation& at) override {
        return launch::RunObservation{isRunning(at), {}, {}};
    }

    launch::Outcome<launch::Done> signal(const RunLocation& at, int sig) override {
        if (isRunning(at)) ::kill(static_cast<pid_t>(at.pid), sig);
        return launch::Done{};
    }

    int pollIntervalMs() const override { return 200; }

private:
    RunLocation startRun(const launch::LaunchRequest& req) {
        if (req.nodes.size() > 1)
            throw LaunchError(QStringLiteral("a multi-node run needs SSH nodes"), true);
        QString note;
        if (nodes::localEngineVersion(ctx_.localEngine, &note).isEmpty())
            throw LaunchError(
                QStringLiteral("no engine on this machine: %1 (set BCD_TRAIN)").arg(note));
        const QString root = node_.runRoot.isEmpty() ? ctx_.localRunRoot : node_.runRoot;
        const QString base =
            QDir(root).absoluteFilePath(launch::runFolderName(req.runId, req.name));
        QString dir = base;
        for (int n = 2; QFileInfo::exists(dir); ++n) dir = base + '-' + QString::number(n);
        if (!QDir().mkpath(dir))
            throw LaunchError(QStringLiteral("cannot create the run folder %1").arg(dir));
        RunLocation at{dir, 0, {}};

        const QJsonObject config =
            launch::withConfigValue(req.config, QStringLiteral("output.dir"), dir);
        QSaveFile f(at.configPath());
        if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(config).toJson()) < 0 ||
            !f.commit())
            throw LaunchError(
                QStringLiteral("cannot write %1: %2").arg(at.configPath(), f.errorString()));

        // The engine's own check, before anything runs: a wrong key is bad input (exit 2).
        QProcess check;
        check.start(ctx_.localEngine,
                    {QStringLiteral("validate"), QStringLiteral("--config"), at.configPath()});
        if (!check.waitForFinished(120000) || check.exitStatus() != QProcess::NormalExit)
            throw LaunchError(QStringLiteral("%1 validate did not finish").arg(ctx_.localEngine));
        if (check.exitCode() != 0)
            throw LaunchError(launch::lastLine(check.readAllStandardError()),
                              check.exitCode() == 2);
        at.pid = startEngine(at, false);
        return at;
    }

    qint64 startEngine(const RunLocation& at, bool resume) {
        QProcess p;
        p.setProgram(ctx_.localEngine);
        QStringList args{QStringLiteral("train"), QStringLiteral("--config"), at.configPath()};
        if (resume) args << QStringLiteral("--resume");
        p.setArguments(args);
        p.setWorkingDirectory(at.dir);
        p.setStandardInputFile(QProcess::nullDevice());
        // Appended: a resumed run keeps what the first start wrote.
        p.setStandardOutputFile(at.dir + QStringLiteral("/engine.out"), QIODevice::Append);
        p.setStandardErrorFile(at.dir + QStringLiteral("/engine.err"), QIODevice::Append);
        qint64 pid = 0;
        // Detached (a session of its own): the run survives the workbench; no pipe to break.
        if (!p.startDetached(&pid) || pid <= 0)
            throw LaunchError(
                QStringLiteral("cannot start %1: %2").arg(ctx_.localEngine, p.errorString()));
        return pid;
    }

    bool isRunning(const RunLocation& at) const {
        if (at.pid <= 0) return false;
        QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(at.pid));
        if (!cmdline.open(QIODevice::ReadOnly)) return false;
        return launch::commandLineHas(cmdline.readAll(), at.configPath());
    }

    nodes::NodeRecord node_;
    launch::LauncherContext ctx_;
};

} // namespace

launch::Outcome<std::unique_ptr<launch::LauncherSession>>
LocalLauncherPlugin::open(const nodes::NodeRecord& node, const launch::LauncherContext& ctx) {
    return launch::guarded([&]() -> std::unique_ptr<launch::LauncherSession> {
        return std::make_unique<LocalSession>(node, ctx);
    });
}

launch::Outcome<QString> LocalLauncherPlugin::describeLaunch(const launch::LaunchRequest&,
                                                             const launch::LauncherContext&) const {
    return QString();
}

} // namespace bcd::plugins
