// The CUDA backend library's one exported symbol (backend/cuda_entry.h): the probe of the driver
// and the GPUs, and the backend's constructor.

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda_entry.h"
#include "bcd/version.h"

#include <cuda_runtime_api.h>
#include <string>

namespace bcd::cuda {

namespace {

std::string cuda_version_text(int v) {
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

// The oldest GPUs the kernels are built for: bf16 tensor cores (Ampere, compute capability 8.0).
constexpr int kMinComputeMajor = 8;

CudaProbe probe() {
    CudaProbe p;
    cudaRuntimeGetVersion(&p.runtime_version);
    if (cudaDriverGetVersion(&p.driver_version) != cudaSuccess) p.driver_version = 0;
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        if (p.driver_version == 0)
            p.reason = "no NVIDIA driver is installed (libcuda.so.1 was not found)";
        else if (e == cudaErrorInsufficientDriver)
            p.reason = "the NVIDIA driver supports CUDA " + cuda_version_text(p.driver_version) +
                       ", older than the CUDA " + cuda_version_text(p.runtime_version) +
                       " this backend was built with (update the driver)";
        else if (e == cudaErrorNoDevice)
            p.reason = "the NVIDIA driver sees no GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES)";
        else
            p.reason = std::string("the CUDA runtime cannot start: ") + cudaGetErrorString(e);
        cudaGetLastError();
        return p;
    }
    std::string too_old;
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
        GpuInfo g;
        g.index = i;
        g.name = prop.name;
        g.total_bytes = prop.totalGlobalMem;
        g.cc_major = prop.major;
        g.cc_minor = prop.minor;
        if (cudaSetDevice(i) == cudaSuccess) {
            std::size_t free = 0, total = 0;
            if (cudaMemGetInfo(&free, &total) == cudaSuccess) g.free_bytes = free;
        }
        cudaGetLastError();
        if (prop.major < kMinComputeMajor)
            too_old += (too_old.empty() ? "" : ", ") + g.name + " (compute capability " +
                       std::to_string(prop.major) + "." + std::to_string(prop.minor) + ")";
        else
            p.usable = true;
        p.gpus.push_back(g);
    }
    if (!p.usable)
        p.reason = p.gpus.empty() ? "the NVIDIA driver sees no GPU"
                                  : "every GPU is older than compute capability 8.0 (Ampere), "
                                    "which the bf16 kernels need: " +
                                        too_old;
    return p;
}

std::unique_ptr<Backend> create(Model& model, const BackendOptions& opts) {
    return make_cuda_backend(model, opts);
}

const CudaBackendEntry kEntry{kCudaBackendAbi, BCD_VERSION, &probe, &create};

} // namespace

} // namespace bcd::cuda

extern "C" __attribute__((visibility("default"))) const bcd::CudaBackendEntry*
bcd_cuda_backend_entry() {
    return &bcd::cuda::kEntry;
}
