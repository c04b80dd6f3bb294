#pragma once
// The planner's internal model of a run: the shapes it needs, the blocks of the partition with
// what each one costs, and the memory and time of one block being active. Formulas:
// docs/planner.md.

#include "bcd/plan.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bcd::plan_detail {

struct Shape {
    std::uint64_t L = 0, h = 0, hq = 0, hkv = 0, f = 0, V = 0, heads = 0, head_dim = 0;
    std::uint64_t params = 0; // all parameters
    std::uint64_t layout_floats =
        0; // the CPU engine's parameter allocation (64-byte aligned tensors)
    std::uint64_t layer_matmul = 0;    // matmul parameters of one layer
    std::uint64_t max_unit_params = 0; // the largest of: a layer, the embedding, the head
    std::uint64_t max_layer_params = 0;
    explicit Shape(const ModelConfig& c);
};

// One block of the partition as the planner sees it.
struct BlockCost {
    int id = 0;
    std::string name;
    std::uint64_t params = 0;
    std::uint64_t padded_floats = 0; // the CPU trainer's packed gradient buffer (16-float tensors)
    int first_kept = 0;              // lowest layer that keeps activations (L: none)
    bool embed = false;       // the embedding (or a tied head) trains: gradients reach the input
    bool head_weight = false; // lm_head's weight gradient is computed
    bool head_input = false;  // the gradient passes the head (anything but lm_head alone trains)
    std::vector<double>
        layer_weight_fraction; // per layer: share of its matmul weights in the block
    double weight = 1.0;       // share of the schedule's steps
    // Parameters (and the CPU's padded floats) of the blocks outside this one or this set: their
    // optimizer state is kept without reset_state_on_switch.
    std::uint64_t others_params = 0, others_padded = 0;
};

// Blocks of the partition: BCD's (default or explicit), or full training's single block.
std::vector<BlockCost> partition(const PlanInput& in, Mode mode, int layers_per_block);
// The active sets of docs/training.md "Active sets" as merged costs (γ > 1 or order lisa): γ
// consecutive places from every place of the cycle, plus, for drawn orders, the largest γ blocks
// as a memory bound with no share of the steps.
std::vector<BlockCost> active_sets(const PlanInput& in, const std::vector<BlockCost>& blocks);

// Bytes per device with `b` active. `host` receives offloaded bytes per node.
MemoryBreakdown block_memory(const PlanInput& in, Mode mode, const Setting& s, const BlockCost& b,
                             const std::vector<BlockCost>& all, std::uint64_t* host);
// Short-lived peaks the steady state does not show (the CPU engine mapping its weight files
// while loading; the evaluation's buffers). 0 when none.
std::uint64_t transient_peak(const PlanInput& in, const MemoryBreakdown& steady);

struct StepFlops {
    double forward = 0.0;  // per token
    double backward = 0.0; // per token, recomputation included
    double total() const { return forward + backward; }
};
StepFlops block_flops(const PlanInput& in, const Setting& s, const BlockCost& b);

struct StepTime {
    double compute_s = 0.0, comm_s = 0.0, optimizer_s = 0.0;
    double step_s() const { return compute_s + comm_s + optimizer_s; }
};
// Time of one optimizer step per device with `b` active (compute at peak × efficiency).
StepTime block_time(const PlanInput& in, Mode mode, const Setting& s, const BlockCost& b,
                    double peak_flops, double efficiency);

std::uint64_t state_floats_per_param(const PlanInput& in); // AdamW 2, SGD with momentum 1, else 0

} // namespace bcd::plan_detail
