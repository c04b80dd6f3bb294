// The nvidia-smi CSV parser (app/nodes/nvidia_smi.cpp) on outputs of real boards and drivers
// (tests/app/fixtures/nvidia-smi/), on the ways nvidia-smi fails, and on garbage: every input
// gives GPUs or a note saying why there are none — never a crash, never a GPU made of garbage.

#include "nodes/nvidia_smi.h"

#include <QFile>
#include <QRandomGenerator>
#include <QTest>

using bcd::nodes::GpuInfo;
using bcd::nodes::NvidiaSmiResult;
using bcd::nodes::parseNvidiaSmi;

namespace {

QByteArray fixtureFile(const QString& name) {
    QFile f(QStringLiteral(BCD_NVIDIA_SMI_FIXTURES "/") + name);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

struct Captured {
    QByteArray out, err;
    int status = -1;
};

Captured fixture(const QString& name) {
    Captured c;
    c.out = fixtureFile(name + QStringLiteral(".stdout"));
    c.err = fixtureFile(name + QStringLiteral(".stderr"));
    bool ok = false;
    c.status = fixtureFile(name + QStringLiteral(".status")).trimmed().toInt(&ok);
    if (!ok) qFatal("fixture %s has no .status file", qPrintable(name));
    return c;
}

// A literal's bytes, NULs included.
template <std::size_t N> QByteArray bytes(const char (&text)[N]) {
    return QByteArray(text, N - 1);
}

NvidiaSmiResult parse(const Captured& c) {
    return parseNvidiaSmi(c.out, c.err, c.status);
}

QList<int> indices(const NvidiaSmiResult& r) {
    QList<int> out;
    for (const GpuInfo& g : r.gpus) out << g.index;
    return out;
}

// What holds for every result, whatever the input.
void checkInvariants(const NvidiaSmiResult& r, const QByteArray& input) {
    const QString why =
        QStringLiteral("input: ") + QString::fromUtf8(input.left(300).toPercentEncoding(" ,[]/"));
    if (r.gpus.isEmpty()) QVERIFY2(!r.note.isEmpty(), qPrintable(why));
    QVERIFY2(r.note.size() < 400, qPrintable(why));
    for (const GpuInfo& g : r.gpus) {
        QVERIFY2(g.index >= 0, qPrintable(why));
        QVERIFY2(g.memoryMiB >= 0, qPrintable(why));
        QVERIFY2(!g.name.isEmpty() && !g.uuid.isEmpty(), qPrintable(why));
        if (g.memoryUsedMiB) QVERIFY2(*g.memoryUsedMiB >= 0, qPrintable(why));
        if (g.utilization) QVERIFY2(*g.utilization >= 0 && *g.utilization <= 100, qPrintable(why));
    }
}

} // namespace

class TestNvidiaSmi : public QObject {
    Q_OBJECT
private slots:
    void commandQueriesTheParsedFields() {
        QCOMPARE(
            bcd::nodes::nvidiaSmiCommand(),
            QStringLiteral(
                "nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,"
                "driver_version --format=csv,noheader,nounits"));
    }

    void capturedOutputs_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("gpus");
        QTest::addColumn<QString>("firstName");
        QTest::addColumn<qint64>("firstMemoryMiB");
        QTest::addColumn<QString>("driver");
        QTest::addColumn<QString>("note"); // a part of the note; empty: no note

