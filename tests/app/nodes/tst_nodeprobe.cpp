// NodeProbe (app/nodes/node_probe.h): its JSON round trip (the store keeps probes as JSON), the
// one-line summary the CLI and the Nodes page show, and the engine version checks.

#include "nodes/node_probe.h"
#include "nodes/ssh_session.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using bcd::nodes::GpuInfo;
using bcd::nodes::NodeProbe;

namespace {

GpuInfo gpu(int index, const QString& name, qint64 mib, const QString& driver) {
    GpuInfo g;
    g.index = index;
    g.name = name;
    g.uuid = QStringLiteral("GPU-%1").arg(index);
    g.memoryMiB = mib;
    g.driver = driver;
    return g;
}

NodeProbe gpuNode() {
    NodeProbe p;
    GpuInfo a = gpu(0, QStringLiteral("NVIDIA H100 80GB HBM3"), 81559, QStringLiteral("550.90.07"));
    a.memoryUsedMiB = 0; // zero, not unknown
    a.utilization = 0;
    a.computeCapability = QStringLiteral("9.0");
    GpuInfo b = gpu(1, QStringLiteral("NVIDIA H100 80GB HBM3"), 81559, QStringLiteral("550.90.07"));
    b.memoryUsedMiB = 40000; // utilization unknown ("[N/A]")
    p.gpus = {a, b};
    p.gpuSource = QStringLiteral("nvidia-smi");
    p.driver = QStringLiteral("550.90.07");
    p.cpuName = QStringLiteral("Intel(R) Xeon(R) Platinum 8480+ \"quoted\" ünïcødé");
    p.cpuThreads = 224;
    p.memoryBytes = 2164663123968; // 2 TiB: beyond 32 bits
    p.arch = QStringLiteral("x86_64");
    p.engine = QStringLiteral("/opt/bcd/bin/bcd-train");
    p.engineVersion = QStringLiteral("0.1.0");
    return p;
}

void compareGpus(const GpuInfo& a, const GpuInfo& b) {
    QCOMPARE(a.index, b.index);
    QCOMPARE(a.name, b.name);
    QCOMPARE(a.uuid, b.uuid);
    QCOMPARE(a.memoryMiB, b.memoryMiB);
    QCOMPARE(a.memoryUsedMiB, b.memoryUsedMiB);
    QCOMPARE(a.utilization, b.utilization);
    QCOMPARE(a.driver, b.driver);
    QCOMPARE(a.computeCapability, b.computeCapability);
}

void compareProbes(const NodeProbe& a, const NodeProbe& b) {
    QCOMPARE(a.gpus.size(), b.gpus.size());
    for (qsizetype i = 0; i < a.gpus.size(); ++i) {
        compareGpus(a.gpus[i], b.gpus[i]);
        if (QTest::currentTestFailed()) return;
    }
    QCOMPARE(a.gpuSource, b.gpuSource);
    QCOMPARE(a.gpuNote, b.gpuNote);
    QCOMPARE(a.driver, b.driver);
    QCOMPARE(a.cpuName, b.cpuName);
    QCOMPARE(a.cpuThreads, b.cpuThreads);
    QCOMPARE(a.memoryBytes, b.memoryBytes);
    QCOMPARE(a.arch, b.arch);
    QCOMPARE(a.engine, b.engine);
    QCOMPARE(a.engineVersion, b.engineVersion);
    QCOMPARE(a.engineNote, b.engineNote);
    QCOMPARE(a.cpuOnly(), b.cpuOnly());
}

// Through the text the store keeps.
NodeProbe throughText(const NodeProbe& p) {
    const QByteArray text = QJsonDocument(p.toJson()).toJson(QJsonDocument::Compact);
    return NodeProbe::fromJson(QJsonDocument::fromJson(text).object());
}

} // namespace

class TestNodeProbe : public QObject {
    Q_OBJECT
private slots:
    void gpuNodeRoundTrip() {
        const NodeProbe p = gpuNode();
        compareProbes(throughText(p), p);
    }

    void cpuOnlyNodeRoundTrip() {
        NodeProbe p;
        p.gpuSource = QStringLiteral("nvml");
        p.gpuNote = QStringLiteral("libnvidia-ml.so.1 not found (no NVIDIA driver)");
        p.cpuName = QStringLiteral("AMD EPYC 7B13");
        p.cpuThreads = 2;
        p.memoryBytes = 8148606976;
        p.arch = QStringLiteral("x86_64");
        p.engine = QStringLiteral("bcd-train");
        p.engineNote = QStringLiteral("bcd-train not found");
        const NodeProbe back = throughText(p);
        compareProbes(back, p);
        QVERIFY(back.cpuOnly());
    }

