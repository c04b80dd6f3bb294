#pragma once
// The computation of a model on a backend: forward, loss, and a backward that is truncated to
// what the caller asks gradients for. This is where BCD's savings come from:
//   - parameters without a gradient target get no weight gradient;
//   - input gradients are computed only down to the lowest tensor that has a target (or to the
//     embedding output when the input gradient is requested) — nothing at all below it;
//   - layers below that point run forward without keeping their activations.

#include "bcd/model.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace bcd {

// Bytes of memory by category, as the planner and the run's metrics report them.
struct MemoryStats {
    std::size_t weights = 0;
    std::size_t gradients = 0;
    std::size_t optimizer = 0;
    std::size_t activations = 0;
    std::size_t workspace = 0;
    std::size_t total() const { return weights + gradients + optimizer + activations + workspace; }
};

struct LossSum {
    double sum = 0.0; // Σ of the token losses
    long count = 0;   // tokens with a target (targets of -100 are ignored)
    double mean() const { return count > 0 ? sum / static_cast<double>(count) : 0.0; }
};

class Transformer {
public:
    virtual ~Transformer() = default;

    // grads[i] receives the gradient of parameter tensor i (ParamLayout order, numel floats) or is
    // null for a frozen tensor. For a tied model the embedding's target also receives the
    // lm_head contribution. With want_input_grad, input_grad() is filled by backward().
    virtual void set_grad_targets(std::vector<float*> grads, bool want_input_grad = false) = 0;

    // Runs the model on inputs/targets [B, T] (row-major, positions 0..T-1 in each row); keeps
    // what backward() needs. Targets of -100 are ignored.
    virtual LossSum forward(const std::int32_t* inputs, const std::int32_t* targets, int B,
                            int T) = 0;

    // Accumulates scale · ∂(Σ token losses)/∂θ into the gradient targets (for the mean loss of
    // a batch, scale = 1 / count). Must follow forward().
    virtual void backward(float scale) = 0;

    // Activation recomputation: layers that need a backward keep only their input in the
    // forward, and the backward re-runs each layer's forward just before differentiating it.
    // Saves all but one layer's activations for one more forward of those layers; the gradients
    // are bitwise the same.
    virtual void set_recompute(bool on) = 0;

    // [B·T, vocab] logits of the last forward; invalidated by backward().
    virtual std::span<const float> logits() const = 0;
    // [B·T, hidden]: gradient with respect to the embedding output, after backward().
    virtual std::span<const float> input_grad() const = 0;

    // Incremental decoding of one sequence with a key/value cache (sampling): start_decoding()
    // sizes the cache for max_len positions; each decode_next(token) appends the token at the
    // next position and returns the logits [vocab] for the position after it. The logits equal
    // forward()'s at the same positions (to fp32 rounding).
    virtual void start_decoding(int max_len) = 0;
    virtual std::span<const float> decode_next(std::int32_t token) = 0;

    // Activations and workspace held by the backend (weights as the backend holds them).
    virtual MemoryStats memory() const = 0;
};

// The fp32 CPU reference backend (OpenBLAS + OpenMP). Computes on the model's own parameters,
// which must outlive it.
std::unique_ptr<Transformer> make_cpu_transformer(Model& model);

// Sets the number of threads of OpenMP and OpenBLAS (0 = all cores).
void set_cpu_threads(int threads);
int cpu_threads();

} // namespace bcd
