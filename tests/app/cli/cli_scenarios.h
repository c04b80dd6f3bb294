#pragma once
// Scenarios that the CLI tests play on the local node and on an SSH node alike: the workbench
// killed mid-run and re-attached; cancel with a checkpoint; a hostile run name. Each is a void
// function with QTest checks: the caller returns when QTest::currentTestFailed().

#include "cli_checks.h"

#include <QRegularExpression>

namespace bcd::test {

// `run launch` on a long run, kill -9 once some steps are stored; the engine runs on (its own
// session); `run attach` follows it to the end; every step stored once, with the file's losses.
inline void killWorkbenchAndAttach(const QString& db, const QString& config, const QString& node,
                                   qint64 steps) {
    auto wb = startCli({QStringLiteral("--db"), db, QStringLiteral("run"), QStringLiteral("launch"),
                        QStringLiteral("--config"), config, QStringLiteral("--node"), node,
                        QStringLiteral("--name"), QStringLiteral("killed workbench")});
    QByteArray out;
    const qint64 id = waitForRunId(*wb, 60000, &out);
    QVERIFY2(id > 0, qPrintable(QString::fromUtf8(out + wb->readAllStandardError())));

    // Some steps stored by this workbench; then kill it without a chance to clean up.
    QJsonObject show;
    QTRY_VERIFY_WITH_TIMEOUT(
        (show = showRun(db, id), show.value(QLatin1String("steps")).toArray().size() > 0), 60000);
    const QString runDir = show.value(QLatin1String("run_dir")).toString();
    const QString metrics = runDir + QStringLiteral("/metrics.jsonl");
    const qint64 pid = show.value(QLatin1String("pid")).toInteger();
    QVERIFY(!runDir.isEmpty());
    ::kill(static_cast<pid_t>(wb->processId()), SIGKILL);
    QVERIFY(wb->waitForFinished(10000));
    QCOMPARE(wb->exitStatus(), QProcess::CrashExit);

    // The engine goes on alone.
    QVERIFY2(processRuns(pid, runDir + QStringLiteral("/launch.json")),
             "the engine was not running when the workbench was killed (a longer run is needed)");
    const int storedAtKill =
        static_cast<int>(showRun(db, id).value(QLatin1String("steps")).toArray().size());
    QVERIFY(storedAtKill > 0);
    QVERIFY2(storedAtKill < steps, "the run ended before the workbench was killed");
    const int writtenAtKill = stepRecords(metrics);
    QTRY_VERIFY_WITH_TIMEOUT(stepRecords(metrics) > writtenAtKill + 10 || !processRuns(pid), 30000);
    QVERIFY2(stepRecords(metrics) > writtenAtKill,
             "the engine made no progress after the workbench was killed");
    QCOMPARE(static_cast<int>(showRun(db, id).value(QLatin1String("steps")).toArray().size()),
             storedAtKill);
    QCOMPARE(showRun(db, id).value(QLatin1String("status")).toString(), QStringLiteral("running"));

    // A new workbench follows it to the end from where the store stopped.
    const CliResult attach = runCli({QStringLiteral("--db"), db, QStringLiteral("run"),
                                     QStringLiteral("attach"), QString::number(id)},
                                    180000);
    QVERIFY2(attach.code == 0, attach.err.constData());
    QVERIFY(!processRuns(pid, runDir + QStringLiteral("/launch.json")));
    show = showRun(db, id);
    QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
    const QString bad = checkStepsExactlyOnce(show, steps);
    QVERIFY2(bad.isEmpty(), qPrintable(bad));
    QCOMPARE(show.value(QLatin1String("metrics_offset")).toInteger(), QFileInfo(metrics).size());
    QStringList kinds;
    for (const QJsonValue& e : show.value(QLatin1String("events")).toArray())
        if (e.toObject().value(QLatin1String("source")).toString() == QLatin1String("workbench"))
            kinds << e.toObject().value(QLatin1String("kind")).toString();
    QVERIFY2(kinds.contains(QStringLiteral("attach")) && kinds.contains(QStringLiteral("end")),
             qPrintable(kinds.join(',')));
}

// `run launch` killed (SIGKILL, by the test hook BCD_TEST_WORKBENCH_STOP_AT) at a phase of the
// launch, then `run attach` from a fresh workbench (docs/workbench.md, "Run lifecycle"):
//   after-spawn    the engine runs (or its job is submitted), its pid (job id) not stored: attach
//                  finds it by the engine.pid (job.id) the launcher left in the stored folder and
//                  follows it to `finished`, every step once
//   after-folder   the folder stored, no engine started: attach stores the run as failed, why
//   before-folder  the run created, no folder stored: the same, and nothing was left to run
inline void killWorkbenchWhileLaunching(const QString& db, const QString& config,
                                        const QString& node, qint64 steps, const QString& phase) {
    QProcess wb;
    QProcessEnvironment env = cliEnvironment();
    env.insert(QStringLiteral("BCD_TEST_WORKBENCH_STOP_AT"), phase);
    wb.setProcessEnvironment(env);
    wb.start(workbenchExe(),
             {QStringLiteral("--db"), db, QStringLiteral("run"), QStringLiteral("launch"),
              QStringLiteral("--config"), config, QStringLiteral("--node"), node,
              QStringLiteral("--name"), QStringLiteral("killed while launching ") + phase});
    QVERIFY(wb.waitForFinished(120000));
    QVERIFY2(wb.exitStatus() == QProcess::CrashExit && wb.exitCode() == SIGKILL,
             qPrintable(QStringLiteral("the workbench did not reach %1: %2")
                            .arg(phase, QString::fromUtf8(wb.readAllStandardError()))));

    // The run it left: the newest, still `starting`, with no pid stored.
    const CliResult list = runCli({QStringLiteral("--db"), db, QStringLiteral("run"),
                                   QStringLiteral("list"), QStringLiteral("--json")});
    QCOMPARE(list.code, 0);
    qint64 id = 0;
    for (const QJsonValue& v : QJsonDocument::fromJson(list.out).array())
        id = std::max(id, v.toObject().value(QLatin1String("id")).toInteger());
    QVERIFY(id > 0);
    QJsonObject show = showRun(db, id);
    QCOMPARE(show.value(QLatin1String("name")).toString(),
             QStringLiteral("killed while launching ") + phase);
    QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("starting"));
    QCOMPARE(show.value(QLatin1String("pid")).toInteger(), qint64(0));
    const QString runDir = show.value(QLatin1String("run_dir")).toString();
    QCOMPARE(runDir.isEmpty(), phase == QLatin1String("before-folder"));

