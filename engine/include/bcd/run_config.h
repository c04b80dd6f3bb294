#pragma once
// The run configuration of DESIGN.md §3: parsed strictly (unknown keys, wrong types and impossible
// values are InputErrors naming the file and the dotted key), resolved (defaults filled in,
// relative paths made absolute against the config file's folder) and printable as JSON.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace bcd {

struct RunConfig {
    struct Model {
        std::filesystem::path path;
    } model;
    struct Data {
        std::filesystem::path train;
        std::filesystem::path val; // empty: no evaluation
        std::string format = "text";
        std::string tokenizer; // "byte" or a path; resolved
        int seq_len = 256;
        bool skip_malformed =
            false; // skip (and count) malformed jsonl/sft lines instead of stopping
        std::string chat_format = "auto"; // sft layout: auto or a family (docs/data.md)
    } data;
    struct Optim {
        std::string name = "adamw"; // adamw | sgd
        double lr = 3e-4;
        double beta1 = 0.9, beta2 = 0.95;
        double eps = 1e-8;
        double weight_decay = 0.0;
        double momentum = 0.0;
        std::string schedule = "constant"; // constant | cosine | linear
        long warmup_steps = 0;
        double min_lr = 0.0;
        double grad_clip = 1.0;
    } optim;
    struct Train {
        long steps = 1000;
        int batch_size = 8;
        int grad_accum = 1;
        std::uint64_t seed = 1;
        std::string precision = "fp32"; // fp32 | bf16
        bool recompute = false;         // recompute activations in the backward
    } train;
    struct Bcd {
        std::string mode = "bcd"; // bcd | full
        int layers_per_block = 1;
        bool embed_block = true;
        bool head_block = true;
        std::optional<std::vector<std::vector<std::string>>> blocks;
        // ascending | descending | random | fixed | lisa | importance (docs/training.md). The
        // defaults of order, active_blocks and switch_warmup_steps are the schedule that came
        // closest to full training on the fidelity bench (docs/training.md#defaults).
        std::string order = "random";
        std::vector<int> fixed_order;
        long switch_every = 50;
        std::optional<int> start_block;
        bool reset_state_on_switch = true;
        bool offload_states = false;
        int active_blocks = 2;        // γ: blocks trained at once (lisa: layer blocks besides
                                      // embed and head)
        long switch_warmup_steps = 3; // linear lr ramp over this many steps after each switch
        // The schedule keys (order, active_blocks, switch_warmup_steps) the config left out: a
        // resumed run keeps its own values for them, and a defaulted active_blocks is capped at
        // the blocks there are. Not part of to_json().
        std::set<std::string> defaulted;
    } bcd;
    struct Device {
        std::string kind = "auto"; // auto | cpu | cuda
        int threads = 0;
    } device;
    struct Output {
        std::filesystem::path dir;
        long log_every = 1;
        long eval_every = 0;
        // Batches (of train.batch_size windows) one evaluation reads at most: the first ones of
        // the validation data, the same every time; 0: all of it.
        long eval_batches = 0;
        long checkpoint_every = 0;
        int keep_checkpoints = 2;
    } output;

    std::filesystem::path source; // the config file

    // Whether the files a config names must exist. Skipped: for a config being edited (the
    // planner in the New run form), which may name a model or data not yet created; every other
    // check is the same.
    enum class FileChecks { Required, Skipped };

    // Reads and validates `path`. Checks that files named by the config exist.
    static RunConfig load(const std::filesystem::path& path);
    static RunConfig from_json(const nlohmann::json& j, const std::filesystem::path& source,
                               FileChecks files = FileChecks::Required);
    nlohmann::json to_json() const; // every key, resolved
};

} // namespace bcd
