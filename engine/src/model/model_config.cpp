#include "bcd/model_config.h"

#include "bcd/errors.h"
#include "core/json_reader.h"

#include <nlohmann/json.hpp>

namespace bcd {

namespace {
constexpr std::int64_t kMaxDim = 1 << 20;
constexpr std::int64_t kMaxVocab = 1 << 24;
} // namespace

std::uint64_t ModelConfig::num_params() const {
    const std::uint64_t C = hidden_size, F = intermediate_size, V = vocab_size;
    const std::uint64_t q = q_dim(), kv = kv_dim();
    std::uint64_t layer = C                    // input_layernorm
                          + C * q + C * kv * 2 // q, k, v
                          + q * C              // o
                          + C                  // post_attention_layernorm
                          + 3 * C * F;         // gate, up, down
    if (qkv_bias) layer += q + 2 * kv;
    if (o_bias) layer += C;
    std::uint64_t n = V * C + layer * num_layers + C;
    if (!tie_word_embeddings) n += V * C;
    return n;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& file) {
    JsonObject o(j, file, "");
    ModelConfig c;
    if (!o.has("architectures"))
        o.fail("architectures", "is required (e.g. [\"LlamaForCausalLM\"])");
    const auto& arch = o.raw("architectures");
    if (!arch.is_array() || arch.size() != 1 || !arch[0].is_string())
        o.fail("architectures",
               "expected a list with one architecture name, got " + json_brief(arch));
    c.architecture = arch[0].get<std::string>();
    if (c.architecture == "LlamaForCausalLM") {
        c.model_type = "llama";
    } else if (c.architecture == "Qwen2ForCausalLM") {
        c.model_type = "qwen2";
    } else if (c.architecture == "MistralForCausalLM") {
        c.model_type = "mistral";
    } else {
        o.fail("architectures",
               "architecture \"" + c.architecture +
                   "\" is not supported (expected LlamaForCausalLM, Qwen2ForCausalLM or "
                   "MistralForCausalLM)");
    }
    if (o.has("model_type")) {
        const auto mt = o.string("model_type");
        if (mt != c.model_type)
            o.fail("model_type", "expected \"" + c.model_type + "\" for " + c.architecture +
                                     ", got \"" + mt + "\"");
    }

    c.vocab_size = static_cast<int>(o.integer("vocab_size", 1, kMaxVocab));
    c.hidden_size = static_cast<int>(o.integer("hidden_size", 1, kMaxDim));
    c.intermediate_size = static_cast<int>(o.integer("intermediate_size", 1, kMaxDim));
    c.num_layers = static_cast<int>(o.integer("num_hidden_layers", 1, 4096));
    c.num_heads = static_cast<int>(o.integer("num_attention_heads", 1, 4096));
    c.num_kv_heads = static_cast<int>(o.integer("num_key_value_heads", c.num_heads, 1, 4096));
    if (c.num_heads % c.num_kv_heads != 0)
        o.fail("num_key_value_heads", "expected a divisor of num_attention_heads (" +
                                          std::to_string(c.num_heads) + "), got " +
                                          std::to_string(c.num_kv_heads));
    if (o.has("head_dim")) {
        c.head_dim = static_cast<int>(o.integer("head_dim", 2, 4096));
    } else {
        if (c.hidden_size % c.num_heads != 0)
            o.fail("hidden_size", "expected a multiple of num_attention_heads (" +
                                      std::to_string(c.num_heads) + ") when head_dim is absent");
        c.head_dim = c.hidden_size / c.num_heads;
    }
    if (c.head_dim % 2 != 0)
        o.fail("head_dim", "expected an even head dimension (RoPE rotates pairs)");
    c.max_position_embeddings =
        static_cast<int>(o.integer("max_position_embeddings", 2048, 1, 1 << 24));
    c.rms_norm_eps = o.number("rms_norm_eps", 1e-6, 0.0, 1.0);
    c.rope_theta = o.number("rope_theta", 10000.0, 1.0, 1e12);
    c.initializer_range = o.number("initializer_range", 0.02, 0.0, 10.0);
    c.tie_word_embeddings = o.boolean("tie_word_embeddings", false); // HF default for all three

    const std::string act = o.string("hidden_act", "silu");
    if (act != "silu") o.fail("hidden_act", "expected \"silu\" (SwiGLU MLP), got \"" + act + "\"");

    if (c.model_type == "qwen2") {
        c.qkv_bias = true;
        if (o.boolean("use_sliding_window", false))
            o.fail("use_sliding_window",
                   "sliding-window attention is not supported (expected false)");
    } else if (c.model_type == "llama") {
        const bool ab = o.boolean("attention_bias", false);
        c.qkv_bias = ab;
        c.o_bias = ab;
        if (o.boolean("mlp_bias", false))
            o.fail("mlp_bias", "MLP biases are not supported (expected false)");
    } else if (c.model_type == "mistral") {
        if (o.has("sliding_window"))
            c.sliding_window = static_cast<int>(o.integer("sliding_window", 1, 1 << 30));
    }

    if (o.has("rope_scaling")) {
        const JsonObject rs = o.object("rope_scaling");
        std::string type =
            rs.has("rope_type") ? rs.string("rope_type") : rs.string("type", "default");
        if (type == "default") {
            c.rope_scaling.kind = RopeScaling::Kind::None;
        } else if (type == "linear") {
            c.rope_scaling.kind = RopeScaling::Kind::Linear;
            c.rope_scaling.factor = rs.number("factor", 1e-6, 1e6);
        } else if (type == "llama3") {
            c.rope_scaling.kind = RopeScaling::Kind::Llama3;
            c.rope_scaling.factor = rs.number("factor", 1e-6, 1e6);
            c.rope_scaling.low_freq_factor = rs.number("low_freq_factor", 1.0, 1e-6, 1e6);
            c.rope_scaling.high_freq_factor = rs.number("high_freq_factor", 4.0, 1e-6, 1e6);
            c.rope_scaling.original_max_position_embeddings =
                static_cast<int>(rs.integer("original_max_position_embeddings", 8192, 1, 1 << 24));
            if (c.rope_scaling.high_freq_factor <= c.rope_scaling.low_freq_factor)
                rs.fail("high_freq_factor", "expected a value above low_freq_factor");
        } else {
            rs.fail("rope_type", "RoPE scaling \"" + type +
                                     "\" is not supported (expected \"default\", \"linear\" or "
                                     "\"llama3\")");
        }
    }

    auto token_id = [&](std::string_view key) -> int {
        if (!o.has(key)) return -1;
        const auto& v = o.raw(key);
        // Some configs list several EOS ids; the first is the one we append.
        if (v.is_array()) {
            if (v.empty() || !v[0].is_number_integer())
                o.fail(key, "expected a token id or a list of token ids, got " + json_brief(v));
            return v[0].get<int>();
        }
        return static_cast<int>(o.integer(key, 0, c.vocab_size - 1));
    };
    c.bos_token_id = token_id("bos_token_id");
    c.eos_token_id = token_id("eos_token_id");
    c.torch_dtype = o.string("torch_dtype", "float32");
    return c;
}

nlohmann::json ModelConfig::to_json() const {
    nlohmann::json j;
    j["architectures"] = {architecture};
    j["model_type"] = model_type;
    j["vocab_size"] = vocab_size;
    j["hidden_size"] = hidden_size;
    j["intermediate_size"] = intermediate_size;
    j["num_hidden_layers"] = num_layers;
    j["num_attention_heads"] = num_heads;
    j["num_key_value_heads"] = num_kv_heads;
    j["head_dim"] = head_dim;
    j["max_position_embeddings"] = max_position_embeddings;
    j["rms_norm_eps"] = rms_norm_eps;
    j["rope_theta"] = rope_theta;
    j["hidden_act"] = "silu";
    j["initializer_range"] = initializer_range;
    j["tie_word_embeddings"] = tie_word_embeddings;
    j["torch_dtype"] = torch_dtype;
    j["use_cache"] = true;
    if (bos_token_id >= 0) j["bos_token_id"] = bos_token_id;
    if (eos_token_id >= 0) j["eos_token_id"] = eos_token_id;
    if (model_type == "llama") {
        j["attention_bias"] = qkv_bias;
        j["mlp_bias"] = false;
    }
    if (model_type == "qwen2") {
        j["use_sliding_window"] = false;
        j["sliding_window"] = nullptr;
        j["max_window_layers"] = num_layers;
    }
    if (model_type == "mistral") {
        j["sliding_window"] =
            sliding_window > 0 ? nlohmann::json(sliding_window) : nlohmann::json();
    }
    switch (rope_scaling.kind) {
    case RopeScaling::Kind::None:
        j["rope_scaling"] = nullptr;
        break;
    case RopeScaling::Kind::Linear:
        j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rope_scaling.factor}};
        break;
    case RopeScaling::Kind::Llama3:
        j["rope_scaling"] = {
            {"rope_type", "llama3"},
            {"factor", rope_scaling.factor},
            {"low_freq_factor", rope_scaling.low_freq_factor},
            {"high_freq_factor", rope_scaling.high_freq_factor},
            {"original_max_position_embeddings", rope_scaling.original_max_position_embeddings}};
        break;
    }
    return j;
}

