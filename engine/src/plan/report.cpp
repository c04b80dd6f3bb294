// The plan as JSON (`bcd-train plan --json`, DESIGN.md §3) and as a side-by-side table.

#include "bcd/plan.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

using ojson = nlohmann::ordered_json;

namespace bcd {

namespace {

ojson or_null(const std::optional<double>& v) {
    return v ? ojson(*v) : ojson(nullptr);
}

ojson memory_json(const MemoryBreakdown& m) {
    return {{"weights", m.weights},         {"gradients", m.gradients}, {"optimizer", m.optimizer},
            {"activations", m.activations}, {"logits", m.logits},       {"workspace", m.workspace},
            {"runtime", m.runtime},         {"total", m.total()}};
}

ojson layers_per_block_json(const Plan& p) {
    if (p.mode == Mode::Bcd && p.setting.layers_per_block == 0) return nullptr; // explicit blocks
    return p.setting.layers_per_block;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string count(double v) {
    if (v >= 1e12) return fmt("%.2fT", v / 1e12);
    if (v >= 1e9) return fmt("%.2fG", v / 1e9);
    if (v >= 1e6) return fmt("%.2fM", v / 1e6);
    if (v >= 1e3) return fmt("%.1fk", v / 1e3);
    return fmt("%.0f", v);
}

std::string setting_text(const Plan& p) {
    const Setting& s = p.setting;
    std::string t =
        "micro " + std::to_string(s.micro_batch) + " x accum " + std::to_string(s.grad_accum);
    if (s.recompute) t += ", recompute";
    if (p.mode == Mode::Full) {
        if (s.sharding != Sharding::None) t += ", " + to_string(s.sharding);
        if (s.offload != Offload::None) t += ", offload " + to_string(s.offload);
    } else {
        t += s.layers_per_block == 0 ? ", own blocks"
                                     : ", " + std::to_string(s.layers_per_block) + " layer/block";
    }
    return t;
}

} // namespace

ojson to_json(const Plan& p) {
    const TimeEstimate& t = p.time;
    auto known = [&](double v) { return t.known ? ojson(v) : ojson(nullptr); };
    ojson j{
        {"mode", to_string(p.mode)},
        {"fits", p.fits},
        {"config_fits", p.config_fits},
        {"device", p.device},
        {"world_size", p.world_size},
        {"capacity_bytes", p.capacity_bytes},
        {"usable_bytes", p.usable_bytes},
        {"safety_margin", p.safety_margin},
        {"memory", memory_json(p.memory)},
        {"peak_bytes", p.peak_bytes},
        {"host_bytes", p.host_bytes},
        {"precision", to_string(p.precision)},
        {"params", p.params},
        {"layers_per_block", layers_per_block_json(p)},
        {"blocks", p.num_blocks},
        {"worst_block",
         {{"id", p.worst_block}, {"name", p.worst_block_name}, {"params", p.worst_block_params}}},
        {"micro_batch", p.setting.micro_batch},
        {"grad_accum", p.setting.grad_accum},
        {"recompute", p.setting.recompute},
        {"sharding", to_string(p.setting.sharding)},
        {"offload", to_string(p.setting.offload)},
        {"flops_per_token", t.flops_per_token},
        {"peak_tflops", t.peak_flops > 0 ? ojson(t.peak_flops / 1e12) : ojson(nullptr)},
        {"efficiency", t.efficiency},
        {"compute_s", known(t.compute_s)},
        {"comm_s", known(t.comm_s)},
        {"optimizer_s", known(t.optimizer_s)},
        {"step_s", known(t.step_s)},
        {"tokens_per_step", t.tokens_per_step},
        {"tokens_per_s", known(t.tokens_per_s)},
        {"hours_per_billion_tokens", known(t.hours_per_billion_tokens)},
        {"usd_per_hour", or_null(t.usd_per_hour)},
        {"usd_per_billion_tokens", or_null(t.usd_per_billion_tokens)}};
    // The whole run (docs/planner.md#run-time); null without steps or a known time.
    const bool whole = t.known && t.run_s > 0;
    auto run = [&](double v) { return whole ? ojson(v) : ojson(nullptr); };
    j["run"] = {{"train_s", run(t.train_s)},
                {"evals", t.evals},
                {"eval_s", run(t.eval_s)},
                {"checkpoints", t.checkpoints},
                {"checkpoint_bytes", t.checkpoint_bytes},
                {"checkpoint_s", run(t.checkpoint_s)},
                {"final_s", run(t.final_s)},
                {"run_s", run(t.run_s)}};
    ojson advice = ojson::array();
    for (const auto& a : p.advice) advice.push_back(a.text);
    j["advice"] = advice;
    j["notes"] = p.notes;
    if (!p.alternatives.empty()) {
        ojson alts = ojson::array();
        for (const auto& a : p.alternatives)
            alts.push_back(
                {{"sharding", to_string(a.setting.sharding)},
                 {"offload", to_string(a.setting.offload)},
                 {"fits", a.fits},
                 {"micro_batch", a.setting.micro_batch},
                 {"grad_accum", a.setting.grad_accum},
                 {"recompute", a.setting.recompute},
                 {"peak_bytes", a.peak_bytes},
                 {"host_bytes", a.host_bytes},
                 {"tokens_per_s", a.time.known ? ojson(a.time.tokens_per_s) : ojson(nullptr)},
                 {"hours_per_billion_tokens",
                  a.time.known ? ojson(a.time.hours_per_billion_tokens) : ojson(nullptr)},
                 {"usd_per_billion_tokens", or_null(a.time.usd_per_billion_tokens)}});
        j["alternatives"] = alts;
    }
    return j;
}

ojson to_json(const PlanPair& p) {
    return {{"full", to_json(p.full)}, {"bcd", to_json(p.bcd)}};
}

std::string format_table(const PlanPair& pp, const PlanInput& in) {
    std::ostringstream o;
    const Plan& f = pp.full;
    const Plan& b = pp.bcd;
    o << in.model.model_type << " model, " << count(static_cast<double>(f.params))
      << " parameters; seq_len " << in.seq_len << ", " << in.batch_size * in.grad_accum
      << " windows per device per step; " << to_string(f.precision) << "\n";
    o << "devices: " << f.device;
    if (!in.hardware.is_cpu()) {
        o << "; link " << in.hardware.link.name << fmt(" (%.0f GB/s)", in.hardware.link.gbps);
        if (in.hardware.nodes() > 1)
            o << ", network " << in.hardware.network.name
              << (in.hardware.network_ports > 1 ? " x" + std::to_string(in.hardware.network_ports)
                                                : "");
        if (!in.hardware.price_date.empty()) o << "; prices of " << in.hardware.price_date;
    }
    o << "\n\n";
    auto row = [&](const std::string& k, const std::string& a, const std::string& c) {
        char line[256];
        std::snprintf(line, sizeof line, "%-24s %-34s %s\n", k.c_str(), a.c_str(), c.c_str());
        o << line;
    };
    auto bytes = [](std::uint64_t v) { return format_bytes(v); };
    row("", "full", "BCD");
    row("fits", f.fits ? "yes" : "NO", b.fits ? "yes" : "NO");
    row("setting", setting_text(f), setting_text(b));
    row("weights", bytes(f.memory.weights), bytes(b.memory.weights));
    row("gradients", bytes(f.memory.gradients), bytes(b.memory.gradients));
    row("optimizer state", bytes(f.memory.optimizer), bytes(b.memory.optimizer));
    row("activations", bytes(f.memory.activations), bytes(b.memory.activations));
    row("logits and loss", bytes(f.memory.logits), bytes(b.memory.logits));
    row("workspace", bytes(f.memory.workspace), bytes(b.memory.workspace));
    row(in.hardware.is_cpu() ? "process and data" : "CUDA context, NCCL", bytes(f.memory.runtime),
        bytes(b.memory.runtime));
    row("peak per device", bytes(f.peak_bytes), bytes(b.peak_bytes));
    row("usable per device",
        bytes(f.usable_bytes) + fmt(" (%.0f %% margin)", f.safety_margin * 100),
        bytes(b.usable_bytes));
    if (f.host_bytes || b.host_bytes)
        row("host memory per node", bytes(f.host_bytes), bytes(b.host_bytes));
    row("blocks (worst)", std::to_string(f.num_blocks),
        std::to_string(b.num_blocks) + " (" + b.worst_block_name + ", " +
            count(static_cast<double>(b.worst_block_params)) + ")");
    row("FLOPs per token", count(f.time.flops_per_token), count(b.time.flops_per_token));
    // A plan that does not fit shows the time of its least-memory setting, in parentheses.
    auto t = [](const Plan& p, double v, const char* f2) {
        if (!p.time.known) return std::string("unknown");
        return p.fits ? fmt(f2, v) : "(" + fmt(f2, v) + ")";
    };
    row("step (compute+comm+opt)",
        t(f, f.time.step_s, "%.3g s") +
            (f.time.known ? fmt(" (%.3g", f.time.compute_s) + fmt("+%.3g", f.time.comm_s) +
                                fmt("+%.3g)", f.time.optimizer_s)
                          : ""),
        t(b, b.time.step_s, "%.3g s") +
            (b.time.known ? fmt(" (%.3g", b.time.compute_s) + fmt("+%.3g", b.time.comm_s) +
                                fmt("+%.3g)", b.time.optimizer_s)
                          : ""));
    row("tokens/s", t(f, f.time.tokens_per_s, "%.4g"), t(b, b.time.tokens_per_s, "%.4g"));
    row("hours per 1e9 tokens", t(f, f.time.hours_per_billion_tokens, "%.4g"),
        t(b, b.time.hours_per_billion_tokens, "%.4g"));
    auto usd = [](const Plan& p) {
        if (!p.time.usd_per_billion_tokens) return std::string("unknown");
        const std::string v = fmt("$%.4g", *p.time.usd_per_billion_tokens);
        return p.fits ? v : "(" + v + ")";
    };
    row("USD per 1e9 tokens", usd(f), usd(b));
    if (f.time.run_s > 0 || b.time.run_s > 0) {
        // The whole run: steps + evaluations + checkpoints and the final model.
        auto whole = [&](const Plan& p) {
            const TimeEstimate& e = p.time;
            if (!e.known || e.run_s <= 0) return std::string("unknown");
            return t(p, e.run_s, "%.4g s") + fmt(" (%.3g", e.train_s) +
                   fmt("+%.3g", static_cast<double>(e.evals) * e.eval_s) +
                   fmt("+%.3g)", static_cast<double>(e.checkpoints) * e.checkpoint_s + e.final_s);
        };
        row("run (train+eval+ckpt)", whole(f), whole(b));
    }
    if (f.fits && b.fits && f.time.usd_per_billion_tokens && b.time.usd_per_billion_tokens)
        row("BCD / full cost", "",
            fmt("%.3f", *b.time.usd_per_billion_tokens / *f.time.usd_per_billion_tokens));
    else if (f.fits && b.fits && f.time.known && b.time.known)
        row("BCD / full time", "",
            fmt("%.3f",
                b.time.step_s / b.time.tokens_per_step / (f.time.step_s / f.time.tokens_per_step)));
    row("efficiency (of peak)", fmt("%.2f", f.time.efficiency), fmt("%.2f", b.time.efficiency));
    for (const Plan* p : {&f, &b}) {
        const std::string who = p->mode == Mode::Full ? "full" : "BCD";
        for (const auto& n : p->notes) o << who << ": " << n << "\n";
        for (const auto& a : p->advice) o << who << " does not fit: " << a.text << "\n";
    }
    return o.str();
}

} // namespace bcd
