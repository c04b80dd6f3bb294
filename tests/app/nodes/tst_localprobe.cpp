// The local probe (app/nodes/local_probe.cpp, nvml_gpus.cpp): on a machine without the NVIDIA
// driver it says CPU-only and why; with NVML (a stand-in library, fake_nvml.cpp) it lists the
// GPUs; CPU, memory and the built engine's version are read from this machine.

#include "nodes/local_probe.h"
#include "nodes/nvml_gpus.h"
#include "test_runs.h"

#include <QFile>
#include <QRegularExpression>
#include <QSysInfo>
#include <QTest>
#include <QThread>
#include <dlfcn.h>
#include <unistd.h>

using bcd::nodes::NodeProbe;
using bcd::nodes::NvmlResult;
using bcd::nodes::probeNvml;

namespace {

const char* const kFake = BCD_FAKE_NVML;

// Sets an environment variable for one scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const QByteArray& value) : name_(name) { qputenv(name, value); }
    ~ScopedEnv() { qunsetenv(name_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
};

bool systemHasNvml() {
    void* h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h) dlclose(h);
    return h != nullptr;
}

} // namespace

class TestLocalProbe : public QObject {
    Q_OBJECT
private slots:
    void missingLibrary() {
        const NvmlResult r = probeNvml("libnvidia-ml-absent.so.1");
        QVERIFY(!r.loaded);
        QVERIFY(r.gpus.isEmpty());
        QCOMPARE(r.note, QStringLiteral("libnvidia-ml-absent.so.1 not found (no NVIDIA driver)"));
    }

    // A file that is there but is no library: the loader's reason is shown.
    void notALibrary() {
        const QByteArray file = BCD_NVIDIA_SMI_FIXTURES "/README.md";
        const NvmlResult r = probeNvml(file.constData());
        QVERIFY(!r.loaded);
        QVERIFY2(r.note.startsWith(QStringLiteral("cannot load ") + QString::fromUtf8(file) + ": "),
                 qPrintable(r.note));
    }

    // A library without NVML's entry points (an unrelated one that every Linux has).
    void libraryWithoutNvml() {
        const NvmlResult r = probeNvml("libm.so.6");
        QVERIFY(!r.loaded);
        QCOMPARE(r.note,
                 QStringLiteral("libm.so.6 lacks the NVML entry points (too old a driver?)"));
    }

    void nvmlGpus() {
        const QString log =
            bcd::test::freshDir(QStringLiteral("localprobe-nvml")) + QStringLiteral("/calls");
        const ScopedEnv logTo("FAKE_NVML_LOG", log.toUtf8());
        const NvmlResult r = probeNvml(kFake);
        QVERIFY(r.loaded);
        QVERIFY2(r.note.isEmpty(), qPrintable(r.note));
        QCOMPARE(r.driver, QStringLiteral("550.90.07"));
        QCOMPARE(r.gpus.size(), 2);
        const auto& h100 = r.gpus[0];
        QCOMPARE(h100.index, 0);
        QCOMPARE(h100.name, QStringLiteral("NVIDIA H100 80GB HBM3"));
        QCOMPARE(h100.uuid, QStringLiteral("GPU-2b7f4d9e-8a1c-63e5-f0b2-c4a9d7e15386"));
        QCOMPARE(h100.memoryMiB, 81559);
        QCOMPARE(h100.memoryUsedMiB, std::optional<qint64>(40000));
        QCOMPARE(h100.utilization, std::optional<int>(87));
        QCOMPARE(h100.computeCapability, QStringLiteral("9.0"));
        QCOMPARE(h100.driver, QStringLiteral("550.90.07"));
        const auto& rtx = r.gpus[1];
        QCOMPARE(rtx.index, 1);
        QCOMPARE(rtx.memoryMiB, 24564);
        QCOMPARE(rtx.computeCapability, QStringLiteral("8.9"));
        QCOMPARE(rtx.utilization, std::nullopt); // NVML_ERROR_NOT_SUPPORTED: unknown, not 0
        QFile calls(log);
        QVERIFY(calls.open(QIODevice::ReadOnly));
        QCOMPARE(calls.readAll(), QByteArray("init\nshutdown\n"));
    }

    // A device NVML counts but cannot open is left out; the others are listed.
    void deviceThatCannotBeOpened() {
        const ScopedEnv three("FAKE_NVML_COUNT", "3");
        const NvmlResult r = probeNvml(kFake);
        QCOMPARE(r.gpus.size(), 2);
    }