    // The keys other readers (CLI --json, scripts) rely on.
    void jsonLayout() {
        const QJsonObject o = gpuNode().toJson();
        QCOMPARE(o.value("cpu_only").toBool(), false);
        QCOMPARE(o.value("gpu_source").toString(), QStringLiteral("nvidia-smi"));
        QCOMPARE(o.value("memory_bytes").toInteger(), 2164663123968);
        QCOMPARE(o.value("cpu").toObject().value("threads").toInt(), 224);
        QCOMPARE(o.value("engine").toObject().value("version").toString(), QStringLiteral("0.1.0"));
        const QJsonArray gpus = o.value("gpus").toArray();
        QCOMPARE(gpus.size(), 2);
        const QJsonObject first = gpus[0].toObject(), second = gpus[1].toObject();
        QCOMPARE(first.value("memory_mib").toInteger(), 81559);
        QCOMPARE(first.value("compute_capability").toString(), QStringLiteral("9.0"));
        QVERIFY(first.contains("utilization"));   // 0 %
        QVERIFY(!second.contains("utilization")); // unknown: absent, not 0
        QVERIFY(!second.contains("compute_capability"));
        QVERIFY(NodeProbe().toJson().value("cpu_only").toBool());
    }

    // Whatever the stored JSON holds (an older layout, damage), reading it gives a probe.
    void fromJsonOfPartialOrWrongTypes() {
        const NodeProbe empty = NodeProbe::fromJson({});
        QVERIFY(empty.cpuOnly());
        QCOMPARE(empty.cpuThreads, 0);
        QVERIFY(empty.engineVersion.isEmpty());
        const QJsonObject odd =
            QJsonDocument::fromJson(
                R"({"gpus": [{"index": "x", "name": 3}, 7], "cpu": "none", "memory_bytes": "big", "engine": []})")
                .object();
        const NodeProbe p = NodeProbe::fromJson(odd);
        QCOMPARE(p.gpus.size(), 2);
        QCOMPARE(p.gpus[0].index, 0);
        QVERIFY(p.gpus[0].name.isEmpty());
        QCOMPARE(p.memoryBytes, 0);
        QVERIFY(!p.summary().isEmpty());
    }

    void summary_data() {
        QTest::addColumn<QJsonObject>("probe");
        QTest::addColumn<QString>("summary");
        NodeProbe cpu;
        cpu.gpuNote = QStringLiteral("libnvidia-ml.so.1 not found (no NVIDIA driver)");
        cpu.cpuName = QStringLiteral("AMD EPYC 7B13");
        cpu.cpuThreads = 2;
        cpu.memoryBytes = 8160437862; // 7.6 GiB
        cpu.engineVersion = QStringLiteral("0.1.0");
        QTest::newRow("cpu-only") << cpu.toJson()
                                  << "CPU-only (libnvidia-ml.so.1 not found (no NVIDIA driver)); "
                                     "AMD EPYC 7B13, 2 threads, "
                                     "7.6 GiB; engine 0.1.0";
        NodeProbe bare;
        bare.engineNote = QStringLiteral("bcd-train not found");
        QTest::newRow("nothing known")
            << bare.toJson() << "CPU-only; CPU, 0 threads, 0.0 GiB; engine: bcd-train not found";
        NodeProbe noEngine = cpu;
        noEngine.engineVersion.clear();
        QTest::newRow("engine unknown")
            << noEngine.toJson()
            << "CPU-only (libnvidia-ml.so.1 not found (no NVIDIA driver)); AMD EPYC 7B13, 2 "
               "threads, 7.6 GiB; engine: unknown";

        NodeProbe dgx;
        for (int i = 0; i < 8; ++i)
            dgx.gpus << gpu(i, QStringLiteral("NVIDIA A100-SXM4-80GB"), 81920,
                            QStringLiteral("535.129.03"));
        dgx.driver = QStringLiteral("535.129.03");
        dgx.cpuName = QStringLiteral("AMD EPYC 7742 64-Core Processor");
        dgx.cpuThreads = 256;
        dgx.memoryBytes = 2164663123968;
        dgx.engineVersion = QStringLiteral("0.1.0");
        QTest::newRow("8 alike") << dgx.toJson()
                                 << "8 GPU(s): 8× NVIDIA A100-SXM4-80GB 80 GiB, driver 535.129.03; "
                                    "AMD EPYC 7742 64-Core "
                                    "Processor, 256 threads, 2016.0 GiB; engine 0.1.0";
        NodeProbe mixed = dgx;
        mixed.gpus = {
            gpu(0, QStringLiteral("NVIDIA RTX A6000"), 49140, QStringLiteral("535.154.05")),
            gpu(1, QStringLiteral("NVIDIA GeForce RTX 3090"), 24576, QStringLiteral("535.154.05")),
            gpu(2, QStringLiteral("NVIDIA RTX A6000"), 49140, QStringLiteral("535.154.05"))};
        mixed.driver = QStringLiteral("535.154.05");
        QTest::newRow("mixed")
            << mixed.toJson()
            << "3 GPU(s): 2× NVIDIA RTX A6000 48 GiB, NVIDIA GeForce RTX 3090 24 GiB, driver "
               "535.154.05; "
               "AMD EPYC 7742 64-Core Processor, 256 threads, 2016.0 GiB; engine 0.1.0";
    }
    void summary() {
        QFETCH(QJsonObject, probe);
        QFETCH(QString, summary);
        QCOMPARE(NodeProbe::fromJson(probe).summary(), summary);
    }

