#pragma once
// System figures of a training process, sampled at every logged step (docs/training.md "System
// metrics"): the process's CPU use and resident memory, and on a GPU run the GPU's utilisation,
// memory in use, power and temperature through NVML. NVML is loaded at run time (dlopen of
// libnvidia-ml.so.1): the engine has no link dependency on it, and without it the GPU figures
// are left out (note() says why, once, for train.log).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace bcd {

struct SystemSample {
    // CPU time of the process (user + system, every thread) over the wall time since the previous
    // sample, in % of one core: 800 = eight cores busy.
    std::optional<double> cpu_pct;
    std::uint64_t rss_bytes = 0, peak_rss_bytes = 0; // /proc/self/status VmRSS, VmHWM
    std::optional<double> gpu_util_pct;              // NVML: % of the last sample period busy
    std::optional<std::uint64_t> gpu_mem_bytes;      // NVML: used on the device, all processes
    std::optional<double> gpu_power_w;
    std::optional<double> gpu_temp_c;
};

// The NVML device for CUDA ordinal `ordinal` under CUDA_VISIBLE_DEVICES = `visible` (nullptr or
// empty: unset): "3" (an NVML index) or "GPU-…" (a UUID, as the variable may name them);
// nullopt when the list does not reach the ordinal. "MIG-…" entries are not resolved (nullopt).
std::optional<std::string> nvml_device_for(const char* visible, int ordinal);

class SystemSampler {
public:
    // `gpu`: the NVML device (nvml_device_for) or empty for a CPU run; `library`: the NVML
    // library to load.
    explicit SystemSampler(const std::string& gpu = "",
                           const std::string& library = "libnvidia-ml.so.1");
    ~SystemSampler();
    SystemSampler(const SystemSampler&) = delete;
    SystemSampler& operator=(const SystemSampler&) = delete;

    SystemSample sample();
    bool has_gpu() const; // NVML loaded and the device found
    // Why a GPU run has no GPU figures ("" when it has them or is a CPU run).
    const std::string& note() const { return note_; }

private:
    struct Nvml;
    std::unique_ptr<Nvml> nvml_;
    std::string note_;
    double last_cpu_s_ = 0.0, last_wall_s_ = 0.0;
};

} // namespace bcd