    void noDevice() {
        const QString log =
            bcd::test::freshDir(QStringLiteral("localprobe-none")) + QStringLiteral("/calls");
        const ScopedEnv logTo("FAKE_NVML_LOG", log.toUtf8());
        const ScopedEnv none("FAKE_NVML_COUNT", "0");
        const NvmlResult r = probeNvml(kFake);
        QVERIFY(r.loaded);
        QVERIFY(r.gpus.isEmpty());
        QCOMPARE(r.note, QStringLiteral("NVML found no GPU"));
        QCOMPARE(r.driver, QStringLiteral("550.90.07"));
        QFile calls(log);
        QVERIFY(calls.open(QIODevice::ReadOnly));
        QCOMPARE(calls.readAll(), QByteArray("init\nshutdown\n"));
    }

    // The library is there, the kernel module is not (NVML_ERROR_DRIVER_NOT_LOADED).
    void driverNotLoaded() {
        const ScopedEnv fail("FAKE_NVML_INIT_ERROR", "9");
        const NvmlResult r = probeNvml(kFake);
        QVERIFY(!r.loaded);
        QVERIFY(r.gpus.isEmpty());
        QCOMPARE(r.note, QStringLiteral("NVML cannot start: Driver Not Loaded"));
    }

    void probeWithNvml() {
        const NodeProbe p = bcd::nodes::probeLocal(bcd::test::trainExe(), kFake);
        QVERIFY(!p.cpuOnly());
        QCOMPARE(p.gpuSource, QStringLiteral("nvml"));
        QCOMPARE(p.gpus.size(), 2);
        QCOMPARE(p.driver, QStringLiteral("550.90.07"));
        QVERIFY2(
            p.summary().startsWith(QLatin1String("2 GPU(s): NVIDIA H100 80GB HBM3 80 GiB, NVIDIA "
                                                 "GeForce RTX 4090 24 GiB, driver 550.90.07; ")),
            qPrintable(p.summary()));
    }

    // This machine as it is, with the default library name.
    void probeThisMachine() {
        const NodeProbe p = bcd::nodes::probeLocal(bcd::test::trainExe());
        QCOMPARE(p.gpuSource, QStringLiteral("nvml"));
        if (systemHasNvml()) {
            qInfo("libnvidia-ml.so.1 is installed here: %s", qPrintable(p.summary()));
            QVERIFY(!p.cpuOnly() || !p.gpuNote.isEmpty());
        } else {
            QVERIFY(p.cpuOnly());
            QCOMPARE(p.gpuNote, QStringLiteral("libnvidia-ml.so.1 not found (no NVIDIA driver)"));
            QVERIFY2(p.summary().startsWith(QLatin1String(
                         "CPU-only (libnvidia-ml.so.1 not found (no NVIDIA driver)); ")),
                     qPrintable(p.summary()));
        }
        // CPU and memory as the kernel reports them.
        QCOMPARE(p.cpuThreads, QThread::idealThreadCount());
        QVERIFY(p.cpuThreads >= 1);
        const qint64 physical = qint64(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
        QVERIFY2(p.memoryBytes > 0 && qAbs(p.memoryBytes - physical) < 1024 * 1024,
                 qPrintable(QStringLiteral("%1 vs %2").arg(p.memoryBytes).arg(physical)));
        QCOMPARE(p.arch, QSysInfo::currentCpuArchitecture());
        if (QSysInfo::currentCpuArchitecture().startsWith(QLatin1String("x86")))
            QVERIFY2(!p.cpuName.isEmpty() && !p.cpuName.contains(':'), qPrintable(p.cpuName));
        // The engine built alongside.
        QCOMPARE(p.engine, bcd::test::trainExe());
        QCOMPARE(p.engineVersion, QStringLiteral(BCD_PROJECT_VERSION));
        QVERIFY(p.engineNote.isEmpty());
        QVERIFY2(p.summary().endsWith(QStringLiteral("; engine " BCD_PROJECT_VERSION)),
                 qPrintable(p.summary()));
    }

    void engineMissing() {
        QString note;
        const QString missing = bcd::test::freshDir(QStringLiteral("localprobe-engine")) +
                                QStringLiteral("/no-bcd-train");
        QVERIFY(bcd::nodes::localEngineVersion(missing, &note).isEmpty());
        QVERIFY2(note.startsWith(missing + QStringLiteral(" does not start: ")), qPrintable(note));
    }

    // A program that runs but is not the engine.
    void engineNotAnEngine() {
        const QString dir = bcd::test::freshDir(QStringLiteral("localprobe-fake-engine"));
        const QString fake = dir + QStringLiteral("/bcd-train");
        QFile f(fake);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("#!/bin/sh\necho 'usage: something else' ; exit 3\n");
        f.close();
        QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
        QString note;
        QVERIFY(bcd::nodes::localEngineVersion(fake, &note).isEmpty());
        QCOMPARE(note, fake + QStringLiteral(" --version printed no version (exit 3)"));
    }
};

QTEST_APPLESS_MAIN(TestLocalProbe)
#include "tst_localprobe.moc"
