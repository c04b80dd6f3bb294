#pragma once
// The CUDA backend's host-side logic, in plain C++ so that it is unit-tested without a GPU
// (tests/engine/cuda): which copy of a tensor is kept in which type, how device memory is carved,
// the chunking of the head's cross-entropy, the truncation of the backward (which layers keep
// activations), and the bookkeeping of block switches (where each active block's trainable state
// lives, which blocks' optimizer state is offloaded to host memory and brought back).

#include "bcd/backend.h"
#include "bcd/model_config.h"
#include "bcd/param_layout.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace bcd::cuda {

enum class Dtype { F32, BF16 };
inline std::size_t dtype_bytes(Dtype d) {
    return d == Dtype::BF16 ? 2 : 4;
}
const char* dtype_name(Dtype d);

// Where each kind of tensor lives and in which type (docs/cuda-backend.md "Precision").
struct Placement {
    Dtype weights;       // every parameter's device copy (frozen blocks exist only in this form)
    Dtype activations;   // activations, the GEMMs' inputs and the attention probabilities
    Dtype master;        // the active blocks' master weights (the optimizer updates these)
    Dtype gradients;     // the active blocks' gradients (GEMMs accumulate into them in fp32)
    Dtype optimizer;     // AdamW's moments, SGD's momentum
    Dtype residual_grad; // the gradient of the residual stream between layers
    Dtype scores; // attention scores Q·Kᵀ and logits (fp32 so that softmax and CE are exact)
};
Placement placement(TrainPrecision p);

// Byte offsets in one allocation, each aligned to kAlign (the GEMMs' and vector loads' need).
constexpr std::size_t kAlign = 256;
class Carve {
public:
    // Reserves `bytes` (0 is allowed and takes no space) and returns its offset.
    std::size_t take(std::size_t bytes);
    std::size_t bytes() const { return used_; }

private:
    std::size_t used_ = 0;
};

// Rows of the head's logits computed at a time: the [rows, vocab] fp32 logits plus their gradient
// in the activation type stay within budget_bytes (at least one row, at most N).
int ce_chunk_rows(long N, long vocab, Dtype act, std::size_t budget_bytes);
constexpr std::size_t kCeChunkBudget = std::size_t(256) << 20;

// What the backward needs, from which parameter tensors have a gradient (has[i]) — the rules of
// transformer.h, shared with the CPU reference's: parameters without a gradient get none, input
// gradients stop at the lowest tensor that has one, layers below keep no activations.
struct Truncation {
    std::vector<bool> has;   // per parameter tensor
    std::vector<bool> below; // [L + 1]: a gradient is needed below the input of layer l
    int first_kept = 0;      // lowest layer that keeps activations (L: none)
    bool any_grad = false;   // anything at all to differentiate
    bool attn_part(const ParamLayout& lay, int l) const;
    bool mlp_part(const ParamLayout& lay, int l) const;
    bool need_attn_bwd(const ParamLayout& lay, int l) const;
    bool need_mlp_bwd(const ParamLayout& lay, int l) const;
    bool param(int idx) const {
        return idx >= 0 && static_cast<std::size_t>(idx) < has.size() &&
               has[static_cast<std::size_t>(idx)];
    }
};
Truncation truncation(const ParamLayout& lay, std::vector<bool> has, bool want_input_grad);

// Byte offsets of the activation and workspace buffers of one forward/backward shape in one
// allocation. Layers at or above first_kept own a set (with recomputation only their input);
// layers below share the first kept layer's set (or one shared set when none is kept).
struct LayerBuffers {
    std::size_t x = 0, rstd1 = 0, q = 0, k = 0, v = 0, lse = 0, ctx = 0, x2 = 0, rstd2 = 0,
                gate = 0, up = 0;
};
struct ActivationPlan {
    int B = 0, T = 0, first_kept = 0, ce_rows = 0;
    bool recompute = false, backward = false;
    std::vector<LayerBuffers> layers; // [L]
    LayerBuffers work;                // the recomputation's working set
    std::size_t recompute_out = 0;
    // shared by every layer
    std::size_t ln = 0, h = 0, qkv = 0, ctxp = 0, scores = 0, probs = 0;
    // the head
    std::size_t xf = 0, rstdf = 0, lnf = 0, lse_f = 0, loss = 0, logits = 0, dlogits = 0;
    std::size_t inputs = 0, targets = 0, partials = 0;
    // the backward's workspace (when backward)
    std::size_t dres = 0, dres_act = 0, dln = 0, dh = 0, dgate = 0, dup = 0, dctx = 0, dctxp = 0,
                dqkvp = 0, dqkv = 0;
    std::size_t activation_bytes = 0; // the kept sets
    std::size_t total_bytes = 0;      // everything
};
ActivationPlan plan_activations(const ModelConfig& c, int B, int T, Dtype act, int first_kept,
                                bool recompute, bool backward);
constexpr int kReducePartials = 1024; // blocks of the two-stage reductions (doubles)

// Block switches: the trainable region holds the active blocks' packed layouts one after the other
// (each at a kAlign boundary); the optimizer state of blocks that leave is kept in host memory
// (pinned), and comes back when they return, unless a reset forgets it.
class BlockBook {
public:
    BlockBook(const ParamLayout& layout, std::vector<Block> blocks, int state_floats_per_param);

    struct Enter {
        int block = 0;
        std::size_t base = 0; // floats from the start of the trainable region
        bool restore = false; // its kept state comes back from the host (else zeros)
    };
    struct Switch {
        std::vector<int> leave;   // the active blocks, which leave the region (state to host)
        std::vector<Enter> enter; // the new set, in order
        bool noop = false;        // the same set again
        bool forget_all = false;  // reset: every kept state is dropped first
        std::size_t floats = 0;   // the trainable region's size for the new set
    };
    // The switch to `next` (validated: ids in range, no repeats). The same set is an empty switch.
    Switch plan(std::span<const int> next, bool reset) const;
    void apply(const Switch& s);

    const std::vector<int>& active() const { return active_; }
    std::size_t base(int block) const; // of an active block
    const PackedLayout& layout(int block) const {
        return layouts_[static_cast<std::size_t>(block)];
    }
    const Block& block(int b) const { return blocks_[static_cast<std::size_t>(b)]; }
    std::size_t region_floats() const { return floats_; }
    // The largest trainable region one block needs (the region's initial size).
    std::size_t max_block_floats() const;
    int state_buffers() const { return state_buffers_; }

    // Optimizer steps taken with each block's state (active or kept); blocks with state.
    long& t(int block) { return t_[block]; }
    bool has_state(int block) const { return t_.count(block) > 0; }
    bool kept_on_host(int block) const { return kept_.count(block) > 0; }
    // A block that is not active gets kept state (restoring a checkpoint).
    void keep(int block);
    std::vector<int> blocks_with_state() const;

private:
    std::vector<Block> blocks_;
    std::vector<PackedLayout> layouts_;
    int state_buffers_ = 0;
    std::vector<int> active_;
    std::vector<std::size_t> bases_;
    std::size_t floats_ = 0;
    std::map<int, long> t_;
    std::map<int, bool> kept_;
};

} // namespace bcd::cuda