        QTest::newRow("8x A100 80GB, 535")
            << "a100-sxm4-80gb-x8_535" << 8 << "NVIDIA A100-SXM4-80GB" << qint64(81920)
            << "535.129.03" << QString();
        QTest::newRow("RTX 4090, 550") << "rtx4090_550" << 1 << "NVIDIA GeForce RTX 4090"
                                       << qint64(24564) << "550.54.14" << QString();
        QTest::newRow("4x H100 MIG, [N/A]")
            << "h100-sxm5-80gb-x4-mig_550" << 4 << "NVIDIA H100 80GB HBM3" << qint64(81559)
            << "550.90.07" << QString();
        QTest::newRow("mixed box") << "mixed-a6000-3090-t400_535" << 4 << "NVIDIA RTX A6000"
                                   << qint64(49140) << "535.154.05" << QString();
        QTest::newRow("one GPU lost")
            << "a100-gpu-lost_535" << 7 << "NVIDIA A100-SXM4-80GB" << qint64(81920) << "535.129.03"
            << "nvidia-smi failed (exit 15), 7 GPU(s) listed: Unable to determine the device "
               "handle for GPU0000:4E:00.0: GPU is lost";
        QTest::newRow("no GPU") << "no-devices" << 0 << QString() << qint64(0) << QString()
                                << "no NVIDIA GPU found (nvidia-smi: No devices were found)";
        QTest::newRow("missing (bash)") << "missing-bash" << 0 << QString() << qint64(0)
                                        << QString() << "nvidia-smi not found (no NVIDIA driver)";
        QTest::newRow("missing (dash)") << "missing-dash" << 0 << QString() << qint64(0)
                                        << QString() << "nvidia-smi not found (no NVIDIA driver)";
        QTest::newRow("driver/library mismatch")
            << "driver-mismatch" << 0 << QString() << qint64(0) << QString()
            << "nvidia-smi failed (exit 18): Failed to initialize NVML: "
               "Driver/library version mismatch";
        QTest::newRow("no driver")
            << "no-driver" << 0 << QString() << qint64(0) << QString()
            << "nvidia-smi failed (exit 9): NVIDIA-SMI has failed because it couldn't "
               "communicate with the NVIDIA driver";
    }
    void capturedOutputs() {
        QFETCH(QString, name);
        QFETCH(int, gpus);
        QFETCH(QString, firstName);
        QFETCH(qint64, firstMemoryMiB);
        QFETCH(QString, driver);
        QFETCH(QString, note);
        const Captured c = fixture(name);
        const NvidiaSmiResult r = parse(c);
        checkInvariants(r, c.out);
        QCOMPARE(r.gpus.size(), gpus);
        QCOMPARE(r.driver, driver);
        if (note.isEmpty())
            QVERIFY2(r.note.isEmpty(), qPrintable(r.note));
        else
            QVERIFY2(r.note.startsWith(note), qPrintable(r.note));
        if (gpus == 0) return;
        QCOMPARE(r.gpus[0].name, firstName);
        QCOMPARE(r.gpus[0].memoryMiB, firstMemoryMiB);
        for (const GpuInfo& g : r.gpus) {
            QCOMPARE(g.driver, driver);
            QVERIFY2(g.uuid.startsWith(QLatin1String("GPU-")) && g.uuid.size() == 40,
                     qPrintable(g.uuid));
        }
    }

    void a100FieldByField() {
        const NvidiaSmiResult r = parse(fixture(QStringLiteral("a100-sxm4-80gb-x8_535")));
        QCOMPARE(indices(r), (QList<int>{0, 1, 2, 3, 4, 5, 6, 7}));
        const GpuInfo& busy = r.gpus[0];
        QCOMPARE(busy.uuid, QStringLiteral("GPU-4e2b7c1a-9f3d-5a61-8c0e-2d7b9a4f1e36"));
        QCOMPARE(busy.memoryUsedMiB, std::optional<qint64>(72431));
        QCOMPARE(busy.utilization, std::optional<int>(98));
        const GpuInfo& idle = r.gpus[7];
        QCOMPARE(idle.memoryUsedMiB, std::optional<qint64>(4));
        QCOMPARE(idle.utilization, std::optional<int>(0)); // 0 %, not "unknown"
        QVERIFY(idle.computeCapability.isEmpty());         // nvidia-smi does not say
    }

