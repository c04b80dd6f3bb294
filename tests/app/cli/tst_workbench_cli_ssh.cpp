// bcd-workbench's command line against a real OpenSSH server (the fixture's sshd on 127.0.0.1):
// host keys at `node add` (unknown: refused with the fingerprint, exit 2; accepted on request;
// changed: always refused); CPU training launched over SSH with the node's engine and with the
// engine uploaded; the workbench killed mid-run and re-attached; cancel with a checkpoint; a
// hostile run name; several nodes (mpirun: a live 2-rank run where OpenMPI is installed).

#include "cli_scenarios.h"
#include "sshd_fixture.h"

#include <QStandardPaths>
#include <QTcpServer>
#include <QTest>

using namespace bcd;
using test::CliResult;
using test::runCli;

class TestCliSsh : public QObject {
    Q_OBJECT

    test::SshdFixture sshd_;
    QString dir_, model_, db_, knownHosts_;
    qint64 sshRun_ = 0; // launchWithNodeEngine's finished run on node n1

    CliResult cli(const QStringList& args, int timeoutMs = 120000) const {
        return runCli(QStringList{QStringLiteral("--db"), db_} + args, timeoutMs);
    }

    // node add NAME for the fixture's server, with its user key; more: --engine, --run-root ...
    QStringList nodeAdd(const QString& name, const QString& knownHosts,
                        const QStringList& more = {}) const {
        return QStringList{QStringLiteral("node"),
                           QStringLiteral("add"),
                           name,
                           QStringLiteral("--host"),
                           QStringLiteral("127.0.0.1"),
                           QStringLiteral("--port"),
                           QString::number(sshd_.port()),
                           QStringLiteral("--user"),
                           sshd_.user(),
                           QStringLiteral("--identity"),
                           sshd_.userKey(),
                           QStringLiteral("--known-hosts"),
                           knownHosts} +
               more;
    }

    QString runRoot(const QString& name) const {
        return dir_ + QStringLiteral("/remote runs/") + name;
    }

    // A node for the run tests, added (and its host key accepted) unless nodeAddHostKeys did.
    void requireNode(const QString& name = QStringLiteral("n1")) {
        const CliResult list =
            cli({QStringLiteral("node"), QStringLiteral("list"), QStringLiteral("--json")});
        for (const QJsonValue& v : QJsonDocument::fromJson(list.out).array())
            if (v.toObject().value(QLatin1String("name")).toString() == name) return;
        const CliResult add =
            cli(nodeAdd(name, knownHosts_,
                        {QStringLiteral("--accept-new-host-key"), QStringLiteral("--engine"),
                         test::trainExe(), QStringLiteral("--run-root"), runRoot(name)}));
        QVERIFY2(add.code == 0, add.err.constData());
    }

private slots:
    void initTestCase() {
        dir_ = test::freshDir(QStringLiteral("cli-ssh"));
        if (!sshd_.start(dir_ + QStringLiteral("/sshd"))) QSKIP(qPrintable(sshd_.skipReason()));
        model_ = test::tinyModel(dir_);
        QVERIFY2(!model_.isEmpty(), "bcd-train init --preset tiny failed");
        db_ = dir_ + QStringLiteral("/store.sqlite");
        knownHosts_ = dir_ + QStringLiteral("/known_hosts");
    }

