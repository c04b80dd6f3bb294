#include "nodes/nvml_gpus.h"

#include <dlfcn.h>

namespace bcd::nodes {

namespace {

// The few NVML declarations used (nvml.h, stable C ABI since the _v2 entry points).
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
    unsigned long long total, free, used;
};
struct nvmlUtilization_t {
    unsigned int gpu, memory;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;

class Library {
public:
    explicit Library(const char* name) : h_(dlopen(name, RTLD_NOW | RTLD_LOCAL)) {}
    ~Library() {
        if (h_) dlclose(h_);
    }
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;
    explicit operator bool() const { return h_ != nullptr; }
    template <class F> F fn(const char* name) const { return reinterpret_cast<F>(dlsym(h_, name)); }

private:
    void* h_;
};

} // namespace

NvmlResult probeNvml(const char* library) {
    NvmlResult r;
    Library lib(library);
    if (!lib) {
        const char* e = dlerror();
        r.note = QStringLiteral("%1 not found (no NVIDIA driver)").arg(QLatin1String(library));
        if (e && !QByteArray(e).contains("No such file"))
            r.note = QStringLiteral("cannot load %1: %2")
                         .arg(QLatin1String(library), QString::fromLocal8Bit(e));
        return r;
    }
    const auto init = lib.fn<nvmlReturn_t (*)()>("nvmlInit_v2");
    const auto shutdown = lib.fn<nvmlReturn_t (*)()>("nvmlShutdown");
    const auto errorString = lib.fn<const char* (*)(nvmlReturn_t)>("nvmlErrorString");
    const auto count = lib.fn<nvmlReturn_t (*)(unsigned*)>("nvmlDeviceGetCount_v2");
    const auto byIndex =
        lib.fn<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>("nvmlDeviceGetHandleByIndex_v2");
    const auto name = lib.fn<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>("nvmlDeviceGetName");
    const auto uuid = lib.fn<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>("nvmlDeviceGetUUID");
    const auto memory =
        lib.fn<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*)>("nvmlDeviceGetMemoryInfo");
    const auto driver = lib.fn<nvmlReturn_t (*)(char*, unsigned)>("nvmlSystemGetDriverVersion");
    const auto capability =
        lib.fn<nvmlReturn_t (*)(nvmlDevice_t, int*, int*)>("nvmlDeviceGetCudaComputeCapability");
    const auto utilization =
        lib.fn<nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*)>("nvmlDeviceGetUtilizationRates");
    if (!init || !shutdown || !count || !byIndex || !name || !memory) {
        r.note = QStringLiteral("%1 lacks the NVML entry points (too old a driver?)")
                     .arg(QLatin1String(library));
        return r;
    }
    const auto why = [&](nvmlReturn_t rc) {
        return errorString ? QString::fromUtf8(errorString(rc))
                           : QStringLiteral("error %1").arg(rc);
    };
    if (const nvmlReturn_t rc = init(); rc != kNvmlSuccess) {
        r.note = "NVML cannot start: " + why(rc);
        return r;
    }
    r.loaded = true;
    char text[96] = {};
    if (driver && driver(text, sizeof text) == kNvmlSuccess) r.driver = QString::fromUtf8(text);
    unsigned n = 0;
    if (const nvmlReturn_t rc = count(&n); rc != kNvmlSuccess) {
        r.note = "NVML cannot count devices: " + why(rc);
        n = 0;
    }
    for (unsigned i = 0; i < n; ++i) {
        nvmlDevice_t dev = nullptr;
        if (byIndex(i, &dev) != kNvmlSuccess) continue;
        GpuInfo g;
        g.index = static_cast<int>(i);
        g.driver = r.driver;
        if (name(dev, text, sizeof text) == kNvmlSuccess) g.name = QString::fromUtf8(text);
        if (uuid && uuid(dev, text, sizeof text) == kNvmlSuccess) g.uuid = QString::fromUtf8(text);
        nvmlMemory_t mem{};
        if (memory(dev, &mem) == kNvmlSuccess) {
            g.memoryMiB = static_cast<qint64>(mem.total >> 20);
            g.memoryUsedMiB = static_cast<qint64>(mem.used >> 20);
        }
        int major = 0, minor = 0;
        if (capability && capability(dev, &major, &minor) == kNvmlSuccess)
            g.computeCapability = QStringLiteral("%1.%2").arg(major).arg(minor);
        nvmlUtilization_t u{};
        if (utilization && utilization(dev, &u) == kNvmlSuccess)
            g.utilization = static_cast<int>(u.gpu);
        r.gpus.push_back(g);
    }
    if (r.gpus.isEmpty() && r.note.isEmpty()) r.note = QStringLiteral("NVML found no GPU");
    shutdown();
    return r;
}

} // namespace bcd::nodes
