#pragma once
// Where each parameter tensor lives inside the model's single fp32 parameter allocation.
// Tensors are laid out in model order (embedding; per layer: input norm, q/k/v/o, post-attention
// norm, gate/up/down; final norm; lm_head), so that every default BCD block — the embedding, a
// group of consecutive layers, the head — is one contiguous range of the allocation.

#include "bcd/model_config.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bcd {

enum class ParamKind { Embedding, Norm, Matrix, Bias };

struct ParamInfo {
    std::string name; // HF tensor name, e.g. "model.layers.0.self_attn.q_proj.weight"
    std::vector<std::int64_t> shape; // HF shape ([out, in] for linear weights)
    std::size_t offset = 0;          // in floats from the start of the parameter allocation
    std::size_t numel = 0;
    int layer = 0; // -1: embedding, 0..L-1: transformer layer, L: head (norm, lm_head)
    ParamKind kind = ParamKind::Matrix;

    // Weight decay applies to weight matrices and embeddings, not to norms or biases.
    bool decays() const { return kind == ParamKind::Matrix || kind == ParamKind::Embedding; }
};

// Indices into ParamLayout::params() for one transformer layer; -1 where the model has no such
// tensor (biases).
struct LayerParamIndex {
    int ln1 = -1, wq = -1, bq = -1, wk = -1, bk = -1, wv = -1, bv = -1, wo = -1, bo = -1;
    int ln2 = -1, wg = -1, wu = -1, wd = -1;
};

class ParamLayout {
public:
    explicit ParamLayout(const ModelConfig& cfg);

    const std::vector<ParamInfo>& params() const { return params_; }
    std::size_t total() const { return total_; } // floats in the allocation
    int find(std::string_view name) const;       // index, or -1

    int embed() const { return embed_; }
    int final_norm() const { return norm_; }
    int lm_head() const { return lm_head_; } // -1 when tied to the embedding
    const LayerParamIndex& layer(int l) const { return layers_[static_cast<std::size_t>(l)]; }
    int num_layers() const { return static_cast<int>(layers_.size()); }

    // [begin, end) in floats of layer l's tensors; of the head (final norm + untied lm_head).
    std::pair<std::size_t, std::size_t> layer_range(int l) const;
    std::pair<std::size_t, std::size_t> head_range() const;

private:
    std::vector<ParamInfo> params_;
    std::vector<LayerParamIndex> layers_;
    std::size_t total_ = 0;
    int embed_ = -1, norm_ = -1, lm_head_ = -1;
};

} // namespace bcd