    const CliResult attach = runCli({QStringLiteral("--db"), db, QStringLiteral("run"),
                                     QStringLiteral("attach"), QString::number(id)},
                                    180000);
    show = showRun(db, id);
    QStringList kinds;
    for (const QJsonValue& e : show.value(QLatin1String("events")).toArray())
        if (e.toObject().value(QLatin1String("source")).toString() == QLatin1String("workbench"))
            kinds << e.toObject().value(QLatin1String("kind")).toString();
    if (phase != QLatin1String("after-spawn")) {
        // Nothing ran: the run is failed with the reason, and attach says it (exit 1).
        QCOMPARE(attach.code, 1);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("failed"));
        const QString message = show.value(QLatin1String("message")).toString();
        QVERIFY2(message.contains(QStringLiteral("never started")), qPrintable(message));
        QVERIFY2(QString::fromUtf8(attach.err).contains(message), attach.err.constData());
        QVERIFY(show.value(QLatin1String("steps")).toArray().isEmpty());
        QVERIFY2(kinds.endsWith(QStringLiteral("end")), qPrintable(kinds.join(',')));
        if (!runDir.isEmpty()) QVERIFY(!QFile::exists(runDir + QStringLiteral("/metrics.jsonl")));
        return;
    }
    QVERIFY2(attach.code == 0, attach.err.constData());
    QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
    // Found in the folder and stored: the engine's pid, or a batch job's id (Slurm).
    const QString jobId =
        show.value(QLatin1String("job")).toObject().value(QLatin1String("id")).toString();
    const qint64 pid = show.value(QLatin1String("pid")).toInteger();
    QFile found(runDir +
                (jobId.isEmpty() ? QStringLiteral("/engine.pid") : QStringLiteral("/job.id")));
    QVERIFY(found.open(QIODevice::ReadOnly));
    if (jobId.isEmpty()) {
        QVERIFY(pid > 0);
        QCOMPARE(found.readAll().trimmed().toLongLong(), pid);
    } else {
        QCOMPARE(QString::fromUtf8(found.readAll().trimmed()), jobId);
    }
    const QString bad = checkStepsExactlyOnce(show, steps);
    QVERIFY2(bad.isEmpty(), qPrintable(bad));
    QCOMPARE(show.value(QLatin1String("metrics_offset")).toInteger(),
             QFileInfo(runDir + QStringLiteral("/metrics.jsonl")).size());
    // The folder was stored before the start; the start was stored by the attach.
    QVERIFY2(
        kinds.indexOf(QStringLiteral("folder")) >= 0 &&
            kinds.indexOf(QStringLiteral("folder")) < kinds.indexOf(QStringLiteral("attach")) &&
            kinds.indexOf(QStringLiteral("attach")) < kinds.indexOf(QStringLiteral("started")) &&
            kinds.endsWith(QStringLiteral("end")),
        qPrintable(kinds.join(',')));
}

