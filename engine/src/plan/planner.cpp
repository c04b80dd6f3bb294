// The fit search and the advice (docs/planner.md#fit).

#include "bcd/errors.h"
#include "plan/plan_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bcd {

using plan_detail::BlockCost;

namespace {

using u64 = std::uint64_t;

// The CPU backend trains in fp32 whatever the config says.
PlanInput effective(const PlanInput& in) {
    PlanInput e = in;
    if (e.hardware.is_cpu()) {
        e.precision = Precision::Fp32;
        e.force_sharding.reset();
        e.force_offload.reset();
    }
    return e;
}

double margin_of(const PlanInput& in) {
    return in.safety_margin.value_or(in.constants.safety_margin);
}

double efficiency_of(const PlanInput& in) {
    if (in.efficiency) return *in.efficiency;
    return in.hardware.is_cpu() ? in.constants.cpu_efficiency : in.constants.gpu_efficiency;
}

// How many times a phase runs in `steps` steps: at every multiple of `every` and at the last step
// (the trainer's rule); `every` 0: once, at the end, when `at_end`.
long occurrences(long steps, long every, bool at_end) {
    if (steps <= 0) return 0;
    if (every <= 0) return at_end ? 1 : 0;
    return steps / every + (steps % every != 0 ? 1 : 0);
}

// The whole run's time: steps, evaluations, checkpoints, the final model
// (docs/planner.md#run-time).
void run_time(const PlanInput& in, Mode mode, const Setting& s,
              const std::vector<BlockCost>& blocks, Plan& p) {
    TimeEstimate& t = p.time;
    if (in.steps <= 0) return;
    t.train_s = t.step_s * static_cast<double>(in.steps);
    // An evaluation is a forward of every layer over the validation tokens, shared by the devices.
    if (in.evaluates && in.eval_tokens > 0 && !blocks.empty()) {
        t.evals = occurrences(in.steps, in.eval_every, true);
        const double fwd = plan_detail::block_flops(in, s, blocks.front()).forward;
        t.eval_s = static_cast<double>(in.eval_tokens) * fwd /
                   (static_cast<double>(p.world_size) * t.peak_flops * t.efficiency);
    }
    // A checkpoint holds the fp32 weights and the optimizer state of what trains (full: every
    // parameter; BCD: the largest block), written by one process.
    const std::uint64_t trained = mode == Mode::Full ? p.params : p.worst_block_params;
    t.checkpoint_bytes = 4 * p.params + 4 * trained * plan_detail::state_floats_per_param(in);
    const double rate = in.constants.disk_write_gbps * 1e9;
    if (in.checkpoint_every > 0) {
        t.checkpoints = occurrences(in.steps, in.checkpoint_every, false);
        t.checkpoint_s = static_cast<double>(t.checkpoint_bytes) / rate;
    }
    t.final_s = 4.0 * static_cast<double>(p.params) / rate;
    t.run_s = t.train_s + static_cast<double>(t.evals) * t.eval_s +
              static_cast<double>(t.checkpoints) * t.checkpoint_s + t.final_s;
}

Plan evaluate_blocks(const PlanInput& in, Mode mode, const Setting& s,
                     const std::vector<BlockCost>& blocks) {
    Plan p;
    p.mode = mode;
    p.setting = s;
    p.precision = in.precision;
    p.params = in.model.num_params();
    p.num_blocks = static_cast<int>(blocks.size());
    p.device = in.hardware.describe();
    p.world_size = in.hardware.world_size();
    p.capacity_bytes = in.hardware.memory_bytes();
    p.safety_margin = margin_of(in);
    p.usable_bytes =
        static_cast<u64>(static_cast<double>(p.capacity_bytes) * (1.0 - p.safety_margin));

    bool first = true;
    for (const auto& b : blocks) {
        u64 host = 0;
        const MemoryBreakdown m = plan_detail::block_memory(in, mode, s, b, blocks, &host);
        if (first || m.total() > p.memory.total()) {
            p.memory = m;
            p.worst_block = b.id;
            p.worst_block_name = b.name;
            p.worst_block_params = b.params;
        }
        p.host_bytes = std::max(p.host_bytes, host);
        first = false;
    }
    p.peak_bytes = std::max(p.memory.total(), plan_detail::transient_peak(in, p.memory));
    p.fits = p.peak_bytes <= p.usable_bytes;

    TimeEstimate& t = p.time;
    t.peak_flops = in.hardware.peak_flops(in.precision, in.constants);
    t.efficiency = efficiency_of(in);
    t.usd_per_hour = in.hardware.usd_per_hour();
    t.tokens_per_step =
        static_cast<double>(p.world_size) * s.micro_batch * s.grad_accum * in.seq_len;
    if (t.peak_flops > 0 && t.efficiency > 0) {
        for (const auto& b : blocks) {
            const auto fl = plan_detail::block_flops(in, s, b);
            const auto st = plan_detail::block_time(in, mode, s, b, t.peak_flops, t.efficiency);
            t.flops_per_token += b.weight * fl.total();
            t.compute_s += b.weight * st.compute_s;
            t.comm_s += b.weight * st.comm_s;
            t.optimizer_s += b.weight * st.optimizer_s;
        }
        t.step_s = t.compute_s + t.comm_s + t.optimizer_s;
        t.known = t.step_s > 0;
        if (t.known) {
            t.tokens_per_s = t.tokens_per_step / t.step_s;
            t.hours_per_billion_tokens = 1e9 / t.tokens_per_s / 3600.0;
            if (t.usd_per_hour)
                t.usd_per_billion_tokens = t.hours_per_billion_tokens * *t.usd_per_hour;
            run_time(in, mode, s, blocks, p);
        }
    } else {
        for (const auto& b : blocks)
            t.flops_per_token += b.weight * plan_detail::block_flops(in, s, b).total();
    }
    return p;
}

struct Combo {
    Sharding sharding;
    Offload offload;
};

std::vector<Combo> combos(const PlanInput& in, Mode mode) {
    if (mode == Mode::Bcd || in.hardware.is_cpu()) return {{Sharding::None, Offload::None}};
    std::vector<Combo> all;
    if (in.hardware.world_size() > 1) {
        for (Offload o : {Offload::None, Offload::Optimizer})
            for (Sharding s : {Sharding::None, Sharding::Zero1, Sharding::Zero2, Sharding::Zero3})
                all.push_back({s, o});
    } else {
        all = {{Sharding::None, Offload::None}, {Sharding::None, Offload::Optimizer}};
    }
    all.push_back({Sharding::Zero3, Offload::OptimizerAndParams});
    if (in.force_sharding || in.force_offload) {
        const Sharding fs = in.force_sharding.value_or(Sharding::None);
        const Offload fo = in.force_offload.value_or(Offload::None);
        std::vector<Combo> only;
        for (const auto& c : all)
            if ((!in.force_sharding || c.sharding == fs) && (!in.force_offload || c.offload == fo))
                only.push_back(c);
        if (only.empty()) only.push_back({fs, fo}); // e.g. ZeRO-2 on one GPU: plan it as asked
        return only;
    }
    return all;
}

std::vector<int> micro_batches(const PlanInput& in) {
    const int windows = in.batch_size * in.grad_accum;
    std::vector<int> out;
    for (int d = in.batch_size; d >= 1; --d)
        if (windows % d == 0) out.push_back(d);
    return out;
}

// A better fitting plan: faster; on a tie (or without a time), the earlier one.
bool better(const Plan& a, const Plan& best, bool have) {
    if (!have) return true;
    if (a.time.known && best.time.known)
        return a.time.tokens_per_s > best.time.tokens_per_s * (1.0 + 1e-9);
    return false;
}

std::string gib(u64 b) {
    return format_bytes(b);
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

struct Search {
    Plan best;
    bool have = false;
    bool config_fits = false;
    Plan smallest; // the least memory of all tried
    bool have_smallest = false;
    std::vector<Plan> alternatives;
};

Search search(const PlanInput& in, Mode mode) {
    Search r;
    const bool explicit_blocks = mode == Mode::Bcd && in.blocks.has_value();
    std::vector<int> lpbs;
    if (mode == Mode::Full)
        lpbs = {in.model.num_layers};
    else if (explicit_blocks)
        lpbs = {0};
    else
        for (int l = std::min(in.layers_per_block, in.model.num_layers); l >= 1; --l)
            lpbs.push_back(l);
    const std::vector<int> micros = micro_batches(in);
    const std::vector<bool> recomputes =
        in.recompute ? std::vector<bool>{true} : std::vector<bool>{false, true};
    const int windows = in.batch_size * in.grad_accum;

    for (int lpb : lpbs) {
        const auto blocks = plan_detail::partition(in, mode, lpb == 0 ? 1 : lpb);
        for (const Combo& c : combos(in, mode)) {
            Plan combo_best;
            bool combo_have = false;
            Plan combo_smallest;
            bool combo_have_smallest = false;
            for (bool rc : recomputes)
                for (int micro : micros) {
                    Setting s;
                    s.micro_batch = micro;
                    s.grad_accum = windows / micro;
                    s.recompute = rc;
                    s.sharding = c.sharding;
                    s.offload = c.offload;
                    s.layers_per_block = mode == Mode::Full ? in.model.num_layers : lpb;
                    Plan p = evaluate_blocks(in, mode, s, blocks);
                    const bool as_config =
                        micro == in.batch_size && rc == in.recompute &&
                        (mode == Mode::Full || explicit_blocks || lpb == in.layers_per_block);
                    if (p.fits && as_config) r.config_fits = true;
                    if (!r.have_smallest || p.peak_bytes < r.smallest.peak_bytes) {
                        r.smallest = p;
                        r.have_smallest = true;
                    }
                    if (!combo_have_smallest || p.peak_bytes < combo_smallest.peak_bytes) {
                        combo_smallest = p;
                        combo_have_smallest = true;
                    }
                    if (!p.fits) continue;
                    if (better(p, combo_best, combo_have)) {
                        combo_best = p;
                        combo_have = true;
                    }
                    if (better(p, r.best, r.have)) {
                        r.best = p;
                        r.have = true;
                    }
                }
            if (mode == Mode::Full)
                r.alternatives.push_back(combo_have ? combo_best : combo_smallest);
        }
        if (r.have) break; // BCD: the largest layers_per_block that fits
    }
    return r;
}

// The least memory the search can reach: micro-batch 1, recomputation, and (full training on
// GPUs) the sharding / offload that needs the least.
Plan frugal(const PlanInput& in, Mode mode) {
    Setting s;
    s.micro_batch = 1;
    s.grad_accum = in.batch_size * in.grad_accum;
    s.recompute = true;
    s.layers_per_block = mode == Mode::Full ? in.model.num_layers : (in.blocks ? 0 : 1);
    const auto blocks = plan_detail::partition(in, mode, 1);
    Plan least;
    bool have = false;
    for (const Combo& c : combos(in, mode)) {
        s.sharding = c.sharding;
        s.offload = c.offload;
        Plan p = evaluate_blocks(in, mode, s, blocks);
        if (!have || p.peak_bytes < least.peak_bytes) {
            least = std::move(p);
            have = true;
        }
    }
    return least;
}

void advise(const PlanInput& in, Mode mode, Plan& p) {
    const double margin = margin_of(in);
    const Plan least = frugal(in, mode);
    const std::string per = in.hardware.is_cpu() ? "of memory" : "per GPU";
    std::string how = "micro-batch 1 and recomputation";
    if (mode == Mode::Full && !in.hardware.is_cpu()) {
        if (least.setting.sharding != Sharding::None)
            how += ", ZeRO stage " + to_string(least.setting.sharding).substr(4);
        if (least.setting.offload != Offload::None)
            how += least.setting.offload == Offload::Optimizer
                       ? ", optimizer offload"
                       : ", optimizer and parameter offload";
    }
    // The same figure as the plan's headline and bar (its peak: the plan of a setting that does
    // not fit is this least one), against the same usable limit; the margin is said, not added.
    p.advice.push_back({"memory", static_cast<double>(least.peak_bytes),
                        "peaks at " + gib(least.peak_bytes) + " " + per + " even with " + how +
                            "; usable " + gib(p.usable_bytes) + " of " + gib(p.capacity_bytes) +
                            " (" + fmt("%.0f", margin * 100) + " % kept free)"});

    // The longest sequence that fits.
    if (in.seq_len > 1) {
        int lo = 0, hi = in.seq_len - 1;
        while (lo < hi) {
            const int mid = (lo + hi + 1) / 2;
            PlanInput t = in;
            t.seq_len = mid;
            if (frugal(t, mode).fits)
                lo = mid;
            else
                hi = mid - 1;
        }
        if (lo >= 1)
            p.advice.push_back({"seq_len", static_cast<double>(lo),
                                "data.seq_len " + std::to_string(lo) + " or less fits (now " +
                                    std::to_string(in.seq_len) +
                                    "; micro-batch 1, recomputation)"});
    }
    if (!in.hardware.is_cpu() && in.precision == Precision::Fp32) {
        PlanInput t = in;
        t.precision = Precision::Bf16Mixed;
        const Plan q = frugal(t, mode);
        if (q.fits)
            p.advice.push_back(
                {"precision", 0,
                 "train.precision \"bf16\" fits (peak " + gib(q.peak_bytes) + " per GPU)"});
    }
    const Sharding more_gpus_sharding = in.force_sharding.value_or(Sharding::Zero3);
    if (mode == Mode::Full && !in.hardware.is_cpu() && in.hardware.gpus.size() == 1 &&
        more_gpus_sharding != Sharding::None) {
        // More GPUs of the same kind, sharded (ZeRO-3 unless another stage is forced), without
        // offload unless it is forced: the fewest that fit.
        const GpuGroup g = in.hardware.gpus.front();
        const int max_per_node = std::max(8, g.per_node);
        for (int n = in.hardware.world_size() + 1; n <= 4096; ++n) {
            PlanInput t = in;
            t.hardware.gpus.front().per_node = std::min(n, max_per_node);
            t.hardware.gpus.front().nodes = (n + max_per_node - 1) / max_per_node;
            if (t.hardware.world_size() != n) continue;
            t.force_sharding = more_gpus_sharding;
            t.force_offload = in.force_offload.value_or(Offload::None);
            const Plan q = frugal(t, mode);
            if (q.fits) {
                p.advice.push_back({"gpus", static_cast<double>(n),
                                    std::to_string(n) + " × " + g.type.name + " with ZeRO stage " +
                                        to_string(more_gpus_sharding).substr(4) + " fit (peak " +
                                        gib(q.peak_bytes) + " per GPU)"});
                break;
            }
        }
    }
    if (mode == Mode::Bcd) {
        if (in.embed_block && !in.blocks && least.worst_block_name == "embed") {
            PlanInput t = in;
            t.embed_block = false;
            const Plan q = frugal(t, mode);
            p.advice.push_back(
                {"embed_block", static_cast<double>(q.peak_bytes),
                 "bcd.embed_block false (a frozen embedding: no block makes every layer keep "
                 "activations) brings the peak to " +
                     gib(q.peak_bytes) + (q.fits ? ", which fits" : ", still too much")});
        }
        if (in.active_blocks > 1) {
            // Several blocks at once multiply the trained state: one at a time may fit.
            PlanInput t = in;
            t.active_blocks = 1;
            const Plan q = frugal(t, mode);
            if (q.fits)
                p.advice.push_back({"active_blocks", 1,
                                    "bcd.active_blocks 1 (one block at a time) fits (peak " +
                                        gib(q.peak_bytes) + ")"});
        }
        if (!in.reset_state_on_switch && !in.offload_states) {
            PlanInput t = in;
            t.offload_states = true;
            const Plan q = frugal(t, mode);
            if (q.fits)
                p.advice.push_back({"offload", static_cast<double>(q.peak_bytes),
                                    "bcd.offload_states true (inactive blocks' states in host "
                                    "memory) fits (peak " +
                                        gib(q.peak_bytes) + ")"});
        }
        if (!in.hardware.is_cpu())
            p.notes.emplace_back(
                "more GPUs do not lower BCD's memory per GPU: each holds every weight");
    }
}

void describe_choice(const PlanInput& in, Mode mode, Plan& p) {
    const Setting& s = p.setting;
    if (s.micro_batch != in.batch_size)
        p.notes.push_back("micro-batch " + std::to_string(s.micro_batch) + " × grad_accum " +
                          std::to_string(s.grad_accum) + " (config: batch_size " +
                          std::to_string(in.batch_size) + " × grad_accum " +
                          std::to_string(in.grad_accum) + "; the same windows per step)");
    if (s.recompute && !in.recompute)
        p.notes.emplace_back("recomputation on (train.recompute true)");
    if (mode == Mode::Bcd && !in.blocks && s.layers_per_block != in.layers_per_block)
        p.notes.push_back("layers_per_block " + std::to_string(s.layers_per_block) +
                          " (config: " + std::to_string(in.layers_per_block) + ")");
    if (mode == Mode::Full && !in.hardware.is_cpu()) {
        if (s.sharding != Sharding::None)
            p.notes.push_back("ZeRO stage " + to_string(s.sharding).substr(4) + " over " +
                              std::to_string(p.world_size) +
                              (p.world_size == 1 ? " GPU" : " GPUs"));
        if (s.offload != Offload::None)
            p.notes.push_back(std::string(s.offload == Offload::Optimizer
                                              ? "optimizer state"
                                              : "optimizer state and parameters") +
                              " offloaded to host memory (" + gib(p.host_bytes) + " per node)");
    }
    if (mode == Mode::Bcd && p.host_bytes > 0)
        p.notes.push_back("inactive blocks' optimizer states in host memory: " + gib(p.host_bytes) +
                          " per node");
}

} // namespace

Plan evaluate_setting(const PlanInput& in0, Mode mode, const Setting& s) {
    const PlanInput in = effective(in0);
    return evaluate_blocks(in, mode, s, plan_detail::partition(in, mode, s.layers_per_block));
}

double flops_per_token(const PlanInput& in0, Mode mode, const Setting& s) {
    const PlanInput in = effective(in0);
    double f = 0.0;
    for (const auto& b : plan_detail::partition(in, mode, s.layers_per_block))
        f += b.weight * plan_detail::block_flops(in, s, b).total();
    return f;
}

namespace {

// One mode's plan. `match`: BCD at full training's micro-batch and recomputation (make_plan of
// the pair), when the search's own choice differs and that setting fits.
Plan plan_mode(const PlanInput& in0, Mode mode, const Setting* match) {
    const PlanInput in = effective(in0);
    if (in.batch_size < 1 || in.grad_accum < 1 || in.seq_len < 1)
        throw std::invalid_argument(
            "make_plan: batch_size, grad_accum and seq_len must be positive");
    Search r = search(in, mode);
    Plan p;
    if (r.have) {
        p = r.best;
        const auto batch = [](const Setting& s) {
            return "micro-batch " + std::to_string(s.micro_batch) +
                   (s.recompute ? " with recomputation" : "");
        };
        std::string alone, unlike;
        if (match && (p.setting.micro_batch != match->micro_batch ||
                      p.setting.recompute != match->recompute)) {
            Setting s = p.setting;
            s.micro_batch = match->micro_batch;
            s.grad_accum = match->grad_accum;
            s.recompute = match->recompute;
            Plan same =
                evaluate_blocks(in, mode, s, plan_detail::partition(in, mode, s.layers_per_block));
            if (same.fits) {
                alone = batch(p.setting);
                p = std::move(same);
            } else {
                unlike = batch(s);
            }
        }
        describe_choice(in, mode, p);
        if (!alone.empty())
            p.notes.push_back("planned at full training's micro-batch and recomputation, to "
                              "compare like for like; BCD alone would pick " +
                              alone);
        if (!unlike.empty())
            p.notes.push_back("not at full training's setting (" + unlike +
                              "): BCD does not fit there, so the two are not compared alike");
    } else {
        p = r.smallest;
        advise(in, mode, p);
    }
    p.config_fits = r.config_fits;
    p.alternatives = std::move(r.alternatives);
    for (auto& a : p.alternatives) a.alternatives.clear();

    if (in.seq_len > in.model.max_position_embeddings)
        p.notes.push_back("data.seq_len " + std::to_string(in.seq_len) +
                          " exceeds the model's max_position_embeddings (" +
                          std::to_string(in.model.max_position_embeddings) +
                          "): the trainer refuses it");
    if (in0.hardware.is_cpu() && in0.precision == Precision::Bf16Mixed)
        p.notes.emplace_back("the CPU backend trains in fp32: planned in fp32");
    if (!p.time.known) {
        std::string names;
        for (const auto& g : in.hardware.gpus)
            if ((in.precision == Precision::Bf16Mixed ? g.type.bf16_tflops : g.type.fp32_tflops) <=
                0)
                names += (names.empty() ? "" : ", ") + g.type.name;
        p.notes.push_back(
            "no " + to_string(in.precision) + " peak FLOP/s known for " + names +
            ": time and cost unknown (add the GPU to gpus.json, docs/planner.md#tables)");
    } else if (!p.time.usd_per_billion_tokens && !in.hardware.is_cpu()) {
        std::string names;
        for (std::size_t i = 0; i < in.hardware.gpus.size(); ++i)
            if (i >= in.hardware.usd_per_gpu_hour.size() || !in.hardware.usd_per_gpu_hour[i])
                names += (names.empty() ? "" : ", ") + in.hardware.gpus[i].type.price_key;
        p.notes.push_back("no price for " + names +
                          ": cost unknown (add it to gpu-prices.json, docs/planner.md#prices)");
    }
    return p;
}

} // namespace

Plan make_plan(const PlanInput& in, Mode mode) {
    return plan_mode(in, mode, nullptr);
}

PlanPair make_plan(const PlanInput& in) {
    // Like for like: BCD at full training's micro-batch and recomputation when full fits, so that
    // the two columns differ by the method, not by a batch the search chose for each (BCD needs
    // less memory at any setting, so that one fits it too).
    PlanPair pp;
    pp.full = plan_mode(in, Mode::Full, nullptr);
    pp.bcd = plan_mode(in, Mode::Bcd, pp.full.fits ? &pp.full.setting : nullptr);
    if (!pp.full.fits && pp.bcd.fits)
        pp.bcd.notes.emplace_back(
            "full training does not fit, so the two are not compared at the same setting");
    return pp;
}

} // namespace bcd
