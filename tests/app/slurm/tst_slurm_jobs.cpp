// The slurm launcher's parts that need no cluster (plugins/slurm, nodes/slurm_*.h): the batch
// script — its exact text, its syntax (bash -n), what it runs (executed by bash with a stand-in
// srun) — the validation of a cluster's job settings against shell syntax, sinfo's partitions
// and GPUs, squeue/sacct/sbatch answers, and the final state a job's end gives a run.

#include "batch_script.h"
#include "job_queue.h"
#include "launch/launch_outcome.h"
#include "launch/run_files.h"
#include "nodes/slurm_job.h"
#include "nodes/slurm_probe.h"
#include "test_runs.h"

#include <QFile>
#include <QProcess>
#include <QTest>
#include <csignal>

using namespace bcd;
using plugins::slurm::BatchJob;
using plugins::slurm::batchScript;

namespace {

BatchJob fullJob() {
    BatchJob b;
    b.runId = 12;
    b.runName = QStringLiteral("tiny demo");
    b.runDir = QStringLiteral("/shared/bcd-runs/12-tiny-demo");
    b.engine = QStringLiteral("/shared/bcd-runs/.engine/0.1.0/bcd-train");
    b.job.partition = QStringLiteral("gpu");
    b.job.account = QStringLiteral("lab");
    b.job.qos = QStringLiteral("normal");
    b.job.timeLimit = QStringLiteral("4:00:00");
    b.job.gpusPerNode = 2;
    b.job.cpusPerTask = 8;
    b.job.memPerTaskMiB = 32768;
    b.job.extraLines = {QStringLiteral("#SBATCH --constraint=a100"),
                        QStringLiteral("#SBATCH --mail-type=END")};
    return b;
}

// The message of the LaunchError that batchScript throws; empty when it throws none.
QString refusal(const BatchJob& b) {
    try {
        batchScript(b);
    } catch (const launch::LaunchError& e) {
        return e.badInput() ? QString::fromUtf8(e.what()) : QStringLiteral("not bad input");
    }
    return {};
}

QByteArray fixture(const char* name) {
    QFile f(QStringLiteral(BCD_SINFO_FIXTURES) + '/' + QLatin1String(name));
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

class TestSlurmJobs : public QObject {
    Q_OBJECT

private slots:
    void scriptText() {
        const QString expected = QStringLiteral(R"(#!/bin/bash
# BCD Workbench run 12 (tiny demo), written as job.sbatch in its run folder.
# Submitted again (sbatch job.sbatch), requeued or restarted, it continues from the run's
# newest complete checkpoint.
#SBATCH --job-name=bcd-12-tiny-demo
#SBATCH --chdir=/shared/bcd-runs/12-tiny-demo
#SBATCH --output=/shared/bcd-runs/12-tiny-demo/slurm-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --partition=gpu
#SBATCH --account=lab
#SBATCH --qos=normal
#SBATCH --time=4:00:00
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=2
#SBATCH --cpus-per-task=8
#SBATCH --mem=32768M
# The node's extra lines:
#SBATCH --constraint=a100
#SBATCH --mail-type=END

set -u
cd /shared/bcd-runs/12-tiny-demo || exit 1
export OMP_NUM_THREADS=8
# The engine's own rule: a folder that holds a run is continued, never overwritten.
resume=
if [ -e run.json ] || [ -e metrics.jsonl ]; then resume=--resume; fi
srun --nodes=1 --ntasks=1 --ntasks-per-node=1 --cpus-per-task=8 --kill-on-bad-exit=1 \
    /shared/bcd-runs/.engine/0.1.0/bcd-train train --config /shared/bcd-runs/12-tiny-demo/launch.json $resume >>engine.out 2>>engine.err
)");
        QCOMPARE(batchScript(fullJob()), expected);
    }

    // A sample's srun asks for what the batch script asks for (the same job options), one task,
    // and one GPU by GRES only when the run wants a GPU; bad settings are refused by name.
    void sampleSrunOptions() {
        const nodes::SlurmJobDefaults j = fullJob().job;
        QCOMPARE(plugins::slurm::sampleSrun(j, true),
                 (QStringList{"srun", "--partition=gpu", "--account=lab", "--qos=normal",
                              "--time=4:00:00", "--nodes=1", "--ntasks=1", "--cpus-per-task=8",
                              "--mem=32768M", "--gres=gpu:1", "--quiet"}));
        QCOMPARE(plugins::slurm::sampleSrun(nodes::SlurmJobDefaults{}, false),
                 (QStringList{"srun", "--nodes=1", "--ntasks=1", "--quiet"}));
        nodes::SlurmJobDefaults bad;
        bad.partition = QStringLiteral("gpu;rm -rf");
        try {
            plugins::slurm::sampleSrun(bad, false);
            QFAIL("a hostile partition was accepted");
        } catch (const launch::LaunchError& e) {
            QVERIFY(e.badInput());
            QVERIFY2(QString::fromUtf8(e.what()).contains("partition"), e.what());
        }
    }

    void scriptScalesTasks() {
        // One task per GPU once the engine runs ranks: the parameter reaches #SBATCH and srun.
        BatchJob b = fullJob();
        b.job.nodes = 2;
        b.tasksPerNode = 4;
        b.job.memPerTaskMiB = 1000;
        b.mpi = QStringLiteral("pmix");
        const QString s = batchScript(b);
        QVERIFY(s.contains(QLatin1String("#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=4\n")));
        QVERIFY(s.contains(QLatin1String("#SBATCH --mem=4000M\n")));
        QVERIFY(s.contains(QLatin1String("srun --nodes=2 --ntasks=8 --ntasks-per-node=4 "
                                         "--cpus-per-task=8 --mpi=pmix --kill-on-bad-exit=1")));
    }

    // The script runs under bash with a stand-in srun on PATH that records its arguments: the
    // engine gets exactly its words, and --resume once the folder holds a run.
    void scriptRunsWhatItSays() {
        const QString dir = test::freshDir(QStringLiteral("slurm-jobs/run"));
        const QString bin = test::freshDir(QStringLiteral("slurm-jobs/bin"));
        QFile srun(bin + QStringLiteral("/srun"));
        QVERIFY(srun.open(QIODevice::WriteOnly));
        srun.write("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$PWD/argv\"\n");
        srun.close();
        srun.setPermissions(srun.permissions() | QFile::ExeOwner);
        BatchJob b = fullJob();
        b.runDir = dir;
        b.engine = QStringLiteral("bcd-train");
        QFile script(dir + QStringLiteral("/job.sbatch"));
        QVERIFY(script.open(QIODevice::WriteOnly));
        script.write(batchScript(b).toUtf8());
        script.close();
        const auto run = [&] {
            QProcess bash;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert(QStringLiteral("PATH"), bin + ':' + env.value(QStringLiteral("PATH")));
            bash.setProcessEnvironment(env);
            bash.setWorkingDirectory(QStringLiteral("/"));
            bash.start(QStringLiteral("bash"), {script.fileName()});
            bash.waitForFinished(30000);
            QFile argv(dir + QStringLiteral("/argv"));
            argv.open(QIODevice::ReadOnly);
            return QString::fromUtf8(argv.readAll()).split('\n', Qt::SkipEmptyParts);
        };
        QProcess syntax;
        syntax.start(QStringLiteral("bash"), {QStringLiteral("-n"), script.fileName()});
        QVERIFY(syntax.waitForFinished(10000));
        QCOMPARE(syntax.exitCode(), 0);

        const QStringList engineArgs{QStringLiteral("bcd-train"), QStringLiteral("train"),
                                     QStringLiteral("--config"),
                                     dir + QStringLiteral("/launch.json")};
        QStringList argv = run();
        QCOMPARE(argv.mid(argv.indexOf(QStringLiteral("bcd-train"))), engineArgs);
        QFile(dir + QStringLiteral("/run.json")).open(QIODevice::WriteOnly);
        argv = run();
        QCOMPARE(argv.mid(argv.indexOf(QStringLiteral("bcd-train"))),
                 engineArgs + QStringList{QStringLiteral("--resume")});
    }

    void hostileSettingsRefused_data() {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("value");
        QTest::newRow("partition ;") << "partition"
                                     << "gpu;touch PWNED";
        QTest::newRow("partition newline") << "partition"
                                           << "gpu\n#SBATCH --wrap=id";
        QTest::newRow("partition space") << "partition"
                                         << "gpu debug";
        QTest::newRow("account $()") << "account"
                                     << "$(id)";
        QTest::newRow("qos backtick") << "qos"
                                      << "`id`";
        QTest::newRow("time &&") << "time"
                                 << "1:00 && id";
        QTest::newRow("time words") << "time"
                                    << "an hour";
        QTest::newRow("extra not #SBATCH") << "extra"
                                           << "touch PWNED";
        QTest::newRow("extra $()") << "extra"
                                   << "#SBATCH --comment=$(touch PWNED)";
        QTest::newRow("extra quote") << "extra"
                                     << "#SBATCH --comment='x'";
        QTest::newRow("extra two lines") << "extra"
                                         << "#SBATCH --hold\ntouch PWNED";
        QTest::newRow("extra owned --output") << "extra"
                                              << "#SBATCH --output=/etc/passwd";
        QTest::newRow("extra owned --chdir") << "extra"
                                             << "#SBATCH --chdir=/";
        QTest::newRow("extra short option") << "extra"
                                            << "#SBATCH -o /tmp/x";
    }

    void hostileSettingsRefused() {
        QFETCH(QString, field);
        QFETCH(QString, value);
        BatchJob b = fullJob();
        if (field == QLatin1String("partition")) b.job.partition = value;
        if (field == QLatin1String("account")) b.job.account = value;
        if (field == QLatin1String("qos")) b.job.qos = value;
        if (field == QLatin1String("time")) b.job.timeLimit = value;
        if (field == QLatin1String("extra")) b.job.extraLines = {value};
        const QString why = refusal(b);
        QVERIFY2(!why.isEmpty(), "accepted");
        QVERIFY2(why.contains(field == QLatin1String("extra") ? QStringLiteral("#SBATCH") : field),
                 qPrintable(why));
        QCOMPARE(b.job.validate().isEmpty(), false);
    }

    void hostilePathsRefused() {
        BatchJob b = fullJob();
        b.runDir = QStringLiteral("/shared/my runs/12-x");
        QVERIFY(refusal(b).contains(QLatin1String("run folder")));
        b.runDir = QStringLiteral("/shared/$(id)/12-x");
        QVERIFY(refusal(b).contains(QLatin1String("run folder")));
        b.runDir = QStringLiteral("relative/12-x");
        QVERIFY(refusal(b).contains(QLatin1String("run folder")));
        b = fullJob();
        b.engine = QStringLiteral("bcd-train; id");
        QVERIFY(refusal(b).contains(QLatin1String("engine")));
        b = fullJob();
        b.mpi = QStringLiteral("pmix --wrap=id");
        QVERIFY(refusal(b).contains(QLatin1String("mpi")));
    }

    void hostileRunNameIsHarmless() {
        BatchJob b = fullJob();
        b.runName = QStringLiteral("x'; touch PWNED; echo '$(id)\n#SBATCH --wrap=id");
        const QString s = batchScript(b);
        QVERIFY2(
            s.contains(QLatin1String("#SBATCH --job-name=bcd-12-x-touch-PWNED-echo-id-SBATCH")),
            qPrintable(s));
        // The name's line break did not make a line: sbatch reads options only at a line's start.
        QCOMPARE(s.count(QLatin1String("\n#SBATCH --wrap")), 0);
        QCOMPARE(s.count('\n'), batchScript(fullJob()).count('\n'));
    }

    void jobDefaultsRoundTrip() {
        const nodes::SlurmJobDefaults d = fullJob().job;
        const nodes::SlurmJobDefaults back = nodes::SlurmJobDefaults::fromJson(d.toJson());
        QCOMPARE(back.toJson(), d.toJson());
        QCOMPARE(back.extraLines, d.extraLines);
        QVERIFY(d.validate().isEmpty());
        QCOMPARE(d.summary(),
                 QStringLiteral("partition gpu, 2 GPU(s)/node, time 4:00:00, account lab, qos "
                                "normal"));
        for (const char* ok : {"30", "4:00:00", "2-00:00:00", "1-12", "UNLIMITED", "0:30"})
            QVERIFY2(nodes::isSlurmTimeLimit(QLatin1String(ok)), ok);
    }

    void sinfoOfTheTestCluster() {
        int skipped = -1;
        const auto parts =
            nodes::parseSinfo(fixture("one-node-two-partitions_22.05.stdout"), &skipped);
        QCOMPARE(skipped, 0);
        QCOMPARE(parts.size(), 2);
        QCOMPARE(parts[0].name, QStringLiteral("cpu"));
        QVERIFY(parts[0].isDefault);
        QCOMPARE(parts[0].timeLimit, QStringLiteral("infinite"));
        QCOMPARE(parts[1].name, QStringLiteral("gpu"));
        QVERIFY(!parts[1].isDefault);
        QCOMPARE(parts[1].gpusPerNode, 2);
        QCOMPARE(parts[1].gpuType, QStringLiteral("tiny"));
        QCOMPARE(parts[1].cpusPerNode, 8);
        QCOMPARE(parts[1].memoryMiBPerNode, 4000);
        QCOMPARE(parts[1].states, QStringList{QStringLiteral("inval:1")});
    }

    void sinfoOfALabCluster() {
        int skipped = -1;
        const auto parts = nodes::parseSinfo(fixture("lab-cluster_constructed.stdout"), &skipped);
        QCOMPARE(skipped, 1);
        QStringList names;
        for (const auto& p : parts) names << p.name;
        QCOMPARE(names,
                 (QStringList{QStringLiteral("gpu"), QStringLiteral("debug"), QStringLiteral("cpu"),
                              QStringLiteral("h100"), QStringLiteral("mixed")}));
        QCOMPARE(parts[0].nodes, 3);
        QCOMPARE(parts[0].states,
                 (QStringList{QStringLiteral("allocated:1"), QStringLiteral("drained:1"),
                              QStringLiteral("mixed:1")}));
        QCOMPARE(parts[0].gpusPerNode, 4);
        QCOMPARE(parts[0].gpuType, QStringLiteral("a100"));
        QCOMPARE(parts[0].timeLimit, QStringLiteral("2-00:00:00"));
        QCOMPARE(parts[2].gpusPerNode, 0);
        QCOMPARE(parts[2].states,
                 (QStringList{QStringLiteral("idle:2")})); // "idle~" (powered down) is idle
        QVERIFY(!parts[3].up);
        QCOMPARE(parts[3].gpusPerNode, 8);
        QCOMPARE(parts[3].gpuType, QStringLiteral("h100"));
        // Two kinds of node: what every node has.
        QCOMPARE(parts[4].gpusPerNode, 2);
        QCOMPARE(parts[4].cpusPerNode, 32);
        QCOMPARE(parts[4].memoryMiBPerNode, 128000);
        QCOMPARE(parts[4].gpuType, QStringLiteral("a100"));
        // The probe record keeps them.
        nodes::NodeProbe p;
        p.slurmVersion = QStringLiteral("23.02.7");
        p.partitions = parts;
        const nodes::NodeProbe back = nodes::NodeProbe::fromJson(p.toJson());
        QCOMPARE(back.partitions.size(), parts.size());
        QCOMPARE(back.partitions[3].toJson(), parts[3].toJson());
        QVERIFY2(back.summary().startsWith(QLatin1String("Slurm 23.02.7, 5 partition(s): gpu "
                                                         "(default): 3 node(s)")),
                 qPrintable(back.summary()));
    }

    void gres() {
        QString type;
        QCOMPARE(nodes::gresGpus(QStringLiteral("gpu:a100:4(S:0-1),nvme:1"), &type), 4);
        QCOMPARE(type, QStringLiteral("a100"));
        QCOMPARE(nodes::gresGpus(QStringLiteral("gpu:2")), 2);
        QCOMPARE(nodes::gresGpus(QStringLiteral("gpu:a100:2,gpu:v100:1")), 3);
        QCOMPARE(nodes::gresGpus(QStringLiteral("(null)")), 0);
        QCOMPARE(nodes::gresGpus(QStringLiteral("nvme:1,mps:100")), 0);
        QCOMPARE(nodes::parseSlurmVersion("slurm-wlm 22.05.8\n"), QStringLiteral("22.05.8"));
        QCOMPARE(nodes::parseSlurmVersion("slurm 23.11.4\n"), QStringLiteral("23.11.4"));
        QVERIFY(nodes::parseSlurmVersion("bash: sinfo: command not found").isEmpty());
    }

    void answersOfSlurm() {
        using namespace plugins::slurm;
        QCOMPARE(parseSbatchJobId("42\n"), QStringLiteral("42"));
        QCOMPARE(parseSbatchJobId("42;bcdtest\n"), QStringLiteral("42"));
        QVERIFY(parseSbatchJobId("sbatch: error: invalid partition specified: x\n").isEmpty());
        const auto pending = parseSqueue("PENDING|JobHeldUser\n");
        QVERIFY(pending);
        QCOMPARE(pending->state, QStringLiteral("PENDING"));
        QCOMPARE(pending->reason, QStringLiteral("JobHeldUser"));
        QVERIFY(jobAlive(pending->state));
        QVERIFY(!parseSqueue(""));
        const auto cancelled = parseSacct("CANCELLED by 0|None\n");
        QVERIFY(cancelled);
        QCOMPARE(cancelled->state, QStringLiteral("CANCELLED"));
        QVERIFY(!jobAlive(cancelled->state));
        for (const char* s : {"COMPLETED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"})
            QVERIFY2(!jobAlive(QLatin1String(s)), s);
        for (const char* s : {"RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED"})
            QVERIFY2(jobAlive(QLatin1String(s)), s);
        QVERIFY(squeueSaysUnknownJob("slurm_load_jobs error: Invalid job id specified\n"));
        QVERIFY(!squeueSaysUnknownJob("squeue: error: Unable to contact slurm controller\n"));
        QCOMPARE(scancelCommand(QStringLiteral("42"), SIGTERM).text(),
                 QStringLiteral("scancel 42"));
        QCOMPARE(scancelCommand(QStringLiteral("42"), SIGKILL).text(),
                 QStringLiteral("scancel --signal=KILL --full 42"));
    }

    void finalStateOfAJob() {
        const QByteArray cancelled =
            R"({"state":"cancelled","message":"cancelled at step 40; checkpoint written","step":40})";
        const QByteArray finished = R"({"state":"finished","message":"","step":100})";
        // The time limit: failed, whatever the engine wrote as it was stopped; resumable.
        launch::FinalState f =
            launch::finalState(cancelled, std::nullopt, false, false, QStringLiteral("TIMEOUT"),
                               QStringLiteral("TimeLimit"));
        QCOMPARE(f.status, QStringLiteral("failed"));
        QVERIFY2(f.message.contains(QLatin1String("time limit (TIMEOUT)")) &&
                     f.message.contains(QLatin1String("checkpoint written")) &&
                     f.message.contains(QLatin1String("resume")),
                 qPrintable(f.message));
        f = launch::finalState(std::nullopt, std::nullopt, false, false,
                               QStringLiteral("OUT_OF_MEMORY"), {});
        QCOMPARE(f.status, QStringLiteral("failed"));
        QVERIFY(f.message.contains(QLatin1String("memory")));
        // A finished engine wins over a job state that came after it.
        f = launch::finalState(finished, std::nullopt, false, false, QStringLiteral("TIMEOUT"), {});
        QCOMPARE(f.status, QStringLiteral("finished"));
        // Cancelled while queued (by the workbench's scancel): no status at all.
        f = launch::finalState(std::nullopt, std::nullopt, false, true, QStringLiteral("CANCELLED"),
                               QStringLiteral("None"));
        QCOMPARE(f.status, QStringLiteral("cancelled"));
        QCOMPARE(f.message,
                 QStringLiteral("the job was cancelled before the engine wrote a final status"));
        // scancel of a running job: the engine's own cancelled status.
        f = launch::finalState(cancelled, std::nullopt, false, true, QStringLiteral("CANCELLED"),
                               {});
        QCOMPARE(f.status, QStringLiteral("cancelled"));
        QCOMPARE(f.message, QStringLiteral("cancelled at step 40; checkpoint written"));
        f = launch::finalState(std::nullopt, std::nullopt, false, false, QStringLiteral("FAILED"),
                               QStringLiteral("NonZeroExitCode"));
        QCOMPARE(f.status, QStringLiteral("failed"));
        QVERIFY(f.message.contains(QLatin1String("FAILED (NonZeroExitCode)")));
    }
};

QTEST_APPLESS_MAIN(TestSlurmJobs)
#include "tst_slurm_jobs.moc"
