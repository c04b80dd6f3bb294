#pragma once
// Learning-rate schedules and the optimizers of docs/training.md, in PyTorch's formulas. An
// optimizer updates one block: a list of tensors, each a (parameter, gradient, state) triple of
// spans, so the same code serves one layer (BCD) and the whole model (full training).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bcd {

struct LrSchedule {
    std::string kind = "constant"; // constant | cosine | linear
    double lr = 3e-4;
    double min_lr = 0.0;
    long warmup_steps = 0;
    long total_steps = 1;
    double at(long step) const; // step is 1-based
};

struct OptimizerSettings {
    std::string name = "adamw"; // adamw | sgd
    double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
    double weight_decay = 0.0;
    double momentum = 0.0;
};

// One tensor of the active block.
struct TensorSlot {
    float* param = nullptr;
    float* grad = nullptr;
    float* m = nullptr; // AdamW first moment / SGD momentum buffer (null when unused)
    float* v = nullptr; // AdamW second moment
    std::size_t n = 0;
    bool decay = false;
};

// Buffers (floats per parameter) of optimizer state: AdamW 2, SGD with momentum 1, plain SGD 0.
int state_floats_per_param(const OptimizerSettings& s);

// ‖g‖₂ over every slot's gradient (fp64 accumulation in a fixed order).
double grad_norm(std::span<const TensorSlot> slots);
// torch.nn.utils.clip_grad_norm_: with k = max_norm / (norm + 1e-6), scales gradients by k if k
// < 1.
void clip_gradients(std::span<const TensorSlot> slots, double norm, double max_norm);

// One optimizer step over the slots. `t` is the block's step count (1 on its first step), used
// by AdamW's bias correction and SGD's first-step momentum.
void optimizer_step(const OptimizerSettings& s, std::span<const TensorSlot> slots, double lr,
                    long t);

} // namespace bcd