    void nodeAddHostKeys() {
        // Unknown key: refused, with the fingerprint to check; nothing stored, nothing trusted.
        const CliResult unknown = cli(nodeAdd(QStringLiteral("n1"), knownHosts_,
                                              {QStringLiteral("--engine"), test::trainExe()}));
        QVERIFY2(unknown.code == 2,
                 (QByteArray::number(unknown.code) + ' ' + unknown.err).constData());
        QCOMPARE(test::lastErrLine(unknown).first, 1);
        QVERIFY2(unknown.err.contains(sshd_.hostFingerprint().toUtf8()), unknown.err.constData());
        QVERIFY2(unknown.err.contains("--accept-new-host-key"), unknown.err.constData());
        QVERIFY(!QFile::exists(knownHosts_) || QFileInfo(knownHosts_).size() == 0);
        CliResult list =
            cli({QStringLiteral("node"), QStringLiteral("list"), QStringLiteral("--json")});
        QCOMPARE(list.code, 0);
        QCOMPARE(QJsonDocument::fromJson(list.out).array().size(), 1); // local only

        // Accepted with another fingerprint than the server's: refused all the same.
        const CliResult wrongPrint = cli(nodeAdd(
            QStringLiteral("n1"), knownHosts_,
            {QStringLiteral(
                "--accept-new-host-key=SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}));
        QVERIFY2(wrongPrint.code == 2, wrongPrint.err.constData());
        QVERIFY(!QFile::exists(knownHosts_) || QFileInfo(knownHosts_).size() == 0);

        // Accepted: stored in known_hosts, the node added and probed (its engine runs there).
        const CliResult accepted =
            cli(nodeAdd(QStringLiteral("n1"), knownHosts_,
                        {QStringLiteral("--accept-new-host-key=") + sshd_.hostFingerprint(),
                         QStringLiteral("--engine"), test::trainExe(), QStringLiteral("--run-root"),
                         runRoot(QStringLiteral("n1"))}));
        QVERIFY2(accepted.code == 0, accepted.err.constData());
        QVERIFY2(accepted.out.contains(sshd_.hostFingerprint().toUtf8()) &&
                     accepted.out.contains("accepted"),
                 accepted.out.constData());
        QVERIFY(QFileInfo(knownHosts_).size() > 0);
        const CliResult probe = cli({QStringLiteral("node"), QStringLiteral("probe"),
                                     QStringLiteral("n1"), QStringLiteral("--json")});
        QVERIFY2(probe.code == 0, probe.err.constData());
        const QJsonObject p =
            QJsonDocument::fromJson(probe.out).object().value(QLatin1String("probe")).toObject();
        QCOMPARE(
            p.value(QLatin1String("engine")).toObject().value(QLatin1String("version")).toString(),
            QStringLiteral("0.1.0"));
        QCOMPARE(p.value(QLatin1String("cpu_only")).toBool(), true);

        // Known now: a second node on the same server needs no acceptance.
        const CliResult second =
            cli(nodeAdd(QStringLiteral("n2"), knownHosts_, {QStringLiteral("--no-probe")}));
        QVERIFY2(second.code == 0, second.err.constData());
        QVERIFY(!second.out.contains("accepted"));

        // Changed key (known_hosts holds another key for this host and port): refused, even when
        // asked to accept new keys; the file is left as it was.
        const QString changed = dir_ + QStringLiteral("/known_hosts_changed");
        {
            QFile f(changed);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(sshd_.otherKnownHostsLine().toUtf8());
        }
        QFile before(changed);
        QVERIFY(before.open(QIODevice::ReadOnly));
        const QByteArray original = before.readAll();
        for (const QStringList& more :
             {QStringList{}, QStringList{QStringLiteral("--accept-new-host-key")}}) {
            const CliResult r = cli(nodeAdd(QStringLiteral("n3"), changed, more));
            QVERIFY2(r.code == 2, (QByteArray::number(r.code) + ' ' + r.err).constData());
            QCOMPARE(test::lastErrLine(r).first, 1);
            QVERIFY2(r.err.contains("CHANGED"), r.err.constData());
            QFile after(changed);
            QVERIFY(after.open(QIODevice::ReadOnly));
            QCOMPARE(after.readAll(), original);
        }
        list = cli({QStringLiteral("node"), QStringLiteral("list"), QStringLiteral("--json")});
        QStringList names;
        for (const QJsonValue& v : QJsonDocument::fromJson(list.out).array())
            names << v.toObject().value(QLatin1String("name")).toString();
        QCOMPARE(names, (QStringList{QStringLiteral("local"), QStringLiteral("n1"),
                                     QStringLiteral("n2")}));
    }

    // Not a refusal but a failure (exit 1): a key the server does not accept, a port where no
    // server listens. One line each; nothing stored.
    void nodeAddFailures() {
        QStringList args =
            nodeAdd(QStringLiteral("denied"), knownHosts_,
                    {QStringLiteral("--accept-new-host-key"), QStringLiteral("--no-probe")});
        args[args.indexOf(sshd_.userKey())] = sshd_.wrongUserKey();
        const CliResult denied = cli(args);
        QVERIFY2(denied.code == 1,
                 (QByteArray::number(denied.code) + ' ' + denied.err).constData());
        QCOMPARE(test::lastErrLine(denied).first, 1);

        QTcpServer closed; // a free port, then nobody listens there
        QVERIFY(closed.listen(QHostAddress::LocalHost, 0));
        const quint16 port = closed.serverPort();
        closed.close();
        QStringList unreachable =
            nodeAdd(QStringLiteral("gone"), knownHosts_,
                    {QStringLiteral("--accept-new-host-key"), QStringLiteral("--no-probe")});
        unreachable[unreachable.indexOf(QString::number(sshd_.port()))] = QString::number(port);
        const CliResult gone = cli(unreachable);
        QVERIFY2(gone.code == 1, (QByteArray::number(gone.code) + ' ' + gone.err).constData());
        QCOMPARE(test::lastErrLine(gone).first, 1);

        const CliResult list =
            cli({QStringLiteral("node"), QStringLiteral("list"), QStringLiteral("--json")});
        for (const QJsonValue& v : QJsonDocument::fromJson(list.out).array()) {
            const QString name = v.toObject().value(QLatin1String("name")).toString();
            QVERIFY2(name != QLatin1String("denied") && name != QLatin1String("gone"),
                     qPrintable(name));
        }
    }

    // CPU training on the node, with the node's engine (--engine): finished, every step once.
    void launchWithNodeEngine() {
        requireNode();
        if (QTest::currentTestFailed()) return;
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/ssh-a.json"), model_, 30);
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("n1")});
        QVERIFY2(r.code == 0, r.err.constData());
        bool ok = false;
        const qint64 id = r.lastLine().toLongLong(&ok);
        QVERIFY2(ok && id > 0, r.out.constData());
        const QJsonObject show = test::showRun(db_, id);
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(show.value(QLatin1String("node")).toString(), QStringLiteral("n1"));
        const QString runDir = show.value(QLatin1String("run_dir")).toString();
        QCOMPARE(runDir, QFileInfo(runRoot(QStringLiteral("n1"))).canonicalFilePath() +
                             QStringLiteral("/%1-ssh-a").arg(id));
        const QString bad = test::checkStepsExactlyOnce(show, 30);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        // The inputs were uploaded into the run folder; the engine read them there.
        const QJsonObject launched = test::readJsonFile(runDir + QStringLiteral("/launch.json"));
        QVERIFY(launched.value(QLatin1String("model"))
                    .toObject()
                    .value(QLatin1String("path"))
                    .toString()
                    .startsWith(runDir + QStringLiteral("/inputs/")));
        QVERIFY(QFile::exists(runDir + QStringLiteral("/final/model.safetensors")));
        sshRun_ = id;
    }

    // run checkpoints and run sample on the SSH node: listed there, sampled there by the node's
    // engine, the same text as the engine prints for that checkpoint here (the node is this
    // machine, so its folder is readable here too).
    void sampleOnTheNode() {
        if (sshRun_ <= 0) QSKIP("launchWithNodeEngine did not leave a run");
        const QString id = QString::number(sshRun_);
        const CliResult list = cli({"run", "checkpoints", id});
        QVERIFY2(list.code == 0, list.err.constData());
        QCOMPARE(list.out, QByteArray("final\n"));
        const QStringList settings{"--max-new", "30", "--temperature", "1.0", "--seed", "9"};
        const CliResult s = cli(
            QStringList{"run", "sample", id, "--prompt", "Good morrow", "--checkpoint", "final"} +
            settings);
        QVERIFY2(s.code == 0, s.err.constData());
        const QString runDir = test::showRun(db_, sshRun_)["run_dir"].toString();
        QProcess engine;
        engine.start(test::trainExe(), QStringList{"sample", "--model", runDir + "/final",
                                                   "--prompt", "Good morrow"} +
                                           settings);
        QVERIFY(engine.waitForFinished(60000));
        QCOMPARE(s.out, engine.readAllStandardOutput());
        const CliResult missing =
            cli({"run", "sample", id, "--prompt", "x", "--checkpoint", "step-00000005"});
        QCOMPARE(missing.code, 2);
        QVERIFY2(missing.err.contains("on node n1 has no checkpoint 'step-00000005'"),
                 missing.err.constData());
    }

    // run fork of a run on the SSH node: its checkpoints are listed there and the fork trains
    // there from the checkpoint's folder on the node; forking it onto another node is refused.
    void forkOnTheNode() {
        if (sshRun_ <= 0) QSKIP("launchWithNodeEngine did not leave a run");
        const QString id = QString::number(sshRun_);
        const QString runDir = test::showRun(db_, sshRun_)["run_dir"].toString();
        const CliResult elsewhere = cli({"run", "fork", id, "--node", "local"});
        QCOMPARE(elsewhere.code, 2);
        QVERIFY2(elsewhere.err.contains("checkpoints are on node n1: fork it there"),
                 elsewhere.err.constData());
        const CliResult missing = cli({"run", "fork", id, "--checkpoint", "step-00000099"});
        QCOMPARE(missing.code, 2);
        QVERIFY2(missing.err.contains("no complete checkpoint 'step-00000099'") &&
                     missing.err.contains("final"),
                 missing.err.constData());
        const CliResult f = cli({"run", "fork", id, "--set", "train.steps=4"});
        QVERIFY2(f.code == 0, f.err.constData());
        const QJsonObject show = test::showRun(db_, f.lastLine().toLongLong());
        QCOMPARE(show["status"].toString(), QStringLiteral("finished"));
        QCOMPARE(show["node"].toString(), QStringLiteral("n1"));
        QVERIFY(test::checkStepsExactlyOnce(show, 4).isEmpty());
        // The fork's config names the checkpoint's folder on the node (this machine here, so the
        // launcher may also copy it into the fork's inputs: either way it trains from it).
        QCOMPARE(show["config"].toObject()["model"].toObject()["path"].toString(),
                 runDir + "/final");
        QVERIFY(QFileInfo(runDir + "/final/config.json").isFile());
    }

    // run delete --files removes the run's folder on the SSH node, then the run; the node is
    // this machine, so the folder's absence is seen here.
    void deleteWithFilesOnTheNode() {
        if (sshRun_ <= 0) QSKIP("launchWithNodeEngine did not leave a run");
        const QString id = QString::number(sshRun_);
        const QString runDir = test::showRun(db_, sshRun_)["run_dir"].toString();
        QVERIFY2(QFileInfo(runDir + "/launch.json").isFile(), qPrintable(runDir));
        const CliResult del = cli({"run", "delete", id, "--files"});
        QVERIFY2(del.code == 0, del.err.constData());
        QVERIFY2(
            del.out.contains(QStringLiteral("its folder %1 on n1 removed").arg(runDir).toUtf8()),
            del.out.constData());
        QVERIFY(!QFileInfo::exists(runDir));
        QCOMPARE(cli({"run", "show", id}).code, 2);
        sshRun_ = 0;
    }

    // A node without --engine, and no bcd-train on its PATH: this machine's engine is uploaded.
    void launchUploadsEngine() {
        requireNode();
        if (QTest::currentTestFailed()) return;
        nodes::SshSession ssh(sshd_.endpoint(knownHosts_));
        if (ssh.exec(QStringLiteral("command -v bcd-train")).exitStatus == 0)
            QSKIP("bcd-train is on the node's PATH: nothing would be uploaded");
        const CliResult add =
            cli(nodeAdd(QStringLiteral("bare"), knownHosts_,
                        {QStringLiteral("--run-root"), runRoot(QStringLiteral("bare"))}));
        QVERIFY2(add.code == 0, add.err.constData());
        const QString cfg =
            test::writeConfig(dir_ + QStringLiteral("/ssh-upload.json"), model_, 20);
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("bare")});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject show = test::showRun(db_, r.lastLine().toLongLong());
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
        QVERIFY(test::checkStepsExactlyOnce(show, 20).isEmpty());
        const QString uploaded =
            runRoot(QStringLiteral("bare")) + QStringLiteral("/.engine/0.1.0/bcd-train");
        QVERIFY2(QFileInfo(uploaded).isExecutable(), qPrintable(uploaded));
        QFile a(uploaded), b(test::trainExe());
        QVERIFY(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
        QVERIFY(a.readAll() == b.readAll());
        QVERIFY(test::readJsonFile(show.value(QLatin1String("run_dir")).toString() +
                                   QStringLiteral("/run.json"))
                    .contains(QStringLiteral("engine")));
    }

    void killWorkbenchAndAttach() {
        requireNode();
        if (QTest::currentTestFailed()) return;
        const QString cfg =
            test::writeConfig(dir_ + QStringLiteral("/ssh-long.json"), model_, 4000);
        test::killWorkbenchAndAttach(db_, cfg, QStringLiteral("n1"), 4000);
    }

    // The workbench killed after the engine's spawn on the node, before its pid was stored: the
    // pid the start command left in the run folder there lets a fresh workbench attach.
    void killWorkbenchAfterSpawn() {
        requireNode();
        if (QTest::currentTestFailed()) return;
        const QString cfg =
            test::writeConfig(dir_ + QStringLiteral("/ssh-spawn.json"), model_, 200);
        test::killWorkbenchWhileLaunching(db_, cfg, QStringLiteral("n1"), 200,
                                          QStringLiteral("after-spawn"));
    }

    void cancelWithCheckpoint() {
        requireNode();
        if (QTest::currentTestFailed()) return;
        const QString cfg =
            test::writeConfig(dir_ + QStringLiteral("/ssh-cancel.json"), model_, 5000);
        test::cancelWithCheckpoint(db_, cfg, QStringLiteral("n1"), test::LaunchMode::Detached);
    }

    void hostileName() {
        requireNode();
        if (QTest::currentTestFailed()) return;
        test::hostileName(db_, dir_, model_, QStringLiteral("n1"), QDir::homePath());
    }

    // The node's host key changed after it was added: the launch is refused like bad input
    // (exit 2, one line), nothing starts, known_hosts stays as it is.
    void launchRefusesChangedHostKey() {
        requireNode();
        if (QTest::currentTestFailed()) return;
        const QString known = dir_ + QStringLiteral("/known_hosts_moved");
        QFile::remove(known);
        QVERIFY(QFile::copy(knownHosts_, known));
        const CliResult add =
            cli(nodeAdd(QStringLiteral("moved"), known,
                        {QStringLiteral("--no-probe"), QStringLiteral("--engine"), test::trainExe(),
                         QStringLiteral("--run-root"), runRoot(QStringLiteral("moved"))}));
        QVERIFY2(add.code == 0, add.err.constData());
        {
            QFile f(known);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(sshd_.otherKnownHostsLine().toUtf8());
        }
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/ssh-moved.json"), model_, 10);
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("moved")});
        QVERIFY2(r.code == 2, (QByteArray::number(r.code) + ' ' + r.err).constData());
        const auto [lines, line] = test::lastErrLine(r);
        QCOMPARE(lines, 1);
        QVERIFY2(line.contains("CHANGED"), line.constData());
        QVERIFY(r.out.isEmpty());
        QVERIFY(!QDir(runRoot(QStringLiteral("moved"))).exists()); // nothing reached the node
        QFile f(known);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), sshd_.otherKnownHostsLine().toUtf8());
    }

    // With mpirun on the head: the two node records are both the loopback fixture, so OpenMPI
    // starts both ranks on this machine (its hostfile names 127.0.0.1 twice) and the engine's
    // MPI backend trains one run on them (docs/data-parallel.md). Launched, followed to the end,
    // every step stored once, and the run folder says 2 ranks.
    void severalNodesLive(const QString& cfg) {
#ifndef BCD_ENGINE_WITH_MPI
        QSKIP("mpirun is installed but this bcd-train was built without MPI (BCD_WITH_MPI off)");
#endif
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("n1"), QStringLiteral("--node"),
                 QStringLiteral("n2")},
                300000);
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject show = test::showRun(db_, r.lastLine().toLongLong());
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
        const QString bad = test::checkStepsExactlyOnce(show, 10);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        const QString runDir = show.value(QLatin1String("run_dir")).toString();
        const QJsonObject run = test::readJsonFile(runDir + QStringLiteral("/run.json"));
        QCOMPARE(
            run.value(QLatin1String("plan")).toObject().value(QLatin1String("world_size")).toInt(),
            2);
        QCOMPARE(show.value(QLatin1String("world_size")).toInt(), 2); // stored with the run
        QVERIFY(QFile::exists(runDir + QStringLiteral("/final/model.safetensors")));
    }

    // Two processes on one SSH node (--processes-per-node 2): mpirun on the node over a hostfile
    // "localhost slots=2" (OpenMPI starts both ranks there, no ssh), one run trained to the end,
    // every step stored once, the world size stored and in run.json. A count of 0 is a usage
    // error before anything runs.
    void oneNodeTwoProcesses() {
        requireNode();
        if (QTest::currentTestFailed()) return;
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/ssh-np2.json"), model_, 10);
        const CliResult zero =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("n1"),
                 QStringLiteral("--processes-per-node"), QStringLiteral("0")});
        QVERIFY2(zero.code == 2 && zero.err.contains("--processes-per-node"), zero.err.constData());
        nodes::SshSession ssh(sshd_.endpoint(knownHosts_));
        if (ssh.exec(QStringLiteral("command -v mpirun")).exitStatus != 0)
            QSKIP("skipped: no mpirun on the fixture node (apt install openmpi-bin)");
