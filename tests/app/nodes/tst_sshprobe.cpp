// The SSH probe (app/nodes/ssh_probe.cpp) of a node reached through a real OpenSSH server: this
// machine (no nvidia-smi: CPU-only, with the reason), then the same node with a stand-in
// nvidia-smi on the sessions' PATH that prints a captured output (tests/app/fixtures/nvidia-smi).

#include "nodes/local_probe.h"
#include "nodes/nvidia_smi.h"
#include "nodes/ssh_probe.h"
#include "sshd_fixture.h"
#include "test_runs.h"

#include <QDir>
#include <QFile>
#include <QStandardPaths>
#include <QSysInfo>
#include <QTest>

using bcd::nodes::NodeProbe;
using bcd::nodes::SshSession;

class TestSshProbe : public QObject {
    Q_OBJECT
private:
    bcd::test::SshdFixture sshd_;
    QString base_;
    std::unique_ptr<SshSession> ssh_;

    // nvidia-smi on the node's PATH, printing a fixture's output and exiting with its status.
    void fakeNvidiaSmi(const QString& fixture) {
        const QString dir = QStringLiteral(BCD_NVIDIA_SMI_FIXTURES "/");
        const QString script = sshd_.binDir() + QStringLiteral("/nvidia-smi");
        QFile f(script);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        QByteArray text = "#!/bin/sh\n";
        // The probe asks for exactly the fields the parser reads.
        text += "[ \"$*\" = '" + bcd::nodes::nvidiaSmiCommand().section(' ', 1).toUtf8() +
                "' ] || { echo \"unexpected: $*\" >&2; exit 99; }\n";
        for (const char* stream : {"stdout", "stderr"})
            if (QFile::exists(dir + fixture + '.' + QLatin1String(stream)))
                text += "cat '" + (dir + fixture + '.' + QLatin1String(stream)).toUtf8() + "'" +
                        (QByteArray(stream) == "stderr" ? " >&2" : "") + "\n";
        QFile status(dir + fixture + QStringLiteral(".status"));
        QVERIFY(status.open(QIODevice::ReadOnly));
        text += "exit " + status.readAll().trimmed() + "\n";
        f.write(text);
        f.close();
        QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
    }

private slots:
    void initTestCase() {
        base_ = bcd::test::freshDir(QStringLiteral("sshprobe"));
        if (!sshd_.start(base_ + QStringLiteral("/sshd"))) QSKIP(qPrintable(sshd_.skipReason()));
        const QString known = base_ + QStringLiteral("/known_hosts");
        QFile k(known);
        QVERIFY(k.open(QIODevice::WriteOnly));
        k.write(sshd_.knownHostsLine().toUtf8());
        k.close();
        ssh_ = std::make_unique<SshSession>(sshd_.endpoint(known));
    }
    void cleanupTestCase() { ssh_.reset(); }

    void cpuOnlyNodeWithEngine() {
        if (!QStandardPaths::findExecutable(QStringLiteral("nvidia-smi"),
                                            {QStringLiteral("/usr/local/bin"),
                                             QStringLiteral("/usr/bin"), QStringLiteral("/bin"),
                                             QStringLiteral("/usr/sbin"), QStringLiteral("/sbin")})
                 .isEmpty())
            QSKIP("nvidia-smi is installed here: this node is not CPU-only");
        QFile::remove(sshd_.binDir() + QStringLiteral("/nvidia-smi"));
        const NodeProbe p = bcd::nodes::probeOverSsh(*ssh_, bcd::test::trainExe());
        QVERIFY(p.cpuOnly());
        QCOMPARE(p.gpuSource, QStringLiteral("nvidia-smi"));
        QCOMPARE(p.gpuNote, QStringLiteral("nvidia-smi not found (no NVIDIA driver)"));
        QVERIFY(p.driver.isEmpty());
        QCOMPARE(p.engine, bcd::test::trainExe());
        QCOMPARE(p.engineVersion, QStringLiteral(BCD_PROJECT_VERSION));
        QVERIFY(p.engineNote.isEmpty());
        QVERIFY2(p.summary().startsWith(
                     QLatin1String("CPU-only (nvidia-smi not found (no NVIDIA driver)); ")),
                 qPrintable(p.summary()));

        // The node is this machine: what the local probe reads from /proc, the remote one reads
        // too.
        NodeProbe local;
        bcd::nodes::fillLocalCpu(&local);
        QCOMPARE(p.cpuThreads, local.cpuThreads);
        QCOMPARE(p.memoryBytes, local.memoryBytes);
        QCOMPARE(p.cpuName, local.cpuName);
        QCOMPARE(p.arch, QSysInfo::currentCpuArchitecture());
    }

