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
    LocalSession(store::NodeRecord node, launch::LauncherContext ctx)
        : node_(std::move(node)), ctx_(std::move(ctx)) {}

    nodes::NodeProbe probe() override { return nodes::probeLocal(ctx_.localEngine); }

    RunLocation start(const launch::LaunchRequest& req) override {
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
        const RunLocation at{dir, 0};

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

        QProcess p;
        p.setProgram(ctx_.localEngine);
        QStringList args{QStringLiteral("train"), QStringLiteral("--config"), at.configPath()};
        if (req.resume) args << QStringLiteral("--resume");
        p.setArguments(args);
        p.setWorkingDirectory(dir);
        p.setStandardInputFile(QProcess::nullDevice());
        p.setStandardOutputFile(dir + QStringLiteral("/engine.out"));
        p.setStandardErrorFile(dir + QStringLiteral("/engine.err"));
        qint64 pid = 0;
        // Detached (a session of its own): the run survives the workbench; no pipe to break.
        if (!p.startDetached(&pid) || pid <= 0)
            throw LaunchError(
                QStringLiteral("cannot start %1: %2").arg(ctx_.localEngine, p.errorString()));
        return RunLocation{dir, pid};
    }

    launch::MetricsRead readMetrics(const RunLocation& at, qint64 offset,
                                    qint64 maxBytes) override {
        launch::MetricsRead r;
        QFile f(at.dir + QStringLiteral("/metrics.jsonl"));
        if (!f.open(QIODevice::ReadOnly)) return r;
        r.fileSize = f.size();
        if (offset < r.fileSize && f.seek(offset)) r.data = f.read(maxBytes);
        return r;
    }

    std::optional<QByteArray> readRunFile(const RunLocation& at, const QString& name) override {
        QFile f(at.dir + '/' + name);
        if (!f.open(QIODevice::ReadOnly)) return std::nullopt;
        if (f.size() > kSmallFileBytes) f.seek(f.size() - kSmallFileBytes);
        return f.read(kSmallFileBytes);
    }

    bool isRunning(const RunLocation& at) override {
        if (at.pid <= 0) return false;
        QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(at.pid));
        if (!cmdline.open(QIODevice::ReadOnly)) return false;
        return launch::commandLineHas(cmdline.readAll(), at.configPath());
    }

    void signal(const RunLocation& at, int sig) override {
        if (isRunning(at)) ::kill(static_cast<pid_t>(at.pid), sig);
    }

    int pollIntervalMs() const override { return 200; }

private:
    store::NodeRecord node_;
    launch::LauncherContext ctx_;
};

} // namespace

std::unique_ptr<launch::LauncherSession>
LocalLauncherPlugin::open(const store::NodeRecord& node, const launch::LauncherContext& ctx) {
    return std::make_unique<LocalSession>(node, ctx);
}

} // namespace bcd::plugins
