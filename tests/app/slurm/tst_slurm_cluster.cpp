// The slurm launcher against a real Slurm (tests/app/support/slurm_fixture.h: munged, slurmctld
// and slurmd on 127.0.0.1), reached through a real sshd (the login host), driven through
// bcd-workbench's command line: the probe's partitions and GPUs; a CPU run submitted and finished
// with every step stored once; a job held in the queue (PENDING, its reason shown) and released;
// scancel → cancelled with a final checkpoint; the workbench killed while the job runs and
// re-attached; a job ended by its time limit → TIMEOUT, then resumed from its checkpoint; hostile
// settings refused and a hostile run name harmless; a finished run's checkpoint sampled as a job
// step (run sample through srun).
//
// The time-limit job takes Slurm's smallest limit (one minute, checked every 30 s), so it is
// submitted first and checked last, while the other cases run.

#include "cli_scenarios.h"
#include "slurm_fixture.h"
#include "sshd_fixture.h"

#include <QDir>
#include <QJsonArray>
#include <QRegularExpression>
#include <QTest>

using namespace bcd;
using test::CliResult;
using test::runCli;

class TestSlurmCluster : public QObject {
    Q_OBJECT

    test::SlurmFixture slurm_;
    test::SshdFixture sshd_;
    QString dir_, model_, db_, knownHosts_, runRoot_;
    qint64 timeoutRun_ = 0;
    qint64 finishedRun_ = 0; // submitAndFinish's run
    QElapsedTimer clock_;

    CliResult cli(const QStringList& args, int timeoutMs = 180000) const {
        return runCli(QStringList{QStringLiteral("--db"), db_} + args, timeoutMs);
    }

    // node add NAME --slurm for the fixture's login host; `more`: job defaults.
    CliResult addCluster(const QString& name, const QStringList& more) const {
        return cli(QStringList{QStringLiteral("node"),
                               QStringLiteral("add"),
                               name,
                               QStringLiteral("--slurm"),
                               QStringLiteral("--host"),
                               QStringLiteral("127.0.0.1"),
                               QStringLiteral("--port"),
                               QString::number(sshd_.port()),
                               QStringLiteral("--user"),
                               sshd_.user(),
                               QStringLiteral("--identity"),
                               sshd_.userKey(),
                               QStringLiteral("--known-hosts"),
                               knownHosts_,
                               QStringLiteral("--accept-new-host-key"),
                               QStringLiteral("--engine"),
                               test::trainExe(),
                               QStringLiteral("--run-root"),
                               runRoot_,
                               QStringLiteral("--no-probe")} +
                   more);
    }

    QString config(const QString& name, int steps, int checkpointEvery) const {
        return test::writeConfig(dir_ + '/' + name + QStringLiteral(".json"), model_, steps,
                                 checkpointEvery);
    }

    // `run launch --detach` on a node; the run's id.
    qint64 launchDetached(const QString& cfg, const QString& node, const QString& name) {
        const CliResult r = cli({QStringLiteral("run"), QStringLiteral("launch"),
                                 QStringLiteral("--config"), cfg, QStringLiteral("--node"), node,
                                 QStringLiteral("--name"), name, QStringLiteral("--detach")});
        bool ok = false;
        const qint64 id = r.lastLine().toLongLong(&ok);
        if (r.code != 0 || !ok) qWarning("%s", r.err.constData());
        return r.code == 0 && ok ? id : 0;
    }

    QJsonObject job(qint64 id) const {
        return test::showRun(db_, id).value(QLatin1String("job")).toObject();
    }

    QString squeueState(const QString& jobId) const {
        return QString::fromUtf8(
                   slurm_.client(QStringLiteral("squeue"),
                                 {QStringLiteral("--noheader"), QStringLiteral("--states=all"),
                                  QStringLiteral("--jobs=") + jobId,
                                  QStringLiteral("--format=%T|%r")}))
            .trimmed();
    }

