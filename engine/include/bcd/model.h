#pragma once
// A model's configuration and its parameters in one fp32 host allocation, with loading from and
// saving to a Hugging Face model folder (config.json + model.safetensors).

#include "bcd/buffer.h"
#include "bcd/model_config.h"
#include "bcd/param_layout.h"
#include "bcd/safetensors.h"

#include <cstdint>
#include <filesystem>
#include <span>

namespace bcd {

class Model {
public:
    explicit Model(ModelConfig cfg); // all parameters zero

    const ModelConfig& config() const { return cfg_; }
    const ParamLayout& layout() const { return layout_; }
    float* params() { return params_.data(); }
    const float* params() const { return params_.data(); }
    std::size_t num_floats() const { return params_.size(); }
    std::uint64_t num_params() const { return cfg_.num_params(); }
    std::span<float> tensor(int index);
    std::span<const float> tensor(int index) const;

    // HF's initialisation: matrices and the embedding ~ N(0, initializer_range), norms 1, biases 0.
    // Each tensor draws from its own stream derived from (seed, tensor name), so the result does
    // not depend on the order of initialisation.
    void init_random(std::uint64_t seed);

    // Loads DIR/config.json and the weights: DIR/model.safetensors, or the shards that
    // DIR/model.safetensors.index.json names (index and shards must agree). Every parameter must
    // be present once with its exact shape; tensors the model does not have are an error, except
    // rotary inv_freq buffers and a redundant lm_head.weight of a tied model. F16/BF16 are
    // converted to fp32.
    static Model load(const std::filesystem::path& dir);
    // Loads the tensors of safetensors files into this model's parameters (same rules).
    void load_weights(std::span<const SafetensorsFile> files);

    // Writes DIR/config.json and the weights (stored as `dtype`; config's torch_dtype set to
    // match): one model.safetensors, or HF-style shards model-0000i-of-0000n.safetensors plus
    // model.safetensors.index.json when the weights exceed max_shard_bytes. Creates DIR; removes
    // weight files of an earlier save in the other layout.
    static constexpr std::uint64_t kDefaultShardBytes = 5000000000ULL; // HF's default
    void save(const std::filesystem::path& dir, DType dtype = DType::F32,
              std::uint64_t max_shard_bytes = kDefaultShardBytes) const;

private:
    ModelConfig cfg_;
    ParamLayout layout_;
    FloatBuffer params_;
};

} // namespace bcd
