#include "local_launcher.h"

#include "launch/remote_commands.h"
#include "launch/run_config.h"
#include "launch/run_files.h"
#include "launch/sample_command.h"
#include "nodes/local_probe.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QProcess>
#include <QSaveFile>
#include <QStandardPaths>
#include <csignal>
#include <sys/types.h>
#include <unistd.h>

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
        // A run of several processes resumes with as many (the engine refuses another world
        // size): the hostfile its start left in the folder says how many.
        return launch::guarded([&] {
            const int ranks = hostfileSlots(at.dir + QStringLiteral("/hostfile"));
            return RunLocation{
                at.dir, ranks > 0 ? startMpi(at, ranks, true) : startEngine(at, true), {}};
        });
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

    launch::Outcome<QStringList> listCheckpoints(const RunLocation& at) override {
        return launch::guarded([&] {
            if (at.dir.isEmpty() || !QFileInfo(at.dir).isDir())
                throw LaunchError(QStringLiteral("the run folder %1 does not exist on this machine")
                                      .arg(at.dir.isEmpty() ? QStringLiteral("(none)") : at.dir));
            return launch::localCheckpoints(at.dir);
        });
    }

    launch::Outcome<launch::Done> sample(const RunLocation& at, const launch::SampleRequest& req,
                                         const std::function<void(const QByteArray&)>& onOutput,
                                         const std::function<bool()>& stopRequested) override {
        return launch::guarded([&] { return sampleHere(at, req, onOutput, stopRequested); });
    }

    launch::Outcome<bool> removeRunFolder(const RunLocation& at) override {
        return launch::guarded([&] {
            launch::checkRunFolderPath(at.dir);
            if (!QFileInfo(at.dir).isDir()) return false;
            if (!QFileInfo(at.configPath()).isFile())
                throw LaunchError(QStringLiteral("refusing to remove %1: it holds no launch.json, "
                                                 "so it is not a run folder")
                                      .arg(at.dir),
                                  true);
            if (!QDir(at.dir).removeRecursively())
                throw LaunchError(
                    QStringLiteral("%1 could not be removed entirely (permissions?)").arg(at.dir));
            return true;
        });
    }

