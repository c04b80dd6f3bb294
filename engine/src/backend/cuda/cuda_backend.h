#pragma once
// The CUDA backend (bcd/backend.h): bf16 (or fp32) weights and activations with fp32 accumulation,
// the active blocks' fp32 master weights, gradients and AdamW/SGD state on the GPU, one arena
// allocation per run. Built into libbcd_backend_cuda.so only.

#include "bcd/backend.h"

#include <memory>

namespace bcd::cuda {

// opts.device is "cuda:N". Throws DeviceUnavailable (no such GPU, not enough memory, ...).
std::unique_ptr<Backend> make_cuda_backend(Model& model, const BackendOptions& opts);

} // namespace bcd::cuda
