// A stand-in for libnvidia-ml.so.1 with the NVML entry points engine/src/train/system_metrics.cpp
// calls, so that the sampler's NVML path is tested on machines without an NVIDIA driver. Device 0
// (UUID GPU-aaaa) reports everything; device 1 (GPU-bbbb) supports no power reading.
// FAKE_NVML_INIT_ERROR=N makes nvmlInit_v2 return N.
#include <cstdlib>
#include <cstring>

namespace {
constexpr int kSuccess = 0, kInvalidArgument = 2, kNotSupported = 3, kNotFound = 6;
unsigned long index_of(void* h) {
    return reinterpret_cast<unsigned long>(h);
}
} // namespace

extern "C" {

struct Memory {
    unsigned long long total, free, used;
};
struct Utilization {
    unsigned int gpu, memory;
};

int nvmlInit_v2() {
    if (const char* e = std::getenv("FAKE_NVML_INIT_ERROR")) return std::atoi(e);
    return kSuccess;
}
int nvmlShutdown() {
    return kSuccess;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** handle) {
    if (i >= 2) return kInvalidArgument;
    *handle = reinterpret_cast<void*>(static_cast<unsigned long>(i + 1));
    return kSuccess;
}
int nvmlDeviceGetHandleByUUID(const char* uuid, void** handle) {
    if (std::strcmp(uuid, "GPU-aaaa") == 0) return nvmlDeviceGetHandleByIndex_v2(0, handle);
    if (std::strcmp(uuid, "GPU-bbbb") == 0) return nvmlDeviceGetHandleByIndex_v2(1, handle);
    return kNotFound;
}
int nvmlDeviceGetUtilizationRates(void* h, Utilization* u) {
    *u = {index_of(h) == 1 ? 87u : 12u, 30u};
    return kSuccess;
}
int nvmlDeviceGetMemoryInfo(void* h, Memory* m) {
    const unsigned long long used = index_of(h) == 1 ? 40000ull << 20 : 1187ull << 20;
    *m = {81559ull << 20, (81559ull << 20) - used, used};
    return kSuccess;
}
int nvmlDeviceGetPowerUsage(void* h, unsigned* milliwatts) {
    if (index_of(h) != 1) return kNotSupported;
    *milliwatts = 312500;
    return kSuccess;
}
int nvmlDeviceGetTemperature(void* h, int sensor, unsigned* celsius) {
    if (sensor != 0) return kInvalidArgument;
    *celsius = index_of(h) == 1 ? 64u : 41u;
    return kSuccess;
}

} // extern "C"