// How the run that `run cancel` stops was started.
enum class LaunchMode {
    Detached,    // run launch --detach: nobody follows it
    Interrupted, // run launch, stopped following by SIGINT (Ctrl-C): the run goes on alone
    Followed,    // run launch still following it while another workbench cancels
};

// `run cancel` while the run runs: SIGTERM, the engine checkpoints and stops; the run is
// cancelled, the steps up to there stored once, the checkpoint complete.
inline void cancelWithCheckpoint(const QString& db, const QString& config, const QString& node,
                                 LaunchMode mode) {
    QStringList args{QStringLiteral("--db"),     db,
                     QStringLiteral("run"),      QStringLiteral("launch"),
                     QStringLiteral("--config"), config,
                     QStringLiteral("--node"),   node,
                     QStringLiteral("--name"),   QStringLiteral("to cancel")};
    if (mode == LaunchMode::Detached) args << QStringLiteral("--detach");
    auto wb = startCli(args);
    QByteArray out;
    const qint64 id = waitForRunId(*wb, 60000, &out);
    QVERIFY2(id > 0, qPrintable(QString::fromUtf8(out + wb->readAllStandardError())));
    QJsonObject show = showRun(db, id);
    const QString runDir = show.value(QLatin1String("run_dir")).toString();
    const QString metrics = runDir + QStringLiteral("/metrics.jsonl");
    const qint64 pid = show.value(QLatin1String("pid")).toInteger();
    if (mode == LaunchMode::Detached) {
        QVERIFY(wb->waitForFinished(30000));
        QCOMPARE(wb->exitCode(), 0);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("running"));
        QVERIFY(show.value(QLatin1String("steps")).toArray().isEmpty()); // nobody follows it
    }
    QTRY_VERIFY_WITH_TIMEOUT(stepRecords(metrics) >= 5, 30000);
    if (mode == LaunchMode::Interrupted) {
        QTRY_VERIFY_WITH_TIMEOUT(!showRun(db, id).value(QLatin1String("steps")).toArray().isEmpty(),
                                 30000);
        ::kill(static_cast<pid_t>(wb->processId()), SIGINT);
        QVERIFY(wb->waitForFinished(30000));
        QCOMPARE(wb->exitStatus(), QProcess::NormalExit);
        QCOMPARE(wb->exitCode(), 130);
        const QByteArray err = wb->readAllStandardError();
        QVERIFY2(err.contains("stopped following run " + QByteArray::number(id)) &&
                     err.contains("run attach"),
                 err.constData());
    }
    QVERIFY2(processRuns(pid, runDir + QStringLiteral("/launch.json")),
             "the run ended before it could be cancelled");

    const CliResult cancel = runCli({QStringLiteral("--db"), db, QStringLiteral("run"),
                                     QStringLiteral("cancel"), QString::number(id)},
                                    120000);
    QVERIFY2(cancel.code == 0, (QByteArray::number(cancel.code) + ' ' + cancel.err)
                                   .constData()); // cli.h: run cancel succeeded
    QVERIFY2(cancel.err.contains("cancelled"), cancel.err.constData());
    QVERIFY(!processRuns(pid, runDir + QStringLiteral("/launch.json")));
    if (mode == LaunchMode::Followed) { // the launching workbench saw the same end
        QVERIFY(wb->waitForFinished(30000));
        QCOMPARE(wb->exitCode(), 130);
    }

    show = showRun(db, id);
    QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("cancelled"));
    const QJsonObject status = readJsonFile(runDir + QStringLiteral("/status.json"));
    QCOMPARE(status.value(QLatin1String("state")).toString(), QStringLiteral("cancelled"));
    const qint64 last = status.value(QLatin1String("step")).toInteger();
    QVERIFY(last >= 5);
    const QString bad = checkStepsExactlyOnce(show, last);
    QVERIFY2(bad.isEmpty(), qPrintable(bad));
    // The engine's checkpoint at the step where it stopped, complete (DONE written last).
    const QString ckpt =
        runDir + QStringLiteral("/checkpoints/step-%1").arg(last, 8, 10, QLatin1Char('0'));
    QVERIFY2(QFile::exists(ckpt + QStringLiteral("/DONE")), qPrintable(ckpt));
    QVERIFY(QFile::exists(ckpt + QStringLiteral("/state.bin")));
    QVERIFY(QFile::exists(ckpt + QStringLiteral("/model.safetensors")));
    QStringList signalsSent;
    for (const QJsonValue& e : show.value(QLatin1String("events")).toArray())
        if (e.toObject().value(QLatin1String("kind")).toString() == QLatin1String("signal"))
            signalsSent << e.toObject()
                               .value(QLatin1String("data"))
                               .toObject()
                               .value(QLatin1String("signal"))
                               .toString();
    QCOMPARE(signalsSent, QStringList{QStringLiteral("SIGTERM")});
}

