// bcd-train init / eval / inspect / devices.

#include "bcd/backend.h"
#include "bcd/blocks.h"
#include "bcd/data.h"
#include "bcd/dataset.h"
#include "bcd/errors.h"
#include "bcd/model.h"
#include "cli.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

namespace fs = std::filesystem;

namespace bcd::cli {

namespace {

// Presets whose fp32 weights exceed this need --force: writing tens of gigabytes of random
// numbers is rarely what a user meant.
constexpr std::uint64_t kLargeModelParams = 2'000'000'000ULL;

std::string human_count(std::uint64_t n) {
    char buf[32];
    if (n >= 1'000'000'000ULL)
        std::snprintf(buf, sizeof buf, "%.2fB", static_cast<double>(n) / 1e9);
    else if (n >= 1'000'000ULL)
        std::snprintf(buf, sizeof buf, "%.2fM", static_cast<double>(n) / 1e6);
    else if (n >= 1'000ULL)
        std::snprintf(buf, sizeof buf, "%.1fK", static_cast<double>(n) / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    return buf;
}

DType parse_dtype(const Args& args) {
    const std::string d = args.value("dtype").value_or("f32");
    if (d == "f32") return DType::F32;
    if (d == "bf16") return DType::BF16;
    if (d == "f16") return DType::F16;
    throw InputError("bcd-train " + args.command(), "--dtype",
                     "expected f32, bf16 or f16, got '" + d + "'");
}

} // namespace

int cmd_init(const std::vector<std::string>& argv) {
    Args args("init", argv, {"preset", "out", "seed", "dtype", "shard-size"}, {"force"});
    const ModelConfig cfg = ModelConfig::preset(args.required("preset"));
    const fs::path out = args.required("out");
    const auto seed = static_cast<std::uint64_t>(args.integer("seed", 1, 0, 1L << 62));
    const DType dtype = parse_dtype(args);
    if (cfg.num_params() > kLargeModelParams && !args.flag("force"))
        throw InputError(
            "bcd-train init", "--preset " + args.required("preset"),
            "has " + human_count(cfg.num_params()) + " parameters (" +
                human_count(cfg.num_params() * dtype_size(dtype)) +
                "B on disk, as much again in memory); pass --force to write it anyway");
    if ((fs::exists(out / "model.safetensors") || fs::exists(out / "config.json")) &&
        !args.flag("force"))
        throw InputError(
            "bcd-train init", "--out " + out.string(),
            "already holds a model (expected a new or empty folder; --force overwrites)");
    Model model(cfg);
    model.init_random(seed);
    model.save(out, dtype,
               static_cast<std::uint64_t>(args.integer(
                   "shard-size", static_cast<long>(Model::kDefaultShardBytes), 1, 1L << 50)));
    std::cout << "wrote " << cfg.architecture << " '" << args.required("preset") << "' ("
              << human_count(model.num_params()) << " parameters, seed " << seed << ") to "
              << out.string() << "\n";
    return kExitOk;
}

// The encoder a model folder implies: its tokenizer.json, else bytes.
TextEncoder model_encoder(const fs::path& dir, const std::optional<std::string>& override_spec) {
    if (override_spec) return TextEncoder::from_spec(*override_spec);
    if (fs::exists(dir / "tokenizer.json"))
        return TextEncoder::from_spec((dir / "tokenizer.json").string());
    if (fs::exists(dir / "tokenizer.model")) // SentencePiece only (docs/tokenizer.md)
        return TextEncoder::from_spec((dir / "tokenizer.model").string());
    return TextEncoder::byte_level();
}

int cmd_eval(const std::vector<std::string>& argv) {
    Args args("eval", argv,
              {"model", "data", "seq-len", "batch-size", "threads", "format", "tokenizer", "device",
               "precision", "chat-format"},
              {"json", "skip-malformed"});
    const fs::path dir = args.required("model");
    const fs::path data = args.required("data");
    Model model = Model::load(dir);
    const auto& cfg = model.config();
    const int S = static_cast<int>(
        args.integer("seq-len", std::min(256, cfg.max_position_embeddings), 1, 1 << 20));
    const int batch = static_cast<int>(args.integer("batch-size", 8, 1, 1 << 16));
    DataOptions o;
    o.format = args.value("format").value_or("text");
    if (o.format != "text" && o.format != "jsonl" && o.format != "sft" && o.format != "tokens")
        throw InputError("bcd-train eval", "--format",
                         "expected text, jsonl, sft or tokens, got '" + o.format + "'");
    o.eos_id = cfg.eos_token_id >= 0 && cfg.eos_token_id < cfg.vocab_size ? cfg.eos_token_id : -1;
    o.skip_malformed = args.flag("skip-malformed");
    o.vocab_limit = cfg.vocab_size;
    o.chat_format = args.value("chat-format").value_or("auto");
    const TextEncoder enc = model_encoder(dir, args.value("tokenizer"));
    if (enc.byte_level_encoding() && o.format != "tokens" && cfg.vocab_size < 256)
        throw InputError((dir / "config.json").string(), "vocab_size",
                         "expected at least 256 for byte-level text, got " +
                             std::to_string(cfg.vocab_size));
    const TokenDataset ds = TokenDataset::load(data, enc, o);
    const std::size_t windows = ds.num_windows(S);
    if (windows == 0)
        throw InputError(data.string(), "",
                         "too short: " + std::to_string(ds.size()) + " tokens, expected at least " +
                             std::to_string(S + 1) + " for one window of --seq-len " +
                             std::to_string(S));

    const auto backend = command_backend(args, model);
    std::vector<std::int32_t> in(static_cast<std::size_t>(batch) * S), tg(in.size());
    double sum = 0.0;
    long count = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t w0 = 0; w0 < windows; w0 += static_cast<std::size_t>(batch)) {
        const int b = static_cast<int>(std::min<std::size_t>(batch, windows - w0));
        for (int i = 0; i < b; ++i)
            ds.copy_window(w0 + static_cast<std::size_t>(i), S,
                           in.data() + static_cast<std::size_t>(i) * S,
                           tg.data() + static_cast<std::size_t>(i) * S);
        const LossSum r = backend->evaluate(in.data(), tg.data(), b, S);
        sum += r.sum;
        count += r.count;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double loss = count > 0 ? sum / static_cast<double>(count) : 0.0;
    if (args.flag("json")) {
        std::cout << nlohmann::json{{"loss", loss}, {"tokens", count}}.dump() << "\n";
    } else {
        std::printf("loss %.4f (perplexity %.2f) over %ld tokens in %zu windows of %d, %.1f s, "
                    "%.0f tok/s\n",
                    loss, std::exp(loss), count, windows, S, secs,
                    static_cast<double>(count) / std::max(secs, 1e-9));
    }
    return kExitOk;
}

int cmd_tokenize(const std::vector<std::string>& argv) {
    Args args("tokenize", argv,
              {"data", "out", "model", "tokenizer", "format", "threads", "chat-format"},
              {"skip-malformed"});
    const fs::path data = args.required("data");
    const fs::path out = args.required("out");
    set_cpu_threads(static_cast<int>(args.integer("threads", 0, 0, 4096)));
    DataOptions o;
    o.format = args.value("format").value_or("text");
    if (o.format != "text" && o.format != "jsonl" && o.format != "sft")
        throw InputError("bcd-train tokenize", "--format",
                         "expected text, jsonl or sft, got '" + o.format + "'");
    o.skip_malformed = args.flag("skip-malformed");
    o.chat_format = args.value("chat-format").value_or("auto");
    std::optional<fs::path> model_dir;
    if (auto m = args.value("model")) model_dir = fs::path(*m);
    if (!model_dir && !args.value("tokenizer"))
        throw InputError("bcd-train tokenize", "--model", "is required (or --tokenizer FILE|byte)");
    TextEncoder enc = model_dir ? model_encoder(*model_dir, args.value("tokenizer"))
                                : TextEncoder::from_spec(*args.value("tokenizer"));
    if (model_dir) {
        const ModelConfig cfg = load_model_config(*model_dir);
        o.eos_id =
            cfg.eos_token_id >= 0 && cfg.eos_token_id < cfg.vocab_size ? cfg.eos_token_id : -1;
        o.vocab_limit = cfg.vocab_size;
    }
    if (fs::exists(out) && fs::is_directory(out))
        throw InputError("bcd-train tokenize", "--out " + out.string(),
                         "is a folder (expected a file name)");
    const auto t0 = std::chrono::steady_clock::now();
    const ShardStats st =
        tokenize_to_shard(data, enc, o, out, [](const std::string& p) { std::cerr << p << "\n"; });
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "wrote %s: %zu tokens from %zu documents (%zu skipped, %zu masked) in %.1f s with %s\n",
        out.string().c_str(), st.tokens, st.documents, st.skipped, st.masked, secs,
        enc.describe().c_str());
    return kExitOk;
}

int cmd_inspect(const std::vector<std::string>& argv) {
    Args args("inspect", argv, {"model"}, {"json"});
    const fs::path dir = args.required("model");
    const ModelConfig cfg = load_model_config(dir);
    const ParamLayout layout(cfg);

    // Tensors as stored when the folder has weights; otherwise as the config implies.
    nlohmann::json tensors = nlohmann::json::array();
    std::string storage = "none (config only)";
    if (fs::exists(dir / "model.safetensors")) {
        const auto file = SafetensorsFile::open(dir / "model.safetensors");
        storage = "model.safetensors";
        for (const auto& t : file.tensors())
            tensors.push_back({{"name", t.name},
                               {"dtype", dtype_name(t.dtype)},
                               {"shape", t.shape},
                               {"numel", t.numel()}});
    } else {
        for (const auto& p : layout.params())
            tensors.push_back(
                {{"name", p.name}, {"dtype", nullptr}, {"shape", p.shape}, {"numel", p.numel}});
    }
    const auto blocks = default_blocks(layout, 1, true, true);
    nlohmann::json jb = nlohmann::json::array();
    for (const auto& b : blocks)
        jb.push_back({{"id", b.id}, {"name", b.name}, {"params", b.params}});

    if (args.flag("json")) {
        nlohmann::json j;
        j["architecture"] = cfg.architecture;
        j["config"] = cfg.to_json();
        j["params"] = cfg.num_params();
        j["weights"] = storage;
        j["tokenizer"] = fs::exists(dir / "tokenizer.json")
                             ? nlohmann::json(Tokenizer::load(dir / "tokenizer.json").summary())
                             : nlohmann::json();
        j["tensors"] = tensors;
        j["blocks"] = jb;
        std::cout << j.dump(2) << "\n";
        return kExitOk;
    }
    std::printf("%s: %s, %s parameters\n", dir.string().c_str(), cfg.architecture.c_str(),
                human_count(cfg.num_params()).c_str());
    std::printf(
        "  layers %d, hidden %d, intermediate %d, heads %d (kv %d, head_dim %d), vocab %d\n",
        cfg.num_layers, cfg.hidden_size, cfg.intermediate_size, cfg.num_heads, cfg.num_kv_heads,
        cfg.head_dim, cfg.vocab_size);
    std::printf("  rope_theta %g, rms_norm_eps %g, tied embeddings %s, qkv bias %s\n",
                cfg.rope_theta, cfg.rms_norm_eps, cfg.tie_word_embeddings ? "yes" : "no",
                cfg.qkv_bias ? "yes" : "no");
    std::printf("weights: %s\n", storage.c_str());
    if (fs::exists(dir / "tokenizer.json"))
        std::printf("tokenizer: %s\n", Tokenizer::load(dir / "tokenizer.json").summary().c_str());
    else
        std::printf("tokenizer: none (byte-level text)\n");
    std::printf("default BCD blocks (one layer each): %zu\n", blocks.size());
    for (const auto& b : blocks)
        std::printf("  %3d  %-12s %12s\n", b.id, b.name.c_str(), human_count(b.params).c_str());
    std::printf("tensors: %zu\n", tensors.size());
    for (const auto& t : tensors) {
        std::string shape;
        for (const auto& d : t["shape"])
            shape += (shape.empty() ? "" : "x") + std::to_string(d.get<long>());
        std::printf("  %-52s %-5s %s\n", t["name"].get<std::string>().c_str(),
                    t["dtype"].is_null() ? "-" : t["dtype"].get<std::string>().c_str(),
                    shape.c_str());
    }
    return kExitOk;
}

int cmd_devices(const std::vector<std::string>& argv) {
    Args args("devices", argv, {}, {"json"});
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    std::string cpu_name = "CPU";
    {
        std::ifstream in("/proc/cpuinfo");
        for (std::string line; std::getline(in, line);)
            if (line.starts_with("model name")) {
                cpu_name = line.substr(line.find(':') + 2);
                break;
            }
    }
    const CudaProbe cuda = probe_cuda();
    auto version = [](int v) {
        return v > 0 ? std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10)
                     : std::string();
    };
    if (args.flag("json")) {
        nlohmann::ordered_json gpus = nlohmann::ordered_json::array();
        for (const GpuInfo& g : cuda.gpus)
            gpus.push_back({{"index", g.index},
                            {"name", g.name},
                            {"memory_bytes", g.total_bytes},
                            {"free_bytes", g.free_bytes},
                            {"compute_capability",
                             std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor)}});
        nlohmann::ordered_json out{{"gpus", gpus},
                                   {"cpu", {{"name", cpu_name}, {"threads", cores}}},
                                   {"cuda",
                                    {{"usable", cuda.usable},
                                     {"reason", cuda.reason},
                                     {"driver", version(cuda.driver_version)},
                                     {"runtime", version(cuda.runtime_version)}}}};
        std::cout << out.dump() << "\n";
        return kExitOk;
    }
    std::printf("cpu: %s, %u threads\n", cpu_name.c_str(), cores);
    if (cuda.gpus.empty()) {
        std::printf("gpus: none (%s)\n", cuda.reason.c_str());
        return kExitOk;
    }
    std::printf("cuda: driver %s, runtime %s\n", version(cuda.driver_version).c_str(),
                version(cuda.runtime_version).c_str());
    for (const GpuInfo& g : cuda.gpus)
        std::printf("gpu %d: %s, %.1f GiB (%.1f GiB free), compute capability %d.%d\n", g.index,
                    g.name.c_str(), static_cast<double>(g.total_bytes) / (1u << 30),
                    static_cast<double>(g.free_bytes) / (1u << 30), g.cc_major, g.cc_minor);
    if (!cuda.usable) std::printf("not usable: %s\n", cuda.reason.c_str());
    return kExitOk;
}

} // namespace bcd::cli
