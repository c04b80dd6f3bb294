#pragma once
// Helpers of the CLI tests: bcd-workbench run with another engine or folder, or left running (to
// be killed); `run show --json`; the check that a run's stored steps are 1..N, each once, with the
// losses of its metrics.jsonl; a snapshot of what the store holds.

#include "test_runs.h"

#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>
#include <csignal>
#include <functional>
#include <memory>

namespace bcd::test {

inline QProcessEnvironment cliEnvironment(const QString& engine = trainExe()) {
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("BCD_TRAIN"), engine);
    env.insert(QStringLiteral("BCD_PLUGIN_PATH"), pluginDir());
    return env;
}

// runCli, in a given working folder, with a given engine.
inline CliResult runCliIn(const QString& workDir, const QStringList& args, int timeoutMs = 120000,
                          const QString& engine = trainExe()) {
    QProcess p;
    p.setProcessEnvironment(cliEnvironment(engine));
    p.setWorkingDirectory(workDir);
    p.start(workbenchExe(), args);
    CliResult r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(5000);
        r.err = "timed out";
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

// An engine that answers --version and validate, and whose train writes its status, ignores
// SIGTERM and never ends: only SIGKILL stops it.
inline QString writeStubbornEngine(const QString& file) {
    QFile f(file);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return {};
    f.write("#!/bin/sh\n"
            "case \"$1\" in\n"
            "  --version) echo 'bcd-train 0.1.0' ;;\n"
            "  validate) exit 0 ;;\n"
            "  train)\n"
            "    trap '' TERM\n"
            "    echo '{\"state\":\"running\",\"pid\":'$$',\"step\":0,\"steps\":5}' > status.json\n"
            "    while :; do sleep 0.05; done ;;\n"
            "esac\n");
    f.close();
    f.setPermissions(f.permissions() | QFile::ExeOwner);
    return file;
}

// A bcd-workbench left running (run launch that follows): the caller kills or waits.
inline std::unique_ptr<QProcess> startCli(const QStringList& args) {
    auto p = std::make_unique<QProcess>();
    p->setProcessEnvironment(cliEnvironment());
    p->start(workbenchExe(), args);
    p->waitForStarted(10000);
    return p;
}

// The run id that `run launch` printed alone on a line of stdout, waiting for it; 0 when none.
inline qint64 waitForRunId(QProcess& p, int timeoutMs, QByteArray* seen) {
    const QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        p.waitForReadyRead(100);
        *seen += p.readAllStandardOutput();
        for (const QByteArray& line : seen->split('\n')) {
            bool ok = false;
            const qint64 id = line.trimmed().toLongLong(&ok);
            if (ok && id > 0 && seen->contains(line + '\n')) return id;
        }
        if (p.state() == QProcess::NotRunning) break;
    }
    return 0;
}

inline std::pair<int, QByteArray> lastErrLine(const CliResult& r) {
    const QList<QByteArray> lines = r.err.trimmed().split('\n');
    return {static_cast<int>(lines.size()), lines.back()};
}

inline QJsonObject showRun(const QString& db, qint64 id) {
    const CliResult r =
        runCli({QStringLiteral("--db"), db, QStringLiteral("run"), QStringLiteral("show"),
                QString::number(id), QStringLiteral("--json")},
               60000);
    return r.code == 0 ? QJsonDocument::fromJson(r.out).object() : QJsonObject();
}

// Everything the store shows: runs (with their events and points) and nodes.
inline QByteArray storeSnapshot(const QString& db) {
    QByteArray all;
    const CliResult runs = runCli({QStringLiteral("--db"), db, QStringLiteral("run"),
                                   QStringLiteral("list"), QStringLiteral("--json")});
    const CliResult nodes = runCli({QStringLiteral("--db"), db, QStringLiteral("node"),
                                    QStringLiteral("list"), QStringLiteral("--json")});
    all += runs.out + nodes.out;
    for (const QJsonValue& v : QJsonDocument::fromJson(runs.out).array())
        all += QJsonDocument(showRun(db, v.toObject().value(QLatin1String("id")).toInteger()))
                   .toJson();
    return all;
}

// Empty when the stored steps of `show` are exactly 1..steps, each once, with the losses of the
// run folder's metrics.jsonl (which must itself hold each step once); else what is wrong.
inline QString checkStepsExactlyOnce(const QJsonObject& show, qint64 steps) {
    const QString metrics =
        show.value(QLatin1String("run_dir")).toString() + QStringLiteral("/metrics.jsonl");
    int records = 0;
    const QMap<qint64, double> file = fileStepLosses(metrics, &records);
    if (records != steps || file.size() != steps)
        return QStringLiteral("%1 holds %2 step records for %3 steps, expected %4")
            .arg(metrics)
            .arg(records)
            .arg(file.size())
            .arg(steps);
    const QJsonArray stored = show.value(QLatin1String("steps")).toArray();
    if (stored.size() != steps)
        return QStringLiteral("%1 steps stored, expected %2").arg(stored.size()).arg(steps);
    for (qsizetype i = 0; i < stored.size(); ++i) {
        const QJsonObject p = stored[i].toObject();
        const qint64 step = p.value(QLatin1String("step")).toInteger();
        if (step != i + 1)
            return QStringLiteral("stored step #%1 is step %2 (a step lost or doubled)")
                .arg(i + 1)
                .arg(step);
        const double loss = p.value(QLatin1String("loss")).toDouble(-1);
        if (loss != file.value(step))
            return QStringLiteral("step %1: stored loss %2, metrics.jsonl %3")
                .arg(step)
                .arg(loss, 0, 'g', 17)
                .arg(file.value(step), 0, 'g', 17);
    }
    return {};
}

// Step records written so far to a metrics.jsonl.
inline int stepRecords(const QString& metricsFile) {
    int n = 0;
    fileStepLosses(metricsFile, &n);
    return n;
}

// Whether a process runs (a zombie's command line is empty) with `arg` among its arguments.
inline bool processRuns(qint64 pid, const QString& arg = {}) {
    if (pid <= 0) return false;
    QFile f(QStringLiteral("/proc/%1/cmdline").arg(pid));
    if (!f.open(QIODevice::ReadOnly)) return false;
    const QByteArray c = f.readAll();
    if (c.isEmpty()) return false;
    return arg.isEmpty() || c.split('\0').contains(arg.toUtf8());
}

inline QJsonObject readJsonFile(const QString& file) {
    QFile f(file);
    return f.open(QIODevice::ReadOnly) ? QJsonDocument::fromJson(f.readAll()).object()
                                       : QJsonObject();
}

// Files in a folder (markers a hostile name must not have made).
inline QStringList filesIn(const QString& dir) {
    return QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot);
}

} // namespace bcd::test
