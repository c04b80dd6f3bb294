// The devices of a plan, and the plan's input from a run config.

#include "bcd/errors.h"
#include "bcd/plan.h"
#include "bcd/run_config.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;

namespace bcd {

std::string to_string(Precision p) {
    return p == Precision::Bf16Mixed ? "bf16" : "fp32";
}

std::string to_string(Sharding s) {
    switch (s) {
    case Sharding::None:
        return "none";
    case Sharding::Zero1:
        return "zero1";
    case Sharding::Zero2:
        return "zero2";
    case Sharding::Zero3:
        return "zero3";
    }
    return "none";
}

std::string to_string(Offload o) {
    switch (o) {
    case Offload::None:
        return "none";
    case Offload::Optimizer:
        return "optimizer";
    case Offload::OptimizerAndParams:
        return "optimizer+params";
    }
    return "none";
}

std::string to_string(Mode m) {
    return m == Mode::Full ? "full" : "bcd";
}

int Hardware::world_size() const {
    return per_node() * nodes();
}

int Hardware::nodes() const {
    if (is_cpu()) return std::max(1, cpu.nodes);
    int n = 1;
    for (const auto& g : gpus) n = std::max(n, g.nodes);
    return n;
}

int Hardware::per_node() const {
    if (is_cpu()) return std::max(1, cpu.ranks);
    int n = 0;
    for (const auto& g : gpus) n += g.per_node;
    return std::max(1, n);
}

std::uint64_t Hardware::memory_bytes() const {
    // Every rank of a node holds a whole model: each gets an equal share of the node's memory.
    if (is_cpu()) return cpu.memory_bytes / static_cast<std::uint64_t>(per_node());
    std::uint64_t m = UINT64_MAX;
    for (const auto& g : gpus) m = std::min(m, g.type.memory_bytes);
    return m;
}

double Hardware::peak_flops(Precision p, const PlanConstants& k) const {
    if (is_cpu()) {
        // Per rank: its threads, but ranks sharing a node get no more than their share of its
        // cores.
        int threads = std::max(1, cpu.threads);
        if (per_node() > 1 && cpu.cores > 0)
            threads = std::min(threads, std::max(1, cpu.cores / per_node()));
        return threads * cpu.ghz * 1e9 * k.cpu_flops_per_cycle;
    }
    double peak = 0.0;
    bool first = true;
    for (const auto& g : gpus) {
        const double t =
            (p == Precision::Bf16Mixed ? g.type.bf16_tflops : g.type.fp32_tflops) * 1e12;
        peak = first ? t : std::min(peak, t);
        first = false;
    }
    return peak;
}

double Hardware::memory_gbps() const {
    if (is_cpu()) return 0.0;
    double bw = 0.0;
    bool first = true;
    for (const auto& g : gpus) {
        bw = first ? g.type.memory_gbps : std::min(bw, g.type.memory_gbps);
        first = false;
    }
    return bw;
}

std::optional<double> Hardware::usd_per_hour() const {
    if (is_cpu() || usd_per_gpu_hour.size() != gpus.size()) return std::nullopt;
    double sum = 0.0;
    for (std::size_t i = 0; i < gpus.size(); ++i) {
        if (!usd_per_gpu_hour[i]) return std::nullopt;
        sum += *usd_per_gpu_hour[i] * gpus[i].per_node * nodes();
    }
    return sum;
}

std::string Hardware::describe() const {
    if (is_cpu()) {
        std::string s = cpu.name + " (" + std::to_string(cpu.threads) + " threads, " +
                        format_bytes(cpu.memory_bytes) + ")";
        if (per_node() > 1) s = std::to_string(per_node()) + " processes on " + s;
        if (nodes() > 1) s = std::to_string(nodes()) + " nodes, " + s;
        return s;
    }
    std::string s;
    for (const auto& g : gpus) {
        if (!s.empty()) s += " + ";
        s += std::to_string(g.per_node) + " × " + g.type.name + " (" +
             format_bytes(g.type.memory_bytes) + ")";
    }
    if (nodes() > 1) s = std::to_string(nodes()) + " nodes of " + s;
    return s;
}

Hardware Hardware::from_gpus(std::vector<GpuGroup> groups, const GpuTable& table,
                             const PriceTable& prices, const std::string& link,
                             const std::string& network, const std::string& where) {
    Hardware hw;
    hw.gpus = std::move(groups);
    for (const auto& g : hw.gpus)
        hw.usd_per_gpu_hour.push_back(prices.usd_per_hour(g.type.price_key));
    hw.price_date = prices.date();
    auto find_link = [&](const std::string& name, const char* option) {
        const Interconnect* l = table.link(name);
        if (!l) {
            std::string names;
            for (const auto& x : table.links()) names += (names.empty() ? "" : ", ") + x.name;
            throw InputError(where, std::string(option) + " " + name,
                             "unknown interconnect (expected one of: " + names + ")");
        }
        return *l;
    };
    if (!link.empty()) {
        hw.link = find_link(link, "--link");
    } else {
        // The slowest default link of the groups: mixed cards talk at the pace of the slowest.
        bool first = true;
        for (const auto& g : hw.gpus) {
            const Interconnect* l = table.link(g.type.link);
            if (!l) l = table.link("pcie4");
            if (l && (first || l->gbps < hw.link.gbps)) hw.link = *l;
            first = false;
        }
    }
    std::string net = network.empty() ? "ib200" : network;
    // "ib200x8": eight ports per node.
    if (auto x = net.rfind('x'); x != std::string::npos && x + 1 < net.size() &&
                                 std::all_of(net.begin() + static_cast<long>(x) + 1, net.end(),
                                             [](char c) { return c >= '0' && c <= '9'; })) {
        hw.network_ports = std::max(1, std::stoi(net.substr(x + 1)));
        net = net.substr(0, x);
    }
    hw.network = find_link(net, "--network");
    return hw;
}

Hardware Hardware::local_cpu(int threads) {
    Hardware hw;
    hw.cpu.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    hw.cpu.threads = threads > 0 ? threads : hw.cpu.cores;
    std::ifstream mem("/proc/meminfo");
    for (std::string line; std::getline(mem, line);)
        if (line.starts_with("MemTotal:")) hw.cpu.memory_bytes = std::stoull(line.substr(9)) * 1024;
    std::ifstream cpu("/proc/cpuinfo");
    bool have_name = false, have_mhz = false;
    for (std::string line; std::getline(cpu, line) && !(have_name && have_mhz);) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        if (!have_name && line.starts_with("model name")) {
            hw.cpu.name = value;
            have_name = true;
        } else if (!have_mhz && line.starts_with("cpu MHz")) {
            try {
                hw.cpu.ghz = std::stod(value) / 1000.0;
                have_mhz = hw.cpu.ghz > 0.1;
            } catch (const std::exception&) {
            }
        }
    }
    if (hw.cpu.ghz <= 0.1) hw.cpu.ghz = 2.5;
    return hw;
}

