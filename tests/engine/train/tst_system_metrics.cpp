// The system figures of the step records (engine/src/train/system_metrics.h): which NVML device a
// CUDA ordinal is, the CPU and memory figures, and NVML through a stand-in library (the real one
// needs an NVIDIA driver), its absence and its failure to start.

#include "train/system_metrics.h"

#include <QtTest>
#include <chrono>
#include <cstdlib>

using bcd::nvml_device_for;
using bcd::SystemSampler;

class TestSystemMetrics : public QObject {
    Q_OBJECT
private slots:
    void device_for_ordinal() {
        QCOMPARE(nvml_device_for(nullptr, 0).value_or("?"), std::string("0"));
        QCOMPARE(nvml_device_for("", 2).value_or("?"), std::string("2"));
        QCOMPARE(nvml_device_for("3,1", 0).value_or("?"), std::string("3"));
        QCOMPARE(nvml_device_for("3, 1", 1).value_or("?"), std::string("1"));
        QCOMPARE(nvml_device_for("GPU-aaaa,GPU-bbbb", 1).value_or("?"), std::string("GPU-bbbb"));
        QVERIFY(!nvml_device_for("3,1", 2));      // the list is shorter
        QVERIFY(!nvml_device_for("MIG-1234", 0)); // MIG instances are not resolved
        QVERIFY(!nvml_device_for("0,x,1", 1));    // CUDA stops at what it cannot parse
        QVERIFY(!nvml_device_for("-1", 0));       // "no device"
        QVERIFY(!nvml_device_for(nullptr, -1));
    }

    void cpu_and_memory() {
        SystemSampler s; // a CPU run: no NVML at all
        QVERIFY(!s.has_gpu());
        QVERIFY(s.note().empty());
        // Busy one thread for ~0.2 s: the process used about one core over that time.
        const auto t0 = std::chrono::steady_clock::now();
        volatile double x = 0;
        while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200)) x = x + 1;
        const auto a = s.sample();
        QVERIFY(a.cpu_pct);
        QVERIFY2(*a.cpu_pct > 30 && *a.cpu_pct < 1000, std::to_string(*a.cpu_pct).c_str());
        QVERIFY(a.rss_bytes > 1'000'000);
        QVERIFY(a.peak_rss_bytes >= a.rss_bytes);
        QVERIFY(!a.gpu_util_pct && !a.gpu_mem_bytes && !a.gpu_power_w && !a.gpu_temp_c);
    }

    void missing_library() {
        SystemSampler s("0", "libnvidia-ml-absent.so.1");
        QVERIFY(!s.has_gpu());
        QVERIFY2(s.note().find("cannot load libnvidia-ml-absent.so.1") != std::string::npos,
                 s.note().c_str());
        const auto a = s.sample();
        QVERIFY(a.cpu_pct && a.rss_bytes > 0); // the CPU figures stay
        QVERIFY(!a.gpu_util_pct && !a.gpu_mem_bytes);
    }

    void gpu_figures() {
        SystemSampler s("0", BCD_FAKE_NVML_SAMPLING);
        QVERIFY2(s.has_gpu(), s.note().c_str());
        QVERIFY(s.note().empty());
        const auto a = s.sample();
        QCOMPARE(a.gpu_util_pct.value_or(-1), 87.0);
        QCOMPARE(a.gpu_mem_bytes.value_or(0), 40000ull << 20);
        QCOMPARE(a.gpu_power_w.value_or(-1), 312.5);
        QCOMPARE(a.gpu_temp_c.value_or(-1), 64.0);
        // By UUID; a figure the device does not report is left out, the others kept.
        SystemSampler b("GPU-bbbb", BCD_FAKE_NVML_SAMPLING);
        QVERIFY(b.has_gpu());
        const auto v = b.sample();
        QCOMPARE(v.gpu_util_pct.value_or(-1), 12.0);
        QVERIFY(!v.gpu_power_w);
        QCOMPARE(v.gpu_temp_c.value_or(-1), 41.0);
    }

    void nvml_failures() {
        SystemSampler none("5", BCD_FAKE_NVML_SAMPLING);
        QVERIFY(!none.has_gpu());
        QVERIFY2(none.note().find("NVML has no device 5") != std::string::npos,
                 none.note().c_str());
        qputenv("FAKE_NVML_INIT_ERROR", "9");
        SystemSampler broken("0", BCD_FAKE_NVML_SAMPLING);
        qunsetenv("FAKE_NVML_INIT_ERROR");
        QVERIFY(!broken.has_gpu());
        QVERIFY2(broken.note().find("NVML cannot start (error 9)") != std::string::npos,
                 broken.note().c_str());
    }
};

QTEST_APPLESS_MAIN(TestSystemMetrics)
#include "tst_system_metrics.moc"