    void notAvailableFieldsStayUnknown() {
        const NvidiaSmiResult h100 = parse(fixture(QStringLiteral("h100-sxm5-80gb-x4-mig_550")));
        for (const GpuInfo& g : h100.gpus) {
            QCOMPARE(g.utilization, std::nullopt); // "[N/A]" under MIG
            QCOMPARE(g.memoryUsedMiB, std::optional<qint64>(13));
        }
        const NvidiaSmiResult mixed = parse(fixture(QStringLiteral("mixed-a6000-3090-t400_535")));
        QCOMPARE(mixed.gpus[2].name, QStringLiteral("NVIDIA GeForce RTX 3090"));
        QCOMPARE(mixed.gpus[2].memoryMiB, 24576);
        QCOMPARE(mixed.gpus[2].utilization, std::optional<int>(11));
        const GpuInfo& t400 = mixed.gpus[3];
        QCOMPARE(t400.name, QStringLiteral("NVIDIA T400 4GB"));
        QCOMPARE(t400.memoryMiB, 4096);
        QCOMPARE(t400.memoryUsedMiB, std::nullopt); // "[N/A]"
        QCOMPARE(t400.utilization, std::nullopt);   // "[Not Supported]"
    }

    void lostGpuKeepsTheOthers() {
        const NvidiaSmiResult r = parse(fixture(QStringLiteral("a100-gpu-lost_535")));
        QCOMPARE(indices(r), (QList<int>{0, 1, 2, 4, 5, 6, 7}));
    }

    // The exit status decides, also when the shell's words differ (another shell, another
    // language).
    void missingByExitStatusAlone() {
        const NvidiaSmiResult r =
            parseNvidiaSmi({}, "zsh:1: Befehl nicht gefunden: nvidia-smi\n", 127);
        QVERIFY(r.gpus.isEmpty());
        QCOMPARE(r.note, QStringLiteral("nvidia-smi not found (no NVIDIA driver)"));
        // Exit status lost (-1), the shell's complaint tells.
        QCOMPARE(parseNvidiaSmi({}, "sh: 1: nvidia-smi: not found\n", -1).note,
                 QStringLiteral("nvidia-smi not found (no NVIDIA driver)"));
    }

    // A warning on stderr of a successful run does not hide the GPUs.
    void stderrWarningWithSuccess() {
        const Captured c = fixture(QStringLiteral("rtx4090_550"));
        const NvidiaSmiResult r = parseNvidiaSmi(
            c.out, "WARNING: infoROM is corrupted at gpu 0000:01:00.0: No such file or directory\n",
            0);
        QCOMPARE(r.gpus.size(), 1);
        QVERIFY(r.note.isEmpty());
    }

    void nameWithCommas() {
        const NvidiaSmiResult r =
            parseNvidiaSmi("0, GPU-0fa8d3c6-e29b-574a-b6c0-8d1e4f7a25b9, NVIDIA Tesla V100, SXM2, "
                           "32GB, 32768, 0, 0, 470.82.01\n",
                           {}, 0);
        QCOMPARE(r.gpus.size(), 1);
        QCOMPARE(r.gpus[0].name, QStringLiteral("NVIDIA Tesla V100, SXM2, 32GB"));
        QCOMPARE(r.gpus[0].memoryMiB, 32768);
        QCOMPARE(r.gpus[0].driver, QStringLiteral("470.82.01"));
        QVERIFY(r.note.isEmpty());
    }

    void windowsLineEndingsAndPadding() {
        const NvidiaSmiResult r =
            parseNvidiaSmi("  0 ,GPU-a ,  NVIDIA L4 , 23034 , 0 , 0 , 535.104.05 "
                           "\r\n\r\n1,GPU-b,NVIDIA L4,23034,5,12,535.104.05\r\n",
                           {}, 0);
        QCOMPARE(r.gpus.size(), 2);
        QCOMPARE(r.gpus[0].name, QStringLiteral("NVIDIA L4"));
        QCOMPARE(r.gpus[0].uuid, QStringLiteral("GPU-a"));
        QCOMPARE(r.gpus[1].utilization, std::optional<int>(12));
        QCOMPARE(r.driver, QStringLiteral("535.104.05"));
    }