namespace {
ModelConfig make(std::string arch, int V, int C, int F, int L, int H, int KV, int maxpos,
                 double eps, double theta, bool tied) {
    ModelConfig c;
    c.architecture = std::move(arch);
    c.model_type = c.architecture == "Qwen2ForCausalLM"     ? "qwen2"
                   : c.architecture == "MistralForCausalLM" ? "mistral"
                                                            : "llama";
    c.vocab_size = V;
    c.hidden_size = C;
    c.intermediate_size = F;
    c.num_layers = L;
    c.num_heads = H;
    c.num_kv_heads = KV;
    c.head_dim = C / H;
    c.max_position_embeddings = maxpos;
    c.rms_norm_eps = eps;
    c.rope_theta = theta;
    c.tie_word_embeddings = tied;
    c.qkv_bias = c.model_type == "qwen2";
    return c;
}
} // namespace

std::vector<std::string> ModelConfig::preset_names() {
    return {"tiny",       "small",      "medium",     "llama2-7b", "llama3-8b",
            "mistral-7b", "qwen2-0.5b", "qwen2-1.5b", "qwen2-7b"};
}

ModelConfig ModelConfig::preset(std::string_view name) {
    const std::string L = "LlamaForCausalLM", Q = "Qwen2ForCausalLM", M = "MistralForCausalLM";
    ModelConfig c;
    if (name == "tiny") {
        c = make(L, 256, 64, 176, 2, 4, 2, 2048, 1e-5, 10000.0, false);
    } else if (name == "small") {
        c = make(L, 256, 384, 1024, 6, 6, 2, 2048, 1e-5, 10000.0, false);
    } else if (name == "medium") {
        c = make(L, 256, 512, 1408, 8, 8, 4, 2048, 1e-5, 10000.0, false);
    } else if (name == "llama2-7b") { // meta-llama/Llama-2-7b-hf
        c = make(L, 32000, 4096, 11008, 32, 32, 32, 4096, 1e-5, 10000.0, false);
        c.bos_token_id = 1;
        c.eos_token_id = 2;
        c.torch_dtype = "float16";
    } else if (name == "llama3-8b") { // meta-llama/Meta-Llama-3-8B
        c = make(L, 128256, 4096, 14336, 32, 32, 8, 8192, 1e-5, 500000.0, false);
        c.bos_token_id = 128000;
        c.eos_token_id = 128001;
        c.torch_dtype = "bfloat16";
    } else if (name == "mistral-7b") { // mistralai/Mistral-7B-v0.3
        c = make(M, 32768, 4096, 14336, 32, 32, 8, 32768, 1e-5, 1000000.0, false);
        c.bos_token_id = 1;
        c.eos_token_id = 2;
        c.torch_dtype = "bfloat16";
    } else if (name == "qwen2-0.5b") { // Qwen/Qwen2-0.5B
        c = make(Q, 151936, 896, 4864, 24, 14, 2, 131072, 1e-6, 1000000.0, true);
    } else if (name == "qwen2-1.5b") { // Qwen/Qwen2-1.5B
        c = make(Q, 151936, 1536, 8960, 28, 12, 2, 131072, 1e-6, 1000000.0, true);
    } else if (name == "qwen2-7b") { // Qwen/Qwen2-7B
        c = make(Q, 152064, 3584, 18944, 28, 28, 4, 131072, 1e-6, 1000000.0, false);
    } else {
        std::string list;
        for (const auto& n : preset_names()) list += (list.empty() ? "" : ", ") + n;
        throw InputError("--preset", std::string(name),
                         "unknown preset (expected one of: " + list + ")");
    }
    if (c.model_type == "qwen2") {
        c.bos_token_id = c.bos_token_id < 0 && c.vocab_size > 151643 ? 151643 : c.bos_token_id;
        c.eos_token_id = c.eos_token_id < 0 && c.vocab_size > 151643 ? 151643 : c.eos_token_id;
        c.torch_dtype = "bfloat16";
    }
    if (c.vocab_size == 256) c.torch_dtype = "float32";
    return c;
}

ModelConfig load_model_config(const std::filesystem::path& model_dir) {
    const auto path = model_dir / "config.json";
    if (!std::filesystem::exists(path))
        throw InputError(path.string(), "",
                         "no such file (expected a Hugging Face model folder with config.json)");
    return ModelConfig::from_json(read_json_file(path), path.string());
}

} // namespace bcd
