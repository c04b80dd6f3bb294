#pragma once
// The model's hyper-parameters as Hugging Face's config.json states them, for the Llama family:
// LlamaForCausalLM, Qwen2ForCausalLM and MistralForCausalLM. Anything else is refused by name.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace bcd {

// RoPE frequency scaling (HF `rope_scaling`): none, "linear" (positions divided by factor) or
// "llama3" (Llama 3.1's piecewise scaling of the inverse frequencies).
struct RopeScaling {
    enum class Kind { None, Linear, Llama3 } kind = Kind::None;
    double factor = 1.0;
    double low_freq_factor = 1.0;
    double high_freq_factor = 4.0;
    int original_max_position_embeddings = 8192;
};

struct ModelConfig {
    std::string architecture = "LlamaForCausalLM"; // HF `architectures[0]`
    std::string model_type = "llama";              // llama | qwen2 | mistral
    int vocab_size = 256;
    int hidden_size = 64;
    int intermediate_size = 176;
    int num_layers = 2;
    int num_heads = 4;
    int num_kv_heads = 2;
    int head_dim = 16;
    int max_position_embeddings = 2048;
    double rms_norm_eps = 1e-5;
    double rope_theta = 10000.0;
    RopeScaling rope_scaling;
    bool tie_word_embeddings = false;
    bool qkv_bias = false; // Qwen2 always; Llama with attention_bias
    bool o_bias = false;   // Llama with attention_bias
    double initializer_range = 0.02;
    int bos_token_id = -1; // -1: none
    int eos_token_id = -1;
    std::string torch_dtype = "float32";
    int sliding_window = 0; // Mistral v0.1; 0 = none. Sequences must not exceed it.

    int q_dim() const { return num_heads * head_dim; }
    int kv_dim() const { return num_kv_heads * head_dim; }
    std::uint64_t num_params() const;

    // Parses a HF config.json object; `file` names it in errors. Unknown keys are ignored (HF
    // configs carry many), unsupported features are refused by name.
    static ModelConfig from_json(const nlohmann::json& j, const std::string& file);
    nlohmann::json to_json() const;

    // Built-in shapes: tiny, small, medium (random-initialisable), and the true shapes of
    // llama2-7b, llama3-8b, mistral-7b, qwen2-0.5b, qwen2-1.5b, qwen2-7b.
    static ModelConfig preset(std::string_view name); // throws InputError for unknown names
    static std::vector<std::string> preset_names();
};

// Reads DIR/config.json.
ModelConfig load_model_config(const std::filesystem::path& model_dir);

} // namespace bcd