    // A header line (someone's wrapper dropped "noheader"): the GPUs are read, the line is noted.
    void headerLineIsNoted() {
        const NvidiaSmiResult r =
            parseNvidiaSmi("index, uuid, name, memory.total [MiB], memory.used [MiB], "
                           "utilization.gpu [%], driver_version\n" +
                               fixtureFile(QStringLiteral("rtx4090_550.stdout")),
                           {}, 0);
        QCOMPARE(r.gpus.size(), 1);
        QVERIFY2(r.note.startsWith(
                     QLatin1String("1 line(s) of nvidia-smi output not understood: index, uuid")),
                 qPrintable(r.note));
    }

    void garbage_data() {
        QTest::addColumn<QByteArray>("out");
        QTest::addColumn<QString>("note");
        QTest::newRow("empty") << QByteArray()
                               << "no NVIDIA GPU found (nvidia-smi printed nothing)";
        QTest::newRow("blank lines")
            << QByteArray("\n \n\t\n") << "no NVIDIA GPU found (nvidia-smi printed nothing)";
        QTest::newRow("html")
            << QByteArray("<html><body>502 Bad Gateway</body></html>\n")
            << "unexpected nvidia-smi output: <html><body>502 Bad Gateway</body></html>";
        QTest::newRow("table format") << QByteArray("+---------------------------------------------"
                                                    "--------------------------------+\n"
                                                    "| NVIDIA-SMI 535.129.03   Driver Version: "
                                                    "535.129.03   CUDA Version: 12.2     |\n")
                                      << "unexpected nvidia-smi output: +------";
        QTest::newRow("too few fields") << QByteArray("0, GPU-a, NVIDIA A100, 81920\n")
                                        << "unexpected nvidia-smi output: 0, GPU-a";
        QTest::newRow("index not a number")
            << QByteArray("x, GPU-a, NVIDIA A100, 81920, 0, 0, 535.1\n")
            << "unexpected nvidia-smi output: x, GPU-a";
        QTest::newRow("negative index")
            << QByteArray("-1, GPU-a, NVIDIA A100, 81920, 0, 0, 535.1\n")
            << "unexpected nvidia-smi output: -1, GPU-a";
        QTest::newRow("fractional index")
            << QByteArray("0.5, GPU-a, NVIDIA A100, 81920, 0, 0, 535.1\n")
            << "unexpected nvidia-smi output: 0.5";
        QTest::newRow("memory word") << QByteArray("0, GPU-a, NVIDIA A100, lots, 0, 0, 535.1\n")
                                     << "unexpected nvidia-smi output: 0, GPU-a, NVIDIA A100, lots";
        QTest::newRow("memory nan") << QByteArray("0, GPU-a, NVIDIA A100, nan, 0, 0, 535.1\n")
                                    << "unexpected nvidia-smi output";
        QTest::newRow("memory inf") << QByteArray("0, GPU-a, NVIDIA A100, inf, 0, 0, 535.1\n")
                                    << "unexpected nvidia-smi output";
        QTest::newRow("memory 1e400") << QByteArray("0, GPU-a, NVIDIA A100, 1e400, 0, 0, 535.1\n")
                                      << "unexpected nvidia-smi output";
        QTest::newRow("memory 1e300") << QByteArray("0, GPU-a, NVIDIA A100, 1e300, 0, 0, 535.1\n")
                                      << "unexpected nvidia-smi output";
        QTest::newRow("memory negative")
            << QByteArray("0, GPU-a, NVIDIA A100, -81920, 0, 0, 535.1\n")
            << "unexpected nvidia-smi output";
        QTest::newRow("used -nan") << QByteArray("0, GPU-a, NVIDIA A100, 81920, -nan, 0, 535.1\n")
                                   << "unexpected nvidia-smi output";
        QTest::newRow("utilization 250")
            << QByteArray("0, GPU-a, NVIDIA A100, 81920, 0, 250, 535.1\n")
            << "unexpected nvidia-smi output";
        QTest::newRow("empty uuid and name")
            << QByteArray("0, , , 81920, 0, 0, 535.1\n") << "unexpected nvidia-smi output";
        QTest::newRow("commas only")
            << QByteArray(",,,,,,\n,,,,,,,,,,,,,,,\n") << "unexpected nvidia-smi output: ,,,,,,";
        QTest::newRow("NUL bytes")
            << bytes("0\0, GPU-a\0, \0\0\0\n") << "unexpected nvidia-smi output";
        QTest::newRow("invalid UTF-8")
            << QByteArray("\xff\xfe\xc3\x28, \xa0\xa1\n") << "unexpected nvidia-smi output";
        QTest::newRow("one long line")
            << QByteArray(1 << 20, 'A') << "unexpected nvidia-smi output: AAAA";
    }
    void garbage() {
        QFETCH(QByteArray, out);
        QFETCH(QString, note);
        const NvidiaSmiResult r = parseNvidiaSmi(out, {}, 0);
        checkInvariants(r, out);
        QCOMPARE(r.gpus.size(), 0);
        QVERIFY2(r.note.startsWith(note), qPrintable(r.note));
    }

