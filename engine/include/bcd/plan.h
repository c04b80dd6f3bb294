#pragma once
// The planner: memory per device, time and cost of a run on given hardware, full training
// against BCD, and the setting (micro-batch, recomputation, ZeRO sharding / offload, layers per
// block) that makes it fit. Pure computation: no I/O besides what the caller hands in. Every
// formula is in docs/planner.md.
//
//   PlanInput in = PlanInput::from_run_config(cfg, model_config);
//   in.hardware = Hardware::gpus({parse_gpu_spec("RTX 4090 x8", gpu_table, "gui")}, gpu_table,
//   prices); PlanPair p = make_plan(in);            // p.full, p.bcd; to_json(p) is `bcd-train plan
//   --json`

#include "bcd/gpus.h"
#include "bcd/model_config.h"

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace bcd {

struct RunConfig;

enum class Precision { Fp32, Bf16Mixed };
enum class Sharding { None, Zero1, Zero2, Zero3 };          // full training only
enum class Offload { None, Optimizer, OptimizerAndParams }; // full training only (ZeRO-Offload)
enum class Mode { Full, Bcd };

std::string to_string(Precision p);
std::string to_string(Sharding s);
std::string to_string(Offload o);
std::string to_string(Mode m);

// The planner's constants: the defaults documented in docs/planner.md.
struct PlanConstants {
    double gpu_efficiency = 0.40; // achieved / dense peak FLOP/s on GPUs (MFU)
    double cpu_efficiency = 0.80; // achieved / nominal-clock fp32 peak, CPU backend
    double safety_margin = 0.10;  // fraction of device memory kept free
    std::uint64_t cuda_context_bytes = 512ULL << 20; // CUDA context + loaded kernels
    std::uint64_t nccl_bytes = 256ULL << 20;         // NCCL buffers when world size > 1
    std::uint64_t cublas_workspace_bytes = 32ULL << 20;
    std::uint64_t cpu_process_bytes =
        10ULL << 20; // bcd-train's own resident set (code, libraries, thread pools)
    double host_adam_params_per_s = 1.0e9; // CPU AdamW updates per second per node (offload)
    double pcie_gbps = 20.0;               // host ↔ GPU copies (offload), per GPU
    double cpu_memory_gbps = 20.0;         // CPU backend optimizer step (memory-bound)
    double cpu_flops_per_cycle = 32.0;     // fp32 per core per cycle: two 256-bit FMA pipes
    double cpu_network_gbps = 1.25;        // between CPU nodes of a data-parallel run (10 GbE)
    double disk_write_gbps = 0.5; // checkpoints and the final model (docs/planner.md#run-time)
};

// The CPU the fp32 engine runs on.
struct CpuDevice {
    std::string name = "CPU";
    std::uint64_t memory_bytes = 0; // physical memory
    int threads = 1;                // threads each process uses (OpenMP and the attention scratch)
    double ghz = 2.5;
    int cores = 0; // hardware threads of a node; 0: unknown (no sharing between ranks assumed)
    // Data parallelism on CPUs (docs/planner.md#data-parallel-cpu): processes per node, each with
    // `threads` threads, a full copy of the model and an equal share of the node's memory; and
    // the nodes. World size = ranks × nodes.
    int ranks = 1;
    int nodes = 1;
};

// The devices of a run: GPUs (one or more groups, all in every node) or the CPU.
struct Hardware {
    std::vector<GpuGroup> gpus; // empty: the CPU
    CpuDevice cpu;
    Interconnect link;     // intra-node, GPUs only
    Interconnect network;  // inter-node, when nodes > 1
    int network_ports = 1; // NICs per node
    // Per-group USD per GPU-hour (nullopt: not in the price table).
    std::vector<std::optional<double>> usd_per_gpu_hour;
    std::string price_date;

    bool is_cpu() const { return gpus.empty(); }
    int world_size() const;
    int nodes() const;
    int per_node() const;
    std::uint64_t memory_bytes() const; // the smallest device's; CPU: one rank's share
    // Dense peak FLOP/s of the slowest device for `p` (0 when unknown).
    double peak_flops(Precision p, const PlanConstants& k) const;
    double memory_gbps() const; // the slowest device's DRAM bandwidth (0 when unknown)
    std::optional<double> usd_per_hour() const; // the whole cluster; nullopt if a price is missing
    std::string describe() const;               // "8 × RTX 4090 (23.99 GiB)"

    // GPUs from parsed specifications; the link is the first group's default unless given;
    // the network defaults to InfiniBand HDR (ib200).
    // An unknown link or network is an InputError whose file is `where`.
    static Hardware from_gpus(std::vector<GpuGroup> groups, const GpuTable& table,
                              const PriceTable& prices, const std::string& link = "",
                              const std::string& network = "",
                              const std::string& where = "bcd-train plan");
    // This machine's CPU (/proc/meminfo, /proc/cpuinfo), `threads` 0 = all cores.
    static Hardware local_cpu(int threads);
};

// What is planned: model, batch and the BCD settings, as the run config states them, plus the
// hardware and the planner's knobs.
struct PlanInput {
    ModelConfig model;
    int seq_len = 256;
    int batch_size = 8; // windows per micro-batch per device: the search may lower it
    int grad_accum =
        1; // micro-batches per step: batch_size × grad_accum windows per device per step
    bool recompute = false;
    Precision precision = Precision::Bf16Mixed;
    std::string optimizer = "adamw"; // adamw | sgd
    double momentum = 0.0;

    int layers_per_block = 1;
    bool embed_block = true;
    bool head_block = true;
    std::optional<std::vector<std::vector<std::string>>> blocks; // explicit partition
    std::string order = "ascending";
    std::vector<int> fixed_order;
    bool reset_state_on_switch = true;
    bool offload_states = false;
    int active_blocks = 1; // γ blocks trained together (lisa: layer blocks besides embed + head)

    // CPU backend only: bytes of the token data it holds (training + validation) and the bytes of
    // the weight files it maps while loading.
    std::uint64_t data_bytes = 0;
    std::uint64_t checkpoint_bytes = 0; // 0: parameters × the size of the model's torch_dtype
    bool evaluates = false;             // a validation set: the evaluation's transient buffers

    // The run's length and phases (docs/planner.md#run-time): train.steps, output.eval_every,
    // the tokens of one evaluation (every validation window's, or output.eval_batches ×
    // train.batch_size windows' when fewer), output.checkpoint_every. 0 steps:
    // no run total (per-step figures only).
    long steps = 0;
    long eval_every = 0;
    std::uint64_t eval_tokens = 0;
    long checkpoint_every = 0;

    Hardware hardware;
    std::optional<double> efficiency;       // replaces the default (e.g. measured in past runs)
    std::optional<double> safety_margin;    // replaces the default
    std::optional<Sharding> force_sharding; // full: plan exactly this sharding
    std::optional<Offload> force_offload;   // full: plan exactly this offload
    PlanConstants constants;
    std::string source = "plan"; // the config file, named in errors (an invalid bcd.blocks)

    // From a run config and the model's config.json. Precision: the config's train.precision.
    static PlanInput from_run_config(const RunConfig& cfg, const ModelConfig& model);
};

// Bytes per device by term (docs/planner.md#memory). `logits`: logits and loss buffers;
// `runtime`: CUDA context and NCCL on GPUs, the process itself and its token arrays on the CPU.
struct MemoryBreakdown {
    std::uint64_t weights = 0, gradients = 0, optimizer = 0, activations = 0, logits = 0,
                  workspace = 0, runtime = 0;
    std::uint64_t total() const {
        return weights + gradients + optimizer + activations + logits + workspace + runtime;
    }
};

// The choices the search makes.
struct Setting {
    int micro_batch = 1;
    int grad_accum = 1;
    bool recompute = false;
    Sharding sharding = Sharding::None;
    Offload offload = Offload::None;
    int layers_per_block = 1; // BCD with the default partition; 0 with an explicit one
};

struct TimeEstimate {
    bool known = false;           // false: the device's peak is unknown
    double flops_per_token = 0.0; // full: per step; BCD: mean over the block schedule
    double peak_flops = 0.0;      // per device
    double efficiency = 0.0;
    double compute_s = 0.0;   // per step, per device
    double comm_s = 0.0;      // per step, exposed (not hidden behind compute)
    double optimizer_s = 0.0; // per step
    double step_s = 0.0;
    double tokens_per_step = 0.0; // all devices
    double tokens_per_s = 0.0;
    double hours_per_billion_tokens = 0.0;
    std::optional<double> usd_per_hour;
    std::optional<double> usd_per_billion_tokens;
    // The whole run (docs/planner.md#run-time), when PlanInput::steps > 0 and the time is known:
    // training steps, evaluations (forward only over the validation tokens) and checkpoints
    // (bytes at the assumed disk rate) with the final model.
    long evals = 0;
    double eval_s = 0.0; // one evaluation
    long checkpoints = 0;
    std::uint64_t checkpoint_bytes = 0; // one checkpoint: fp32 weights + the optimizer state
    double checkpoint_s = 0.0;          // one checkpoint
    double final_s = 0.0;               // the final model (fp32 weights)
    double train_s = 0.0;               // steps × step_s
    double run_s = 0.0; // train_s + evals × eval_s + checkpoints × checkpoint_s + final_s
};

struct Advice {
    std::string kind; // seq_len | batch | recompute | offload | gpus | memory | precision |
                      // embed_block | blocks | active_blocks
    double value = 0; // the number the text names (seq_len, GPU count, bytes, ...)
    std::string text;
};

struct Plan {
    Mode mode = Mode::Full;
    bool fits = false;
    bool config_fits = false; // the config's own setting (batch, recompute, layers per block)
    std::uint64_t capacity_bytes = 0; // per device
    std::uint64_t usable_bytes = 0;   // capacity × (1 − safety margin)
    double safety_margin = 0.0;
    MemoryBreakdown memory;       // per device, at the worst block
    std::uint64_t peak_bytes = 0; // max(memory.total(), transients such as loading weights)
    std::uint64_t host_bytes = 0; // offloaded state per node
    Setting setting;
    Precision precision = Precision::Bf16Mixed;
    int num_blocks = 1;
    int worst_block = 0; // the block whose activation makes the peak
    std::string worst_block_name;
    std::uint64_t worst_block_params = 0;
    std::uint64_t params = 0;
    TimeEstimate time;
    std::vector<Advice> advice; // when it does not fit: what would
    std::vector<std::string> notes;
    std::string device; // Hardware::describe()
    int world_size = 1;
    // Full training: the best fitting setting for every sharding / offload option tried.
    std::vector<Plan> alternatives;
};

struct PlanPair {
    Plan full, bcd;
};

// Plans both modes: searches the setting, estimates memory, time and cost, advises.
PlanPair make_plan(const PlanInput& in);
Plan make_plan(const PlanInput& in, Mode mode);
// One given setting, no search (the memory-accuracy test uses this).
Plan evaluate_setting(const PlanInput& in, Mode mode, const Setting& s);

// FLOPs per token: full training's, or BCD's averaged over the block schedule.
double flops_per_token(const PlanInput& in, Mode mode, const Setting& s);

nlohmann::ordered_json to_json(const Plan& p);
nlohmann::ordered_json to_json(const PlanPair& p); // {"full": PLAN, "bcd": PLAN}
// The side-by-side table `bcd-train plan` prints without --json.
std::string format_table(const PlanPair& p, const PlanInput& in);

} // namespace bcd