PlanInput PlanInput::from_run_config(const RunConfig& cfg, const ModelConfig& model) {
    PlanInput in;
    in.model = model;
    in.seq_len = cfg.data.seq_len;
    in.batch_size = cfg.train.batch_size;
    in.grad_accum = cfg.train.grad_accum;
    in.recompute = cfg.train.recompute;
    in.precision = cfg.train.precision == "bf16" ? Precision::Bf16Mixed : Precision::Fp32;
    in.optimizer = cfg.optim.name;
    in.momentum = cfg.optim.momentum;
    in.layers_per_block = cfg.bcd.layers_per_block;
    in.embed_block = cfg.bcd.embed_block;
    in.head_block = cfg.bcd.head_block;
    in.blocks = cfg.bcd.blocks;
    in.order = cfg.bcd.order;
    in.fixed_order = cfg.bcd.fixed_order;
    in.reset_state_on_switch = cfg.bcd.reset_state_on_switch;
    in.active_blocks = cfg.bcd.active_blocks;
    in.offload_states = cfg.bcd.offload_states;
    in.evaluates = !cfg.data.val.empty();
    in.steps = cfg.train.steps;
    in.eval_every = cfg.output.eval_every;
    in.checkpoint_every = cfg.output.checkpoint_every;
    in.source = cfg.source.string();

    // Token data held in memory: 4 bytes per token id (+ 1 for the loss mask of sft data); one
    // token per byte of text with the byte tokenizer, about one per 4 bytes with a BPE tokenizer;
    // token shards are mapped, as large as their files.
    std::error_code ec;
    const bool bytes = cfg.data.tokenizer.empty() || cfg.data.tokenizer == "byte";
    const std::uint64_t per_token = cfg.data.format == "sft" ? 5 : 4;
    for (const fs::path& p : {cfg.data.train, cfg.data.val}) {
        if (p.empty()) continue;
        std::uint64_t size = 0;
        if (fs::is_directory(p, ec)) {
            for (const auto& e : fs::directory_iterator(p, ec))
                if (e.is_regular_file(ec)) size += e.file_size(ec);
        } else {
            size = fs::file_size(p, ec);
            if (ec) size = 0;
        }
        const std::uint64_t tokens = cfg.data.format == "tokens" ? size / 4
                                     : bytes                     ? size
                                                                 : size / 4;
        if (cfg.data.format == "tokens")
            in.data_bytes += size;
        else
            in.data_bytes += tokens * per_token;
        // One evaluation predicts the tokens of every whole validation window (DESIGN.md §3),
        // or of the first output.eval_batches batches of them.
        if (p == cfg.data.val)
            if (const auto S = static_cast<std::uint64_t>(std::max(1, cfg.data.seq_len));
                tokens > 0) {
                in.eval_tokens = (tokens - 1) / S * S;
                if (cfg.output.eval_batches > 0)
                    in.eval_tokens = std::min<std::uint64_t>(
                        in.eval_tokens, static_cast<std::uint64_t>(cfg.output.eval_batches) *
                                            static_cast<std::uint64_t>(cfg.train.batch_size) * S);
            }
    }
    for (const auto& e : fs::directory_iterator(cfg.model.path, ec))
        if (e.path().extension() == ".safetensors")
            in.checkpoint_bytes += fs::file_size(e.path(), ec);
    return in;
}

} // namespace bcd