    void timing(const char* what) {
        qInfo("%s: %.1f s since the cluster started", what, clock_.elapsed() / 1000.0);
    }

private slots:
    void initTestCase() {
        dir_ = test::freshDir(QStringLiteral("slurm-cluster"));
        QElapsedTimer start;
        start.start();
        if (!slurm_.start(dir_ + QStringLiteral("/cluster"))) {
            if (test::SlurmFixture::required())
                QFAIL(qPrintable(QStringLiteral("CI=true and the Slurm cluster cannot run: ") +
                                 slurm_.skipReason()));
            QSKIP(qPrintable(slurm_.skipReason()));
        }
        qInfo("the Slurm cluster came up in %.1f s", start.elapsed() / 1000.0);
        clock_.start();
        sshd_.setSessionEnvironment({QStringLiteral("SLURM_CONF=") + slurm_.conf()});
        if (!sshd_.start(dir_ + QStringLiteral("/sshd"))) {
            if (test::SlurmFixture::required())
                QFAIL(qPrintable(QStringLiteral("CI=true and sshd cannot run: ") +
                                 sshd_.skipReason()));
            QSKIP(qPrintable(sshd_.skipReason()));
        }
        model_ = test::tinyModel(dir_);
        QVERIFY2(!model_.isEmpty(), "bcd-train init --preset tiny failed");
        db_ = dir_ + QStringLiteral("/store.sqlite");
        knownHosts_ = dir_ + QStringLiteral("/known_hosts");
        runRoot_ = dir_ + QStringLiteral("/shared/bcd-runs");

        CliResult add = addCluster(QStringLiteral("c1"),
                                   {QStringLiteral("--partition"), QStringLiteral("cpu")});
        QVERIFY2(add.code == 0, add.err.constData());
        // One minute, Slurm's smallest limit: submitted now, checked in timeLimitThenResume.
        add = addCluster(QStringLiteral("c-short"),
                         {QStringLiteral("--partition"), QStringLiteral("cpu"),
                          QStringLiteral("--time"), QStringLiteral("1")});
        QVERIFY2(add.code == 0, add.err.constData());
        timeoutRun_ = launchDetached(config(QStringLiteral("timeout"), 1000000, 50),
                                     QStringLiteral("c-short"), QStringLiteral("time limit"));
        QVERIFY(timeoutRun_ > 0);
    }

    void cleanupTestCase() {
        timing("all cases");
        sshd_.stop();
        slurm_.stop();
    }

    void cleanup() {
        if (QTest::currentTestFailed()) qWarning("%s", qPrintable(slurm_.logTail()));
    }

