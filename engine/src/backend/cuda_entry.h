#pragma once
// The one symbol the CUDA backend library (libbcd_backend_cuda.so) exports, and what it hands the
// engine. The engine loads the library with dlopen when a run asks for a GPU (backend/loader.cpp),
// so that bcd-train and its package run on machines without the CUDA runtime. Both sides are built
// together by this project; kCudaBackendAbi guards against a library from another build.

#include "bcd/backend.h"

#include <memory>

namespace bcd {

constexpr int kCudaBackendAbi = 1;

struct CudaBackendEntry {
    int abi = kCudaBackendAbi;
    const char* build; // engine version the library was built with
    // GPUs and the driver; never throws.
    CudaProbe (*probe)();
    // The backend on opts.device ("cuda:N"); throws DeviceUnavailable or InputError.
    std::unique_ptr<Backend> (*create)(Model& model, const BackendOptions& opts);
};

} // namespace bcd

#define BCD_CUDA_ENTRY_SYMBOL "bcd_cuda_backend_entry"
extern "C" const bcd::CudaBackendEntry* bcd_cuda_backend_entry();