private:
    // The engine as a child of this (worker) thread, used blocking in short waits so that a stop
    // is seen within 100 ms; never on the GUI thread (the host's RunSampler calls it).
    launch::Done sampleHere(const RunLocation& at, const launch::SampleRequest& req,
                            const std::function<void(const QByteArray&)>& onOutput,
                            const std::function<bool()>& stopRequested) {
        launch::checkSampleRequest(req);
        const QString model = launch::checkpointDir(at.dir, req.checkpoint);
        if (!QFileInfo(model + QStringLiteral("/config.json")).isFile())
            throw LaunchError(
                QStringLiteral("checkpoint %1 of the run in %2: no %3/config.json on this machine")
                    .arg(req.checkpoint, at.dir, model),
                true);
        QProcess p;
        p.setProgram(ctx_.localEngine);
        p.setArguments(launch::sampleArguments(model, req));
        p.setStandardInputFile(QProcess::nullDevice());
        p.start();
        if (!p.waitForStarted(30000))
            throw LaunchError(
                QStringLiteral("cannot start %1: %2").arg(ctx_.localEngine, p.errorString()));
        while (p.state() != QProcess::NotRunning) {
            if (stopRequested && stopRequested()) {
                p.terminate();
                if (!p.waitForFinished(2000)) {
                    p.kill();
                    p.waitForFinished(2000);
                }
                return {};
            }
            p.waitForReadyRead(100);
            const QByteArray out = p.readAllStandardOutput();
            if (!out.isEmpty() && onOutput) onOutput(out);
        }
        const QByteArray rest = p.readAllStandardOutput();
        if (!rest.isEmpty() && onOutput) onOutput(rest);
        if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
            const QString err = launch::lastLines(p.readAllStandardError());
            throw LaunchError(QStringLiteral("bcd-train sample failed (%1): %2")
                                  .arg(p.exitStatus() == QProcess::NormalExit
                                           ? QStringLiteral("exit %1").arg(p.exitCode())
                                           : QStringLiteral("crashed"),
                                       err.isEmpty() ? QStringLiteral("no message") : err),
                              p.exitCode() == 2);
        }
        return {};
    }

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
        // Waited for in short slices: a closing workbench stops the launch here (the check is
        // killed, nothing was started), instead of outwaiting it.
        QDeadlineTimer checkDeadline(120000);
        while (!check.waitForFinished(100) && check.state() != QProcess::NotRunning &&
               !checkDeadline.hasExpired()) {
            if (req.stopRequested && req.stopRequested()) {
                check.kill();
                check.waitForFinished(5000);
                launch::throwIfStopped(req);
            }
        }
        if (check.state() != QProcess::NotRunning || check.exitStatus() != QProcess::NormalExit)
            throw LaunchError(QStringLiteral("%1 validate did not finish").arg(ctx_.localEngine));
        if (check.exitCode() != 0)
            throw LaunchError(launch::lastLine(check.readAllStandardError()),
                              check.exitCode() == 2);
        const int ranks = launch::worldSize(req.nodes, req.processesPerNode);
        launch::recordRunFolder(req, dir);
        at.pid = ranks > 1 ? startMpi(at, ranks, false) : startEngine(at, false);
        return at;
    }

    // The slots of the single "localhost" line a multi-process start wrote; 0 without one.
    static int hostfileSlots(const QString& path) {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly)) return 0;
        const QList<QByteArray> fields = f.readAll().simplified().split(' ');
        if (fields.size() != 2 || !fields[1].startsWith("slots="))
            throw LaunchError(
                QStringLiteral("%1: expected one line 'localhost slots=N'").arg(path));
        return fields[1].mid(6).toInt();
    }

    // mpirun -np N over this machine (a hostfile "localhost slots=N" in the run folder), detached
    // like a single engine; its pid is mpirun's, whose command line holds the config path.
    qint64 startMpi(const RunLocation& at, int ranks, bool resume) {
        const QString mpirun = QStandardPaths::findExecutable(QStringLiteral("mpirun"));
        if (mpirun.isEmpty())
            throw LaunchError(QStringLiteral("%1 processes need OpenMPI's mpirun, which is not on "
                                             "PATH (Debian: apt install openmpi-bin)")
                                  .arg(ranks),
                              true);
        QStringList engineArgv{ctx_.localEngine, QStringLiteral("train"),
                               QStringLiteral("--config"), at.configPath()};
        if (resume) engineArgv << QStringLiteral("--resume");
        const QString hostfile = at.dir + QStringLiteral("/hostfile");
        const launch::MpiPlan plan =
            launch::planMpirun({{QString::fromLatin1(launch::kLocalMpiHost), ranks}}, hostfile,
                               engineArgv, ::geteuid() == 0, mpirun);
        if (!resume) {
            QSaveFile f(hostfile);
            if (!f.open(QIODevice::WriteOnly) || f.write(plan.hostfile.toUtf8()) < 0 || !f.commit())
                throw LaunchError(
                    QStringLiteral("cannot write %1: %2").arg(hostfile, f.errorString()));
        }
        return startDetached(at, plan.argv.front(), plan.argv.mid(1));
    }

    qint64 startEngine(const RunLocation& at, bool resume) {
        QStringList args{QStringLiteral("train"), QStringLiteral("--config"), at.configPath()};
        if (resume) args << QStringLiteral("--resume");
        return startDetached(at, ctx_.localEngine, args);
    }

    static qint64 startDetached(const RunLocation& at, const QString& program,
                                const QStringList& args) {
        QProcess p;
        p.setProgram(program);
        p.setArguments(args);
        p.setWorkingDirectory(at.dir);
        p.setStandardInputFile(QProcess::nullDevice());
        // Appended: a resumed run keeps what the first start wrote.
        p.setStandardOutputFile(at.dir + QStringLiteral("/engine.out"), QIODevice::Append);
        p.setStandardErrorFile(at.dir + QStringLiteral("/engine.err"), QIODevice::Append);
        qint64 pid = 0;
        // Detached (a session of its own): the run survives the workbench; no pipe to break.
        if (!p.startDetached(&pid) || pid <= 0)
            throw LaunchError(QStringLiteral("cannot start %1: %2").arg(program, p.errorString()));
        // Before the host stores the pid: a workbench that dies now finds the engine by it.
        QSaveFile pidFile(at.dir + '/' + QLatin1String(launch::kEnginePidFile));
        if (!pidFile.open(QIODevice::WriteOnly) ||
            pidFile.write(QByteArray::number(pid) + '\n') < 0 || !pidFile.commit())
            qWarning("bcd-workbench: cannot write %s: %s", qPrintable(pidFile.fileName()),
                     qPrintable(pidFile.errorString()));
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
