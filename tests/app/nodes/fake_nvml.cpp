// A stand-in for libnvidia-ml.so.1 with the NVML entry points app/nodes/nvml_gpus.cpp calls, so
// that the NVML probe is tested on machines without an NVIDIA driver. Its GPUs: an H100 (busy)
// and an RTX 4090 that reports no utilization. The environment steers it:
//   FAKE_NVML_INIT_ERROR=N  nvmlInit_v2 returns N (9: driver not loaded)
//   FAKE_NVML_COUNT=N       N devices (default 2)
//   FAKE_NVML_LOG=FILE      appends "init", "shutdown" to FILE (pairing is checked)
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

struct Device {
    const char* name;
    const char* uuid;
    unsigned long long total, used;
    int major, minor;
    int utilization; // -1: not supported
};
const Device kDevices[] = {
    {"NVIDIA H100 80GB HBM3", "GPU-2b7f4d9e-8a1c-63e5-f0b2-c4a9d7e15386", 81559ull << 20,
     40000ull << 20, 9, 0, 87},
    {"NVIDIA GeForce RTX 4090", "GPU-9c4e1b7a-52d8-f3a6-0b9e-7d2c81f5e4a0", 24564ull << 20,
     1187ull << 20, 8, 9, -1},
};
constexpr int kSuccess = 0, kInvalidArgument = 2, kNotSupported = 3, kInsufficientSize = 7;

void log(const char* what) {
    if (const char* file = std::getenv("FAKE_NVML_LOG"))
        if (FILE* f = std::fopen(file, "a")) {
            std::fprintf(f, "%s\n", what);
            std::fclose(f);
        }
}
unsigned count() {
    const char* n = std::getenv("FAKE_NVML_COUNT");
    return n ? static_cast<unsigned>(std::atoi(n)) : 2u;
}
const Device* device(void* handle) {
    const auto i = reinterpret_cast<unsigned long>(handle);
    return i >= 1 && i <= 2 ? &kDevices[i - 1] : nullptr;
}
int copy(const char* text, char* out, unsigned size) {
    if (std::strlen(text) + 1 > size) return kInsufficientSize;
    std::strcpy(out, text);
    return kSuccess;
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
    log("init");
    return kSuccess;
}
int nvmlShutdown() {
    log("shutdown");
    return kSuccess;
}
const char* nvmlErrorString(int rc) {
    return rc == 9 ? "Driver Not Loaded" : "Unknown Error";
}
int nvmlSystemGetDriverVersion(char* out, unsigned size) {
    return copy("550.90.07", out, size);
}
int nvmlDeviceGetCount_v2(unsigned* n) {
    *n = count();
    return kSuccess;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** handle) {
    if (i >= 2) return kInvalidArgument;
    *handle = reinterpret_cast<void*>(static_cast<unsigned long>(i + 1));
    return kSuccess;
}
int nvmlDeviceGetName(void* h, char* out, unsigned size) {
    const Device* d = device(h);
    return d ? copy(d->name, out, size) : kInvalidArgument;
}
int nvmlDeviceGetUUID(void* h, char* out, unsigned size) {
    const Device* d = device(h);
    return d ? copy(d->uuid, out, size) : kInvalidArgument;
}
int nvmlDeviceGetMemoryInfo(void* h, Memory* m) {
    const Device* d = device(h);
    if (!d) return kInvalidArgument;
    *m = {d->total, d->total - d->used, d->used};
    return kSuccess;
}
int nvmlDeviceGetCudaComputeCapability(void* h, int* major, int* minor) {
    const Device* d = device(h);
    if (!d) return kInvalidArgument;
    *major = d->major;
    *minor = d->minor;
    return kSuccess;
}
int nvmlDeviceGetUtilizationRates(void* h, Utilization* u) {
    const Device* d = device(h);
    if (!d) return kInvalidArgument;
    if (d->utilization < 0) return kNotSupported;
    *u = {static_cast<unsigned>(d->utilization), 10};
    return kSuccess;
}

} // extern "C"
