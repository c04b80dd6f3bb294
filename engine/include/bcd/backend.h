#pragma once
// The device seam (DESIGN.md §2, docs/architecture.md "Backends"). A Backend owns everything of a
// run that lives on a compute device:
//   - the weights in the run's precision (fp32 on the CPU; bf16 or fp32 on a GPU),
//   - the trainable (active) blocks' state: fp32 master weights, gradients, optimizer moments,
//   - forward and the backward truncated at the lowest active block,
//   - gradient norm, clipping and the optimizer step of the active blocks,
//   - switching blocks (and keeping or offloading the state of inactive ones),
//   - a gradient-free forward for evaluation and decoding for `sample`, on the same instance,
//   - copies back to the host Model for checkpoints.
// The trainer holds the host Model (the fp32 master of every parameter), the block schedule, the
// data and the run folder, and talks to the device only through this interface. The CPU backend
// (backend/cpu) is the fp32 reference; the CUDA backend (backend/cuda) is a shared library that is
// loaded at run time, so that an engine without the CUDA runtime still runs.

#include "bcd/blocks.h"
#include "bcd/buffer.h"
#include "bcd/model.h"
#include "bcd/optimizer.h"
#include "bcd/transformer.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace bcd {

enum class TrainPrecision { FP32, BF16 };

// "fp32" / "bf16"; parse_precision throws std::invalid_argument for anything else.
const char* precision_name(TrainPrecision p);
TrainPrecision parse_precision(const std::string& name);

struct BackendOptions {
    std::string device =
        "cpu"; // "cpu" or "cuda:N" (resolve_device() turns "auto"/"cuda" into these)
    TrainPrecision precision = TrainPrecision::FP32;
    int threads = 0;             // CPU threads (0: every core)
    bool recompute = false;      // recompute activations in the backward (docs/training.md)
    bool offload_states = false; // inactive blocks' kept optimizer state in (pinned) host memory
    OptimizerSettings optimizer; // which state buffers a parameter needs (AdamW: m and v)
    std::vector<Block> blocks;   // the run's partition; empty for evaluation and sampling only
    int max_batch = 0;           // the largest micro-batch forward() will see: B ...
    int max_seq = 0;             // ... and T (a GPU backend sizes its arena from them; 0: grow)
    std::uint64_t seed = 1;      // stochastic rounding streams (bf16)
};

// The optimizer state of one block in host memory, in the block's packed layout: its tensors in
// order, each starting at a multiple of 16 floats (packed_layout()). t counts the optimizer steps
// taken with this state (AdamW's bias correction, SGD's first momentum step).
struct BlockState {
    long t = 0;
    FloatBuffer m, v; // empty when the optimizer has no such buffer
};

// Offsets (floats) of each tensor of `block` in its packed layout, and the layout's total size.
struct PackedLayout {
    std::vector<std::size_t> offsets;
    std::size_t total = 0;
};
PackedLayout packed_layout(const ParamLayout& layout, const Block& block);

// The gradients of the active blocks: one contiguous fp32 range, the active blocks' packed
// layouts one after the other in activation order. A communicator all-reduces it in place.
struct GradientView {
    float* data = nullptr;
    std::size_t count = 0;
    bool on_device = false; // device memory (CUDA), else host memory
};

class Backend {
public:
    virtual ~Backend() = default;

    // "cpu" or "cuda" (the metrics' "device") and one line for train.log.
    virtual std::string kind() const = 0;
    virtual std::string describe() const = 0;
    virtual TrainPrecision precision() const = 0;

    // --- The trainable blocks ------------------------------------------------------------------
    // Makes `blocks` (ids into BackendOptions::blocks, no repeats) the trainable set, in that
    // order. Gradient buffers are made for them (zeros). With reset_states every block's optimizer
    // state is forgotten first (BAdam's reset at a switch), so the new set starts from zeros
    // (t = 0); otherwise each block takes its kept state, or zeros when it has none. Blocks that
    // leave the set write their master weights back to the host Model (and refresh the device's
    // copy in the run's precision); their state is kept (in host memory with offload_states). The
    // same set again is a no-op (reset_states included).
    virtual void activate(std::span<const int> blocks, bool reset_states) = 0;
    virtual const std::vector<int>& active() const = 0;

