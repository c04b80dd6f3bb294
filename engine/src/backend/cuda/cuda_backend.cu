// Placeholder until the CUDA backend's training path lands: the library loads, probes and
// reports GPUs, and refuses to train with a clear reason.

#include "backend/cuda/cuda_backend.h"

namespace bcd::cuda {

std::unique_ptr<Backend> make_cuda_backend(Model&, const BackendOptions&) {
    throw DeviceUnavailable("the CUDA backend's training path is not part of this build yet");
}

} // namespace bcd::cuda