    // How a node is named in messages (ssh_session.h).
    void endpointDisplay() {
        bcd::nodes::SshEndpoint ep;
        ep.host = QStringLiteral("gpu1.example.org");
        ep.user = QStringLiteral("alice");
        QCOMPARE(ep.display(), QStringLiteral("alice@gpu1.example.org:22"));
        ep.host = QStringLiteral("::1");
        ep.port = 2222;
        ep.user.clear();
        QCOMPARE(ep.display(), QStringLiteral("[::1]:2222"));
        ep.host = QStringLiteral("10.0.0.7");
        QCOMPARE(ep.display(), QStringLiteral("10.0.0.7:2222"));
    }

    void parseEngineVersion_data() {
        QTest::addColumn<QString>("output");
        QTest::addColumn<QString>("version");
        QTest::newRow("plain") << "bcd-train 0.1.0\n"
                               << "0.1.0";
        QTest::newRow("padded") << "  bcd-train 12.34.56  \r\n"
                                << "12.34.56";
        QTest::newRow("pre-release") << "bcd-train 0.2.0-rc1+g1a2b3c"
                                     << "0.2.0-rc1+g1a2b3c";
        QTest::newRow("empty") << ""
                               << "";
        QTest::newRow("two parts") << "bcd-train 0.1"
                                   << "";
        QTest::newRow("other program") << "python 3.11.2"
                                       << "";
        QTest::newRow("trailing words") << "bcd-train 0.1.0 (debug)"
                                        << "";
        QTest::newRow("shell complaint") << "bash: line 1: bcd-train: command not found"
                                         << "";
        QTest::newRow("two lines") << "bcd-train 0.1.0\nbcd-train 0.2.0"
                                   << "";
    }
    void parseEngineVersion() {
        QFETCH(QString, output);
        QFETCH(QString, version);
        QCOMPARE(bcd::nodes::parseEngineVersion(output), version);
    }

    void enginesCompatible_data() {
        QTest::addColumn<QString>("node");
        QTest::addColumn<QString>("local");
        QTest::addColumn<bool>("compatible");
        QTest::newRow("same") << "0.1.0"
                              << "0.1.0" << true;
        QTest::newRow("patch differs") << "0.1.7"
                                       << "0.1.0" << true;
        QTest::newRow("pre-release patch") << "0.1.0-rc1"
                                           << "0.1.2" << true;
        QTest::newRow("minor differs") << "0.2.0"
                                       << "0.1.0" << false;
        QTest::newRow("major differs") << "1.1.0"
                                       << "0.1.0" << false;
        QTest::newRow("10 is not 1") << "0.10.0"
                                     << "0.1.0" << false;
        QTest::newRow("node unknown") << ""
                                      << "0.1.0" << false;
        QTest::newRow("local unknown") << "0.1.0"
                                       << "" << false;
        QTest::newRow("both unknown") << ""
                                      << "" << false;
    }
    void enginesCompatible() {
        QFETCH(QString, node);
        QFETCH(QString, local);
        QFETCH(bool, compatible);
        QCOMPARE(bcd::nodes::enginesCompatible(node, local), compatible);
    }
};

QTEST_APPLESS_MAIN(TestNodeProbe)
#include "tst_nodeprobe.moc"