    void engineMissing() {
        const NodeProbe p =
            bcd::nodes::probeOverSsh(*ssh_, QStringLiteral("bcd-train-not-installed"));
        QVERIFY(p.engineVersion.isEmpty());
        QCOMPARE(p.engineNote, QStringLiteral("bcd-train-not-installed not found"));
        QVERIFY2(p.summary().endsWith(QLatin1String("; engine: bcd-train-not-installed not found")),
                 qPrintable(p.summary()));
    }

    // A path with spaces and quotes reaches the remote shell as one word.
    void enginePathNeedingQuotes() {
        const QString dir = base_ + QStringLiteral("/it's an \"engine\" $(dir)");
        QVERIFY(QDir().mkpath(dir));
        const QString engine = dir + QStringLiteral("/bcd-train; touch MARKER");
        QFile::remove(engine);
        QVERIFY(QFile::link(bcd::test::trainExe(), engine));
        QString note;
        QCOMPARE(bcd::nodes::remoteEngineVersion(*ssh_, engine, &note),
                 QStringLiteral(BCD_PROJECT_VERSION));
        QVERIFY(note.isEmpty());
        QVERIFY(!QFile::exists(QDir::homePath() + QStringLiteral("/MARKER")));
    }

    // Runs but is no engine: the exit status and the last line of stderr.
    void engineThatFails() {
        const QString fake = base_ + QStringLiteral("/broken-engine");
        QFile f(fake);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write("#!/bin/sh\necho 'loading' >&2\necho 'error: libopenblas.so.0: cannot open shared "
                "object file' >&2\nexit 3\n");
        f.close();
        QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
        QString note;
        QVERIFY(bcd::nodes::remoteEngineVersion(*ssh_, fake, &note).isEmpty());
        QCOMPARE(note, fake + QStringLiteral(" --version failed (exit 3): error: libopenblas.so.0: "
                                             "cannot open shared object file"));
    }

    void gpuNode_data() {
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<int>("gpus");
        QTest::addColumn<QString>("summary");
        QTest::newRow("8x A100")
            << "a100-sxm4-80gb-x8_535" << 8
            << "8 GPU(s): 8× NVIDIA A100-SXM4-80GB 80 GiB, driver 535.129.03; ";
        QTest::newRow("mixed") << "mixed-a6000-3090-t400_535" << 4
                               << "4 GPU(s): 2× NVIDIA RTX A6000 48 GiB, NVIDIA GeForce RTX 3090 "
                                  "24 GiB, NVIDIA T400 4GB 4 GiB, "
                                  "driver 535.154.05; ";
        QTest::newRow("no devices")
            << "no-devices" << 0
            << "CPU-only (no NVIDIA GPU found (nvidia-smi: No devices were found)); ";
        QTest::newRow("driver mismatch")
            << "driver-mismatch" << 0
            << "CPU-only (nvidia-smi failed (exit 18): Failed to initialize NVML: Driver/library "
               "version mismatch); ";
    }
    void gpuNode() {
        QFETCH(QString, fixture);
        QFETCH(int, gpus);
        QFETCH(QString, summary);
        fakeNvidiaSmi(fixture);
        if (QTest::currentTestFailed()) return;
        const NodeProbe p = bcd::nodes::probeOverSsh(*ssh_, bcd::test::trainExe());
        QCOMPARE(p.gpus.size(), gpus);
        QVERIFY2(p.summary().startsWith(summary), qPrintable(p.summary()));
        QCOMPARE(p.engineVersion, QStringLiteral(BCD_PROJECT_VERSION));
        // What the store keeps reads back the same.
        QCOMPARE(NodeProbe::fromJson(p.toJson()).summary(), p.summary());
    }
};

QTEST_GUILESS_MAIN(TestSshProbe)
#include "tst_sshprobe.moc"