// A run name (and a model folder) full of shell syntax, launched from a folder where a relative
// `touch` would land: the run works, its name is stored as given, only its slug is in the path,
// and no marker file appears anywhere.
inline void hostileName(const QString& db, const QString& work, const QString& model,
                        const QString& node, const QString& extraMarkerDir = {}) {
    const QString marks = freshDir(QStringLiteral("hostile-marks-") + node);
    const QString name = QStringLiteral("x'; touch %1/PWNED_1; echo '$(touch %1/PWNED_2) `touch "
                                        "%1/PWNED_3` \"; touch %1/PWNED_4 #\" && touch MARK")
                             .arg(marks);
    // The model in a folder whose name is shell syntax too (it travels into the config, the
    // upload and the engine's arguments on the node).
    const QString hostileModel =
        work + QStringLiteral("/m $(touch %1/PWNED_5) 'q' `touch %1/PWNED_6`").arg(marks);
    QDir().mkpath(hostileModel);
    for (const QString& f : QDir(model).entryList(QDir::Files)) {
        QFile::remove(hostileModel + '/' + f);
        QVERIFY(QFile::copy(model + '/' + f, hostileModel + '/' + f));
    }
    const QString config = writeConfig(work + QStringLiteral("/hostile.json"), hostileModel, 20);
    const CliResult r =
        runCliIn(marks, {QStringLiteral("--db"), db, QStringLiteral("run"),
                         QStringLiteral("launch"), QStringLiteral("--config"), config,
                         QStringLiteral("--node"), node, QStringLiteral("--name"), name});
    QVERIFY2(r.code == 0, r.err.constData());
    bool ok = false;
    const qint64 id = r.lastLine().toLongLong(&ok);
    QVERIFY2(ok, r.out.constData());
    const QJsonObject show = showRun(db, id);
    QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
    QCOMPARE(show.value(QLatin1String("name")).toString(), name);
    const QString runDir = show.value(QLatin1String("run_dir")).toString();
    static const QRegularExpression safe(QStringLiteral("/\\d+-[A-Za-z0-9._-]+$"));
    QVERIFY2(safe.match(runDir).hasMatch(), qPrintable(runDir));
    const QString bad = checkStepsExactlyOnce(show, 20);
    QVERIFY2(bad.isEmpty(), qPrintable(bad));
    QVERIFY2(filesIn(marks).isEmpty(), qPrintable(filesIn(marks).join(", ")));
    QVERIFY2(!QFile::exists(runDir + QStringLiteral("/MARK")),
             "a relative touch ran in the run folder");
    if (!extraMarkerDir.isEmpty())
        QVERIFY2(!QFile::exists(extraMarkerDir + QStringLiteral("/MARK")),
                 qPrintable(extraMarkerDir));
}

} // namespace bcd::test