    // Garbage after a good line: the good GPU stays, the bad line is noted.
    void garbageAfterAGoodLine() {
        const NvidiaSmiResult r = parseNvidiaSmi(fixtureFile(QStringLiteral("rtx4090_550.stdout")) +
                                                     "1, GPU-b, X, nan, 0, 0, 1\n",
                                                 {}, 0);
        QCOMPARE(r.gpus.size(), 1);
        QCOMPARE(r.note,
                 QStringLiteral(
                     "1 line(s) of nvidia-smi output not understood: 1, GPU-b, X, nan, 0, 0, 1"));
    }

    // Failure without output: the first line of stderr, cut short.
    void failureQuotesTheFirstLineShortly() {
        const QByteArray err = "Insufficient Permissions\nsecond line\n";
        QCOMPARE(parseNvidiaSmi({}, err, 4).note,
                 QStringLiteral("nvidia-smi failed (exit 4): Insufficient Permissions"));
        const NvidiaSmiResult r = parseNvidiaSmi({}, QByteArray(100000, 'e'), 2);
        QVERIFY2(r.note.size() < 260, qPrintable(QString::number(r.note.size())));
        QVERIFY(r.note.startsWith(QLatin1String("nvidia-smi failed (exit 2): eeee")));
    }

    // Mutations of real outputs (bytes flipped, cut, doubled, fields swapped): the invariants hold.
    void mutatedOutputsKeepTheInvariants() {
        const QStringList names{
            QStringLiteral("a100-sxm4-80gb-x8_535"), QStringLiteral("h100-sxm5-80gb-x4-mig_550"),
            QStringLiteral("mixed-a6000-3090-t400_535"), QStringLiteral("a100-gpu-lost_535")};
        QRandomGenerator rng(20240611);
        const QByteArray alphabet = bytes(",[]\n\r -.0123456789eEnNaA/\x00\xff");
        for (int i = 0; i < 3000; ++i) {
            QByteArray in = fixtureFile(names[i % names.size()] + QStringLiteral(".stdout"));
            const int edits = 1 + rng.bounded(8);
            for (int e = 0; e < edits && !in.isEmpty(); ++e) {
                const int at = rng.bounded(in.size());
                switch (rng.bounded(4)) {
                case 0:
                    in[at] = alphabet[rng.bounded(alphabet.size())];
                    break;
                case 1:
                    in.remove(at, rng.bounded(40));
                    break;
                case 2:
                    in.insert(at, in.mid(rng.bounded(in.size()), rng.bounded(60)));
                    break;
                case 3:
                    in.insert(at, QByteArray::number(rng.generateDouble() * 1e20 - 1e19, 'g',
                                                     1 + rng.bounded(20)));
                    break;
                }
            }
            const int status = (i % 7 == 0) ? static_cast<int>(rng.bounded(256)) : 0;
            const NvidiaSmiResult r = parseNvidiaSmi(in, {}, status);
            checkInvariants(r, in);
            if (QTest::currentTestFailed()) return;
        }
    }
};

QTEST_APPLESS_MAIN(TestNvidiaSmi)
#include "tst_nvidiasmi.moc"