    // --- One optimizer step --------------------------------------------------------------------
    virtual void zero_grads() = 0;
    // Forward of a micro-batch [B, T] (row-major inputs and targets, -100 ignored), keeping what
    // backward() needs. B and T must not exceed BackendOptions::max_batch / max_seq when set.
    virtual LossSum forward(const std::int32_t* inputs, const std::int32_t* targets, int B,
                            int T) = 0;
    // Accumulates scale · ∂(Σ token losses)/∂θ into the active blocks' gradients.
    virtual void backward(float scale) = 0;
    virtual GradientView gradients() = 0;
    // ‖g‖₂ over the active blocks (fp64 accumulation in a fixed order on the CPU).
    virtual double grad_norm() = 0;
    // torch.nn.utils.clip_grad_norm_: scales the gradients by max_norm / (norm + 1e-6) when < 1.
    virtual void clip_gradients(double norm, double max_norm) = 0;
    // One optimizer step of every active block: its t += 1, then AdamW / SGD with lr.
    virtual void optimizer_step(const OptimizerSettings& s, double lr) = 0;

    // --- Without gradients -----------------------------------------------------------------------
    // Loss of a micro-batch without keeping activations or touching gradients (evaluation).
    virtual LossSum evaluate(const std::int32_t* inputs, const std::int32_t* targets, int B,
                             int T) = 0;
    // Releases what evaluate() made (the CPU's separate activations); the next evaluate() makes
    // it again.
    virtual void end_evaluation() = 0;
    // Incremental decoding of one sequence (transformer.h).
    virtual void start_decoding(int max_len) = 0;
    virtual std::span<const float> decode_next(std::int32_t token) = 0;

    // --- Host copies -----------------------------------------------------------------------------
    // Makes the host Model's fp32 parameters equal to the trained weights (before a checkpoint or
    // the final save).
    virtual void sync_to_host() = 0;
    // Blocks that hold optimizer state, ascending; host copies of one's state; and restoring it
    // (sizes must equal packed_layout(...).total of the block).
    virtual std::vector<int> blocks_with_state() const = 0;
    virtual BlockState read_state(int block) = 0;
    virtual void write_state(int block, BlockState state) = 0;

    // Bytes by category on the device (weights, gradients, optimizer state, activations,
    // workspace).
    virtual MemoryStats memory() const = 0;
};

// A device that was asked for by name and cannot be used; what() is the precise reason (no
// driver, driver too old, a missing library, no such GPU, an engine built without CUDA).
class DeviceUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The GPUs the CUDA backend sees, or why it cannot run (`bcd-train devices`, device.kind auto).
struct GpuInfo {
    int index = 0;
    std::string name;
    std::uint64_t total_bytes = 0, free_bytes = 0;
    int cc_major = 0, cc_minor = 0; // compute capability
};
struct CudaProbe {
    bool usable = false;     // at least one GPU the backend can run on
    std::string reason;      // why not, when !usable
    int driver_version = 0;  // CUDA version the driver supports (e.g. 13000), 0 when unknown
    int runtime_version = 0; // CUDA runtime the backend was built with
    std::vector<GpuInfo> gpus;
};
// Loads the CUDA backend library (when this engine has one) and asks it; never throws.
CudaProbe probe_cuda();

// The fp32 CPU reference backend (OpenBLAS + OpenMP). Computes on `model`'s own parameters, which
// must outlive it.
std::unique_ptr<Backend> make_cpu_backend(Model& model, const BackendOptions& opts);

// The device a run asks for ("auto", "cpu", "cuda", "cuda:N"), resolved: "cpu" or "cuda:N".
// `note` says why "auto" chose the CPU (no usable GPU, and why not). Asking for "cuda" or "cuda:N"
// without a usable GPU throws DeviceUnavailable with the precise reason.
struct DeviceChoice {
    std::string device;
    std::string note;
};
DeviceChoice resolve_device(const std::string& kind);

// The backend of opts.device ("cpu" or "cuda:N"). bf16 needs a GPU: the CPU backend refuses it.
std::unique_ptr<Backend> make_backend(Model& model, const BackendOptions& opts);

} // namespace bcd