#ifndef BCD_ENGINE_WITH_MPI
        QSKIP("skipped: this bcd-train was built without MPI (BCD_WITH_MPI off)");
#endif
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("n1"),
                 QStringLiteral("--processes-per-node"), QStringLiteral("2")},
                300000);
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject show = test::showRun(db_, r.lastLine().toLongLong());
        QCOMPARE(show.value(QLatin1String("status")).toString(), QStringLiteral("finished"));
        const QString bad = test::checkStepsExactlyOnce(show, 10);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        QCOMPARE(show.value(QLatin1String("processes_per_node")).toInt(), 2);
        QCOMPARE(show.value(QLatin1String("world_size")).toInt(), 2);
        const QString runDir = show.value(QLatin1String("run_dir")).toString();
        QFile hostfile(runDir + QStringLiteral("/hostfile"));
        QVERIFY(hostfile.open(QIODevice::ReadOnly));
        QCOMPARE(hostfile.readAll(), QByteArray("localhost slots=2\n"));
        const QJsonObject run = test::readJsonFile(runDir + QStringLiteral("/run.json"));
        QCOMPARE(
            run.value(QLatin1String("plan")).toObject().value(QLatin1String("world_size")).toInt(),
            2);
    }

    // A run over two nodes, cancelled, then resumed from the workbench: the resume starts
    // mpirun over the same hosts (the run folder's hostfile); one process would be refused by the
    // engine, whose checkpoint records 2 ranks.
    void severalNodesResume() {
#ifndef BCD_ENGINE_WITH_MPI
        QSKIP("this bcd-train was built without MPI (BCD_WITH_MPI off)");
#endif
        requireNode();
        if (QTest::currentTestFailed()) return;
        requireNode(QStringLiteral("n2"));
        if (QTest::currentTestFailed()) return;
        nodes::SshSession ssh(sshd_.endpoint(knownHosts_));
        if (ssh.exec(QStringLiteral("command -v mpirun")).exitStatus != 0)
            QSKIP("no mpirun on the node (Debian: openmpi-bin)");
        const QString cfg =
            test::writeConfig(dir_ + QStringLiteral("/ssh-multi-resume.json"), model_, 100000);
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("n1"), QStringLiteral("--node"),
                 QStringLiteral("n2"), QStringLiteral("--detach")});
        QVERIFY2(r.code == 0, r.err.constData());
        const qint64 id = r.lastLine().toLongLong();
        const QString runDir = test::showRun(db_, id).value(QLatin1String("run_dir")).toString();
        const QString metrics = runDir + QStringLiteral("/metrics.jsonl");
        const QString status = runDir + QStringLiteral("/status.json");
        auto stopAndCheck = [&](long after) -> long {
            const CliResult c =
                cli({QStringLiteral("run"), QStringLiteral("cancel"), QString::number(id)});
            if (c.code != 0) qWarning("run cancel: %s", c.err.constData());
            const QJsonObject st = test::readJsonFile(status);
            if (st.value(QLatin1String("state")).toString() != QStringLiteral("cancelled"))
                return -1;
            const long step = st.value(QLatin1String("step")).toInteger();
            return step > after ? step : -1;
        };
        QTRY_VERIFY_WITH_TIMEOUT(test::stepRecords(metrics) >= 5, 60000);
        const long first = stopAndCheck(0);
        QVERIFY2(
            first > 0,
            qPrintable(QString::fromUtf8(
                test::readJsonFile(status).value(QLatin1String("message")).toString().toUtf8())));
        const CliResult res = cli({QStringLiteral("run"), QStringLiteral("resume"),
                                   QString::number(id), QStringLiteral("--detach")});
        QVERIFY2(res.code == 0, res.err.constData());
        QTRY_VERIFY_WITH_TIMEOUT(test::stepRecords(metrics) >= first + 5, 60000);
        const long second = stopAndCheck(first);
        QVERIFY2(second > first, "the resumed run did not go on");
        QFile log(runDir + QStringLiteral("/train.log"));
        QVERIFY(log.open(QIODevice::ReadOnly));
        const QByteArray text = log.readAll();
        QCOMPARE(text.count("data parallel: 2 ranks"), 2);
        QVERIFY(text.contains("resumed from"));
        const QString bad = test::checkStepsExactlyOnce(test::showRun(db_, id), second);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
    }

    // Several nodes: one mpirun from the first. Without mpirun on the head the launch fails with
    // a clear message instead of a pid that dies at once; with it, see severalNodesLive.
    void severalNodes() {
        requireNode();
        if (QTest::currentTestFailed()) return;
        requireNode(QStringLiteral("n2"));
        if (QTest::currentTestFailed()) return;
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/ssh-multi.json"), model_, 10);
        const CliResult mixed =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("n1"), QStringLiteral("--node"),
                 QStringLiteral("local")});
        QVERIFY2(mixed.code == 2 && mixed.err.contains("needs SSH nodes"), mixed.err.constData());

        nodes::SshSession ssh(sshd_.endpoint(knownHosts_));
        if (ssh.exec(QStringLiteral("command -v mpirun")).exitStatus == 0) {
            severalNodesLive(cfg);
            return;
        }
        const CliResult r =
            cli({QStringLiteral("run"), QStringLiteral("launch"), QStringLiteral("--config"), cfg,
                 QStringLiteral("--node"), QStringLiteral("n1"), QStringLiteral("--node"),
                 QStringLiteral("n2")});
        QVERIFY2(r.code == 1, (QByteArray::number(r.code) + ' ' + r.err).constData());
        const auto [lines, line] = test::lastErrLine(r);
        QCOMPARE(lines, 1);
        QVERIFY2(line.contains("mpirun is not on its PATH") && line.contains("n1"),
                 line.constData());
        QVERIFY(r.out.isEmpty());
        const CliResult list =
            cli({QStringLiteral("run"), QStringLiteral("list"), QStringLiteral("--json")});
        QJsonObject last;
        for (const QJsonValue& v : QJsonDocument::fromJson(list.out).array())
            if (v.toObject().value(QLatin1String("id")).toInteger() >
                last.value(QLatin1String("id")).toInteger())
                last = v.toObject();
        QCOMPARE(last.value(QLatin1String("status")).toString(), QStringLiteral("failed"));
        QCOMPARE(last.value(QLatin1String("hosts")).toArray(),
                 (QJsonArray{QStringLiteral("n1"), QStringLiteral("n2")}));
        QVERIFY(last.value(QLatin1String("message")).toString().contains(QStringLiteral("mpirun")));
    }
};

QTEST_GUILESS_MAIN(TestCliSsh)
#include "tst_workbench_cli_ssh.moc"
