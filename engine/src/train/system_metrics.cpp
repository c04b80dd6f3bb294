#include "train/system_metrics.h"

#include <chrono>
#include <dlfcn.h>
#include <fstream>
#include <sys/resource.h>

namespace bcd {

namespace {

double process_cpu_seconds() {
    rusage u{};
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0.0;
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
    return s(u.ru_utime) + s(u.ru_stime);
}

double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The few NVML declarations used (nvml.h; stable C ABI of the _v2 entry points).
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
    unsigned long long total, free, used;
};
struct nvmlUtilization_t {
    unsigned int gpu, memory;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr int kNvmlTemperatureGpu = 0;

} // namespace

std::optional<std::string> nvml_device_for(const char* visible, int ordinal) {
    if (ordinal < 0) return std::nullopt;
    if (!visible || !*visible) return std::to_string(ordinal);
    // A comma-separated list; CUDA stops at the first entry it cannot parse.
    std::string list(visible);
    int at = 0;
    std::size_t from = 0;
    while (from <= list.size()) {
        const std::size_t comma = std::min(list.find(',', from), list.size());
        std::string entry = list.substr(from, comma - from);
        while (!entry.empty() && entry.front() == ' ') entry.erase(entry.begin());
        while (!entry.empty() && entry.back() == ' ') entry.pop_back();
        const bool number =
            !entry.empty() && entry.find_first_not_of("0123456789") == std::string::npos;
        if (!number && !entry.starts_with("GPU-")) return std::nullopt;
        if (at == ordinal) return entry;
        ++at;
        from = comma + 1;
    }
    return std::nullopt;
}

struct SystemSampler::Nvml {
    void* lib = nullptr;
    nvmlReturn_t (*shutdown)() = nullptr;
    nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
    nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
    nvmlReturn_t (*power)(nvmlDevice_t, unsigned*) = nullptr;
    nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned*) = nullptr;
    nvmlDevice_t device = nullptr;
    bool initialised = false;

    template <class F> F fn(const char* name) const {
        return reinterpret_cast<F>(dlsym(lib, name));
    }
    ~Nvml() {
        if (initialised && shutdown) shutdown();
        if (lib) dlclose(lib);
    }
};

SystemSampler::SystemSampler(const std::string& gpu, const std::string& library) {
    last_cpu_s_ = process_cpu_seconds();
    last_wall_s_ = wall_seconds();
    if (gpu.empty()) return;
    auto n = std::make_unique<Nvml>();
    n->lib = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!n->lib) {
        const char* e = dlerror();
        note_ = "no GPU figures in the metrics: cannot load " + library + " (" +
                (e ? e : "not found") + ")";
        return;
    }
    const auto init = n->fn<nvmlReturn_t (*)()>("nvmlInit_v2");
    const auto by_index =
        n->fn<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>("nvmlDeviceGetHandleByIndex_v2");
    const auto by_uuid =
        n->fn<nvmlReturn_t (*)(const char*, nvmlDevice_t*)>("nvmlDeviceGetHandleByUUID");
    n->shutdown = n->fn<nvmlReturn_t (*)()>("nvmlShutdown");
    n->memory = n->fn<decltype(n->memory)>("nvmlDeviceGetMemoryInfo");
    n->utilization = n->fn<decltype(n->utilization)>("nvmlDeviceGetUtilizationRates");
    n->power = n->fn<decltype(n->power)>("nvmlDeviceGetPowerUsage");
    n->temperature = n->fn<decltype(n->temperature)>("nvmlDeviceGetTemperature");
    if (!init || !by_index || !n->shutdown) {
        note_ = "no GPU figures in the metrics: " + library + " lacks nvmlInit_v2";
        return;
    }
    if (const nvmlReturn_t rc = init(); rc != kNvmlSuccess) {
        note_ =
            "no GPU figures in the metrics: NVML cannot start (error " + std::to_string(rc) + ")";
        return;
    }
    n->initialised = true;
    nvmlReturn_t rc = 0;
    if (gpu.starts_with("GPU-"))
        rc = by_uuid ? by_uuid(gpu.c_str(), &n->device) : 1;
    else
        rc = by_index(static_cast<unsigned>(std::stoul(gpu)), &n->device);
    if (rc != kNvmlSuccess) {
        note_ = "no GPU figures in the metrics: NVML has no device " + gpu + " (error " +
                std::to_string(rc) + ")";
        return;
    }
    nvml_ = std::move(n);
}

SystemSampler::~SystemSampler() = default;

bool SystemSampler::has_gpu() const {
    return nvml_ != nullptr;
}

SystemSample SystemSampler::sample() {
    SystemSample s;
    const double cpu = process_cpu_seconds(), wall = wall_seconds();
    if (wall > last_wall_s_) s.cpu_pct = 100.0 * (cpu - last_cpu_s_) / (wall - last_wall_s_);
    last_cpu_s_ = cpu;
    last_wall_s_ = wall;
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("VmRSS:")) s.rss_bytes = std::stoull(line.substr(6)) * 1024;
        if (line.starts_with("VmHWM:")) s.peak_rss_bytes = std::stoull(line.substr(6)) * 1024;
    }
    if (!nvml_) return s;
    // A figure the device does not report (NOT_SUPPORTED) is left out, the others kept.
    nvmlUtilization_t u{};
    if (nvml_->utilization && nvml_->utilization(nvml_->device, &u) == kNvmlSuccess)
        s.gpu_util_pct = u.gpu;
    nvmlMemory_t m{};
    if (nvml_->memory && nvml_->memory(nvml_->device, &m) == kNvmlSuccess) s.gpu_mem_bytes = m.used;
    unsigned v = 0;
    if (nvml_->power && nvml_->power(nvml_->device, &v) == kNvmlSuccess) s.gpu_power_w = v / 1000.0;
    if (nvml_->temperature &&
        nvml_->temperature(nvml_->device, kNvmlTemperatureGpu, &v) == kNvmlSuccess)
        s.gpu_temp_c = v;
    return s;
}

} // namespace bcd
