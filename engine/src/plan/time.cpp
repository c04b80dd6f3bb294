// FLOPs per token and the time of one optimizer step (docs/planner.md#time).

#include "plan/plan_model.h"

#include <algorithm>

namespace bcd::plan_detail {

StepFlops block_flops(const PlanInput& in, const Setting& s, const BlockCost& b) {
    const Shape sh(in.model);
    const double T = in.seq_len, h = static_cast<double>(sh.h), V = static_cast<double>(sh.V);
    const double matmul = static_cast<double>(sh.layer_matmul);
    // Causal attention: QKᵀ and AV over t keys for the token at position t, on average T/2
    // (flash attention skips the masked half): 2 · 2 · (T/2) · hq per token and layer.
    const double attn = 2.0 * T * static_cast<double>(sh.hq);
    const double layer_fwd = 2.0 * matmul + attn;
    const double head = 2.0 * h * V;

    StepFlops f;
    f.forward = static_cast<double>(sh.L) * layer_fwd + head;
    if (b.head_weight) f.backward += head; // lm_head's weight gradient
    if (b.head_input) f.backward += head;  // the gradient of the head's input
    for (std::size_t l = static_cast<std::size_t>(b.first_kept); l < sh.L; ++l) {
        // Input gradients of every matmul; flash attention's backward is 2.5 × its forward
        // (it recomputes the scores: five matmuls against two).
        double input = 2.0 * matmul + 2.5 * attn;
        // Below the lowest trained layer nothing needs a gradient: its q/k/v projections skip
        // their input gradient.
        if (l == static_cast<std::size_t>(b.first_kept) && !b.embed)
            input -= 2.0 * h * static_cast<double>(sh.hq + 2 * sh.hkv);
        f.backward += input + 2.0 * matmul * b.layer_weight_fraction[l];
        if (s.recompute) f.backward += layer_fwd; // the layer's forward, run again
    }
    return f;
}

namespace {

// Ring all-reduce of `bytes` over the cluster, hierarchical: within a node over the link, then
// across nodes over the network (2(n−1)/n of the data crosses each).
double allreduce_s(const Hardware& hw, double bytes) {
    const double G = hw.per_node(), M = hw.nodes();
    double t = 0.0;
    if (G > 1 && hw.link.gbps > 0) t += 2.0 * (G - 1) / G * bytes / (hw.link.gbps * 1e9);
    if (M > 1 && hw.network.gbps > 0)
        t += 2.0 * (M - 1) / M * bytes / (hw.network.gbps * hw.network_ports * 1e9);
    return t;
}

} // namespace

StepTime block_time(const PlanInput& in, Mode mode, const Setting& s, const BlockCost& b,
                    double peak_flops, double efficiency) {
    const Shape sh(in.model);
    const Hardware& hw = in.hardware;
    const PlanConstants& k = in.constants;
    const double tokens = static_cast<double>(s.micro_batch) * s.grad_accum * in.seq_len;
    const StepFlops fl = block_flops(in, s, b);
    StepTime t;
    t.compute_s = tokens * fl.total() / (peak_flops * efficiency);
    const double backward_s = t.compute_s * fl.backward / fl.total();
    const double states = static_cast<double>(state_floats_per_param(in));

    if (hw.is_cpu()) {
        // The optimizer streams gradient, parameter (read and write) and each state (read and
        // write) through memory.
        t.optimizer_s = static_cast<double>(b.padded_floats) * 4.0 * (3.0 + 2.0 * states) /
                        (k.cpu_memory_gbps * 1e9);
        // Data parallel: the trained block's fp32 gradients are all-reduced after the backward
        // (MPI on host buffers, not overlapped): through memory between the ranks of a node, over
        // the network between nodes.
        if (hw.world_size() > 1) {
            const double bytes = 4.0 * static_cast<double>(b.params);
            const double G = hw.per_node(), M = hw.nodes();
            if (G > 1) t.comm_s += 2.0 * (G - 1) / G * bytes / (k.cpu_memory_gbps * 1e9);
            if (M > 1) {
                const double gbps = hw.network.gbps > 0 ? hw.network.gbps : k.cpu_network_gbps;
                t.comm_s += 2.0 * (M - 1) / M * bytes / (gbps * 1e9);
            }
        }
        return t;
    }

    const bool mixed = in.precision == Precision::Bf16Mixed;
    const double wb = mixed ? 2.0 : 4.0;
    const double world = hw.world_size();
    const double P = static_cast<double>(sh.params);
    const double hbm = hw.memory_gbps() > 0 ? hw.memory_gbps() * 1e9 : 0.0;

    if (mode == Mode::Bcd) {
        // The block's gradients are complete only when the truncated backward ends: their
        // all-reduce cannot hide behind it.
        if (world > 1) t.comm_s = allreduce_s(hw, 4.0 * static_cast<double>(b.params));
        const double per_param = 4.0 + (mixed ? 8.0 + wb : 8.0) + 8.0 * states;
        if (hbm > 0) t.optimizer_s = static_cast<double>(b.params) * per_param / hbm;
        return t;
    }

    const double grads = wb * P, params = wb * P;
    double overlapped = 0.0, window = 0.0, exposed = 0.0;
    if (world > 1) {
        switch (s.sharding) {
        case Sharding::None:
        case Sharding::Zero1:
            // One all-reduce (ZeRO-1: reduce-scatter + all-gather, the same volume) in the last
            // micro-batch's backward.
            overlapped = allreduce_s(hw, grads);
            window = backward_s / s.grad_accum;
            break;
        case Sharding::Zero2:
            // A reduce-scatter in every micro-batch's backward; the updated parameters are
            // all-gathered after the step.
            overlapped = s.grad_accum * allreduce_s(hw, grads) / 2.0;
            window = backward_s;
            exposed = allreduce_s(hw, params) / 2.0;
            break;
        case Sharding::Zero3:
            // Per micro-batch: parameters gathered for the forward and again for the backward,
            // gradients reduce-scattered; prefetching hides them behind all the compute.
            overlapped = s.grad_accum * (allreduce_s(hw, params) + allreduce_s(hw, grads) / 2.0);
            window = t.compute_s;
            break;
        }
    }
    t.comm_s = std::max(0.0, overlapped - window) + exposed;

    const double shard = s.sharding == Sharding::None ? P : P / world;
    if (s.offload == Offload::None) {
        const double per_param = wb + (mixed ? 8.0 + wb : 8.0) + 8.0 * states;
        if (hbm > 0) t.optimizer_s = shard * per_param / hbm;
    } else {
        // ZeRO-Offload: the CPU updates the node's share; each GPU copies its gradient shard down
        // and its parameter shard back over PCIe.
        t.optimizer_s = P / hw.nodes() / k.host_adam_params_per_s +
                        (grads + params) / world / (k.pcie_gbps * 1e9);
        if (s.offload == Offload::OptimizerAndParams)
            t.comm_s += s.grad_accum * 2.0 * params / world / (k.pcie_gbps * 1e9);
    }
    return t;
}

} // namespace bcd::plan_detail