    void probeShowsPartitionsAndGpus() {
        const CliResult r = cli({QStringLiteral("node"), QStringLiteral("probe"),
                                 QStringLiteral("c1"), QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject p =
            QJsonDocument::fromJson(r.out).object().value(QLatin1String("probe")).toObject();
        const QJsonObject s = p.value(QLatin1String("slurm")).toObject();
        QVERIFY2(s.value(QLatin1String("version")).toString().startsWith(QLatin1String("2")),
                 r.out.constData());
        QMap<QString, QJsonObject> parts;
        for (const QJsonValue& v : s.value(QLatin1String("partitions")).toArray())
            parts[v.toObject().value(QLatin1String("name")).toString()] = v.toObject();
        QCOMPARE(parts.keys(), (QStringList{QStringLiteral("cpu"), QStringLiteral("gpu")}));
        QVERIFY(parts[QStringLiteral("cpu")].value(QLatin1String("default")).toBool());
        QVERIFY(!parts[QStringLiteral("gpu")].value(QLatin1String("default")).toBool());
        QCOMPARE(parts[QStringLiteral("gpu")].value(QLatin1String("gpus_per_node")).toInt(), 2);
        QCOMPARE(parts[QStringLiteral("gpu")].value(QLatin1String("gpu_type")).toString(),
                 QStringLiteral("tiny"));
        QCOMPARE(parts[QStringLiteral("gpu")].value(QLatin1String("time_limit")).toString(),
                 QStringLiteral("2:00:00"));
        QCOMPARE(parts[QStringLiteral("cpu")].value(QLatin1String("cpus_per_node")).toInt(), 4);
        QCOMPARE(parts[QStringLiteral("cpu")].value(QLatin1String("memory_mib_per_node")).toInt(),
                 4000);
        QCOMPARE(p.value(QLatin1String("engine")).toObject().value(QLatin1String("version")),
                 QJsonValue(QStringLiteral("0.1.0")));
        const CliResult list = cli({QStringLiteral("node"), QStringLiteral("list")});
        QVERIFY2(list.out.contains("Slurm") && list.out.contains("gpu:tiny"), list.out.constData());
    }

    void submitAndFinish() {
        const qint64 steps = 40;
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"),
                 config(QStringLiteral("finish"), 40, 10), QStringLiteral("--node"),
                 QStringLiteral("c1"), QStringLiteral("--name"), QStringLiteral("slurm finish")});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.err.contains("submitted as Slurm job"), r.err.constData());
        const qint64 id = r.lastLine().toLongLong();
        const QJsonObject show = test::showRun(db_, id);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
        const QString bad = test::checkStepsExactlyOnce(show, steps);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        const QJsonObject j = show.value(QLatin1String("job")).toObject();
        QCOMPARE(j.value(QLatin1String("state")).toString(), QStringLiteral("COMPLETED"));
        QCOMPARE(squeueState(j.value(QLatin1String("id")).toString()),
                 QStringLiteral("COMPLETED|None"));
        // The batch script is kept in the run folder and says what ran.
        const QString runDir = show.value(QLatin1String("run_dir")).toString();
        QVERIFY(runDir.startsWith(runRoot_));
        QFile script(runDir + QStringLiteral("/job.sbatch"));
        QVERIFY(script.open(QIODevice::ReadOnly));
        const QByteArray text = script.readAll();
        QVERIFY2(text.contains("#SBATCH --partition=cpu\n") && text.contains("srun ") &&
                     text.contains("#SBATCH --job-name=bcd-" + QByteArray::number(id) +
                                   "-slurm-finish\n"),
                 text.constData());
        qInfo("the batch script of run %lld:\n%s", id, text.constData());
        finishedRun_ = id;
        timing("submitAndFinish");
    }

    // run checkpoints and run sample on the cluster: listed through the login host, sampled as a
    // job step of its own (srun, the node's partition), the same text as the engine prints here.
    void sampleAsJobStep() {
        if (finishedRun_ <= 0) QSKIP("submitAndFinish did not leave a run");
        const QString id = QString::number(finishedRun_);
        const CliResult list = cli({"run", "checkpoints", id});
        QVERIFY2(list.code == 0, list.err.constData());
        const QStringList found = QString::fromUtf8(list.out).split('\n', Qt::SkipEmptyParts);
        QVERIFY2(found.value(0) == QLatin1String("final") && found.size() >= 2 &&
                     found.value(1).startsWith(QLatin1String("step-")),
                 list.out.constData());
        const QStringList settings{"--max-new", "20", "--temperature", "0.8", "--seed", "6"};
        const CliResult s = cli(
            QStringList{"run", "sample", id, "--prompt", "Hark", "--checkpoint", found.value(1)} +
            settings);
        QVERIFY2(s.code == 0, s.err.constData());
        const QString runDir = test::showRun(db_, finishedRun_)["run_dir"].toString();
        QProcess engine;
        engine.start(test::trainExe(),
                     QStringList{"sample", "--model", runDir + "/checkpoints/" + found.value(1),
                                 "--prompt", "Hark"} +
                         settings);
        QVERIFY(engine.waitForFinished(60000));
        QCOMPARE(s.out, engine.readAllStandardOutput());
        // It ran as a job of its own on the node's partition (srun names it after the program).
        const QString jobs = QString::fromUtf8(
            slurm_.client(QStringLiteral("squeue"),
                          {QStringLiteral("--noheader"), QStringLiteral("--states=all"),
                           QStringLiteral("--name=bcd-train"), QStringLiteral("--format=%T|%P")}));
        QVERIFY2(jobs.contains(QLatin1String("COMPLETED|cpu")), qPrintable(jobs));
        timing("sampleAsJobStep");
    }

    void heldThenReleased() {
        CliResult add = addCluster(QStringLiteral("c-held"),
                                   {QStringLiteral("--sbatch"), QStringLiteral("#SBATCH --hold")});
        QVERIFY2(add.code == 0, add.err.constData());
        const qint64 id = launchDetached(config(QStringLiteral("held"), 20, 0),
                                         QStringLiteral("c-held"), QStringLiteral("held"));
        QVERIFY(id > 0);
        auto follow = test::startCli({QStringLiteral("--db"), db_, QStringLiteral("run"),
                                      QStringLiteral("attach"), QString::number(id)});
        // The queue state and its reason reach the store (and the follower's output).
        QTRY_VERIFY_WITH_TIMEOUT(job(id).value(QLatin1String("reason")).toString() ==
                                     QLatin1String("JobHeldUser"),
                                 30000);
        QJsonObject show = test::showRun(db_, id);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("queued"));
        QCOMPARE(show.value(QLatin1String("job")).toObject().value(QLatin1String("state")),
                 QJsonValue(QStringLiteral("PENDING")));
        const CliResult list = cli({QStringLiteral("run"), QStringLiteral("list")});
        QVERIFY2(list.out.contains("queued [PENDING JobHeldUser]"), list.out.constData());
        QVERIFY(show.value(QLatin1String("steps")).toArray().isEmpty());

        const QString jobId = show.value(QLatin1String("job")).toObject().value("id").toString();
        QString error;
        slurm_.client(QStringLiteral("scontrol"), {QStringLiteral("release"), jobId}, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QVERIFY(follow->waitForFinished(120000));
        const QByteArray err = follow->readAllStandardError();
        QVERIFY2(follow->exitCode() == 0, err.constData());
        // (RUNNING may pass between two polls of a short run.)
        QVERIFY2(err.contains("job PENDING (JobHeldUser)") && err.contains("job COMPLETED"),
                 err.constData());
        show = test::showRun(db_, id);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
        const QString bad = test::checkStepsExactlyOnce(show, 20);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        timing("heldThenReleased");
    }

    // A job cancelled while it waits in the queue: it leaves the queue, nothing ran.
    void cancelWhileQueued() {
        const qint64 id = launchDetached(config(QStringLiteral("queued-cancel"), 20, 0),
                                         QStringLiteral("c-held"), QStringLiteral("never runs"));
        QVERIFY(id > 0);
        const CliResult cancel =
            cli({QStringLiteral("run"), QStringLiteral("cancel"), QString::number(id)});
        QVERIFY2(cancel.code == 0, cancel.err.constData());
        const QJsonObject show = test::showRun(db_, id);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("cancelled"));
        QVERIFY2(show.value(QLatin1String("message")).toString().contains(QLatin1String("before")),
                 qPrintable(show.value(QLatin1String("message")).toString()));
        QCOMPARE(show.value(QLatin1String("job")).toObject().value(QLatin1String("state")),
                 QJsonValue(QStringLiteral("CANCELLED")));
        QVERIFY(show.value(QLatin1String("steps")).toArray().isEmpty());
        QVERIFY(!QFile::exists(show.value(QLatin1String("run_dir")).toString() +
                               QStringLiteral("/metrics.jsonl")));
    }

    void scancelCheckpoints() {
        auto wb = test::startCli({QStringLiteral("--db"), db_, QStringLiteral("run"),
                                  QStringLiteral("launch"), QStringLiteral("--config"),
                                  config(QStringLiteral("cancel"), 1000000, 0),
                                  QStringLiteral("--node"), QStringLiteral("c1"),
                                  QStringLiteral("--name"), QStringLiteral("to cancel")});
        QByteArray out;
        const qint64 id = test::waitForRunId(*wb, 60000, &out);
        QVERIFY2(id > 0, qPrintable(QString::fromUtf8(out + wb->readAllStandardError())));
        QTRY_VERIFY_WITH_TIMEOUT(
            test::showRun(db_, id).value(QLatin1String("steps")).toArray().size() >= 5, 60000);
        const CliResult cancel =
            cli({QStringLiteral("run"), QStringLiteral("cancel"), QString::number(id)});
        QVERIFY2(cancel.code == 0,
                 (QByteArray::number(cancel.code) + ' ' + cancel.err).constData());
        QVERIFY(wb->waitForFinished(60000));
        QCOMPARE(wb->exitCode(), 130); // the launching workbench saw the same end

        const QJsonObject show = test::showRun(db_, id);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("cancelled"));
        QCOMPARE(show.value(QLatin1String("job")).toObject().value(QLatin1String("state")),
                 QJsonValue(QStringLiteral("CANCELLED")));
        const QString runDir = show.value(QLatin1String("run_dir")).toString();
        const QJsonObject status = test::readJsonFile(runDir + QStringLiteral("/status.json"));
        QCOMPARE(status.value(QLatin1String("state")).toString(), QStringLiteral("cancelled"));
        const qint64 last = status.value(QLatin1String("step")).toInteger();
        QVERIFY(last >= 5);
        const QString bad = test::checkStepsExactlyOnce(show, last);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        const QString ckpt =
            runDir + QStringLiteral("/checkpoints/step-%1").arg(last, 8, 10, QLatin1Char('0'));
        QVERIFY2(QFile::exists(ckpt + QStringLiteral("/DONE")), qPrintable(ckpt));
        timing("scancelCheckpoints");
    }

    void killedWorkbenchReattaches() {
        const qint64 steps = 3000;
        auto wb = test::startCli({QStringLiteral("--db"), db_, QStringLiteral("run"),
                                  QStringLiteral("launch"), QStringLiteral("--config"),
                                  config(QStringLiteral("killed"), 3000, 500),
                                  QStringLiteral("--node"), QStringLiteral("c1"),
                                  QStringLiteral("--name"), QStringLiteral("killed workbench")});
        QByteArray out;
        const qint64 id = test::waitForRunId(*wb, 60000, &out);
        QVERIFY2(id > 0, qPrintable(QString::fromUtf8(out + wb->readAllStandardError())));
        QTRY_VERIFY_WITH_TIMEOUT(
            test::showRun(db_, id).value(QLatin1String("steps")).toArray().size() > 0, 60000);
        ::kill(static_cast<pid_t>(wb->processId()), SIGKILL);
        QVERIFY(wb->waitForFinished(10000));
        const QJsonObject atKill = test::showRun(db_, id);
        const int storedAtKill =
            static_cast<int>(atKill.value(QLatin1String("steps")).toArray().size());
        QVERIFY2(storedAtKill < steps, "the run ended before the workbench was killed");
        const QString jobId = atKill.value(QLatin1String("job")).toObject().value("id").toString();
        // The job goes on without the workbench (or has just ended well on a fast machine).
        const QString st = squeueState(jobId);
        QVERIFY2(st.startsWith(QLatin1String("RUNNING")) || st.startsWith(QLatin1String("COMPLET")),
                 qPrintable(st));

        const CliResult attach =
            cli({QStringLiteral("run"), QStringLiteral("attach"), QString::number(id)}, 240000);
        QVERIFY2(attach.code == 0, attach.err.constData());
        const QJsonObject show = test::showRun(db_, id);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
        const QString bad = test::checkStepsExactlyOnce(show, steps);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        timing("killedWorkbenchReattaches");
    }

    // The workbench killed right after sbatch, before the job id was stored: attach finds the
    // job by the job.id the launcher left in the run folder and follows it to its end.
    void killedAfterSubmission() {
        test::killWorkbenchWhileLaunching(db_, config(QStringLiteral("submitted"), 200, 0),
                                          QStringLiteral("c1"), 200, QStringLiteral("after-spawn"));
        timing("killedAfterSubmission");
    }

    void hostileSettingsRefused() {
        // Partition, account, time and extra lines reach #SBATCH lines: shell syntax and
        // options the workbench owns are refused before anything is stored.
        const QList<QStringList> hostile{
            {QStringLiteral("--partition"), QStringLiteral("cpu;touch PWNED")},
            {QStringLiteral("--partition"), QStringLiteral("cpu\n#SBATCH --wrap=id")},
            {QStringLiteral("--account"), QStringLiteral("$(id)")},
            {QStringLiteral("--time"), QStringLiteral("1:00 && id")},
            {QStringLiteral("--sbatch"), QStringLiteral("#SBATCH --comment=$(touch PWNED)")},
            {QStringLiteral("--sbatch"), QStringLiteral("touch PWNED")},
            {QStringLiteral("--sbatch"), QStringLiteral("#SBATCH --output=/etc/passwd")},
        };
        for (const QStringList& h : hostile) {
            const CliResult r = addCluster(QStringLiteral("evil"), h);
            QVERIFY2(r.code == 2, qPrintable(h.join(' ') + ": " + QString::fromUtf8(r.err)));
            QCOMPARE(test::lastErrLine(r).first, 1);
        }
        const CliResult list =
            cli({QStringLiteral("node"), QStringLiteral("list"), QStringLiteral("--json")});
        QVERIFY2(!list.out.contains("\"evil\""), list.out.constData());
    }

    void hostileRunName() { test::hostileName(db_, dir_, model_, QStringLiteral("c1"), runRoot_); }

    void timeLimitThenResume() {
        QVERIFY(timeoutRun_ > 0);
        // Slurm ends the job at its one-minute limit (checked every 30 s): SIGTERM, the engine
        // checkpoints.
        const CliResult attach =
            cli({QStringLiteral("run"), QStringLiteral("attach"), QString::number(timeoutRun_)},
                240000);
        QCOMPARE(attach.code, 1);
        QJsonObject show = test::showRun(db_, timeoutRun_);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("failed"));
        QVERIFY2(show.value(QLatin1String("message")).toString().contains(QLatin1String("TIMEOUT")),
                 qPrintable(show.value(QLatin1String("message")).toString()));
        QCOMPARE(show.value(QLatin1String("job")).toObject().value(QLatin1String("state")),
                 QJsonValue(QStringLiteral("TIMEOUT")));
        const QString firstJob = show.value(QLatin1String("job")).toObject().value("id").toString();
        const QString runDir = show.value(QLatin1String("run_dir")).toString();
        // Slurm signals the engine at the limit (SIGTERM from slurmstepd, and from srun as it
        // ends the step); the newest complete checkpoint is where a resume continues.
        qint64 newest = 0;
        for (const QString& c : QDir(runDir + QStringLiteral("/checkpoints"))
                                    .entryList(QDir::Dirs | QDir::NoDotAndDotDot))
            if (QFile::exists(runDir + QStringLiteral("/checkpoints/") + c +
                              QStringLiteral("/DONE")))
                newest = std::max(newest, c.mid(5).toLongLong());
        QVERIFY2(newest > 0, "no complete checkpoint after the time limit");
        const qint64 stopped = show.value(QLatin1String("last_step")).toInteger();
        QVERIFY(stopped >= newest);
        timing("time limit reached");

        // Resumed: the same batch script again, a new job; it continues from the checkpoint.
        auto wb = test::startCli({QStringLiteral("--db"), db_, QStringLiteral("run"),
                                  QStringLiteral("resume"), QString::number(timeoutRun_)});
        QTRY_VERIFY_WITH_TIMEOUT(
            test::showRun(db_, timeoutRun_).value(QLatin1String("last_step")).toInteger() >
                stopped + 5,
            60000);
        show = test::showRun(db_, timeoutRun_);
        const QString secondJob =
            show.value(QLatin1String("job")).toObject().value("id").toString();
        QVERIFY(!secondJob.isEmpty() && secondJob != firstJob);
        bool resumedFromCheckpoint = false;
        for (const QJsonValue& e : show.value(QLatin1String("events")).toArray()) {
            const QJsonObject o = e.toObject();
            if (o.value(QLatin1String("kind")).toString() == QLatin1String("resume") &&
                o.value(QLatin1String("source")).toString() == QLatin1String("engine"))
                resumedFromCheckpoint = o.value(QLatin1String("step")).toInteger() == newest;
        }
        QVERIFY2(resumedFromCheckpoint, "the engine did not resume from the checkpoint");
        const CliResult cancel =
            cli({QStringLiteral("run"), QStringLiteral("cancel"), QString::number(timeoutRun_)});
        QVERIFY2(cancel.code == 0, cancel.err.constData());
        QVERIFY(wb->waitForFinished(60000));
        show = test::showRun(db_, timeoutRun_);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("cancelled"));
        const qint64 last =
            test::readJsonFile(runDir + QStringLiteral("/status.json")).value("step").toInteger();
        // Every step stored once, with the loss of its last record in metrics.jsonl (the steps
        // after the checkpoint ran twice; the resumed run's records win).
        const QMap<qint64, double> file =
            test::fileStepLosses(runDir + QStringLiteral("/metrics.jsonl"));
        const QJsonArray stored = show.value(QLatin1String("steps")).toArray();
        QCOMPARE(stored.size(), last);
        QCOMPARE(file.size(), last);
        for (qsizetype i = 0; i < stored.size(); ++i) {
            const QJsonObject p = stored[i].toObject();
            QCOMPARE(p.value(QLatin1String("step")).toInteger(), i + 1);
            QCOMPARE(p.value(QLatin1String("loss")).toDouble(), file.value(i + 1));
        }
        timing("timeLimitThenResume");
    }
};

QTEST_GUILESS_MAIN(TestSlurmCluster)
#include "tst_slurm_cluster.moc"
