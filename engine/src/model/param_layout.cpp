#include "bcd/param_layout.h"

#include <numeric>

namespace bcd {

ParamLayout::ParamLayout(const ModelConfig& c) {
    const std::int64_t C = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
    const std::int64_t q = c.q_dim(), kv = c.kv_dim();
    auto add = [&](std::string name, std::vector<std::int64_t> shape, int layer, ParamKind kind) {
        ParamInfo p;
        p.name = std::move(name);
        p.numel = static_cast<std::size_t>(
            std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>()));
        p.shape = std::move(shape);
        p.offset = total_;
        p.layer = layer;
        p.kind = kind;
        // Keep every tensor 16-float (64-byte) aligned so that SIMD loads never straddle tensors.
        total_ += (p.numel + 15) / 16 * 16;
        params_.push_back(std::move(p));
        return static_cast<int>(params_.size()) - 1;
    };
    embed_ = add("model.embed_tokens.weight", {V, C}, -1, ParamKind::Embedding);
    for (int l = 0; l < c.num_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        LayerParamIndex li;
        li.ln1 = add(p + "input_layernorm.weight", {C}, l, ParamKind::Norm);
        li.wq = add(p + "self_attn.q_proj.weight", {q, C}, l, ParamKind::Matrix);
        if (c.qkv_bias) li.bq = add(p + "self_attn.q_proj.bias", {q}, l, ParamKind::Bias);
        li.wk = add(p + "self_attn.k_proj.weight", {kv, C}, l, ParamKind::Matrix);
        if (c.qkv_bias) li.bk = add(p + "self_attn.k_proj.bias", {kv}, l, ParamKind::Bias);
        li.wv = add(p + "self_attn.v_proj.weight", {kv, C}, l, ParamKind::Matrix);
        if (c.qkv_bias) li.bv = add(p + "self_attn.v_proj.bias", {kv}, l, ParamKind::Bias);
        li.wo = add(p + "self_attn.o_proj.weight", {C, q}, l, ParamKind::Matrix);
        if (c.o_bias) li.bo = add(p + "self_attn.o_proj.bias", {C}, l, ParamKind::Bias);
        li.ln2 = add(p + "post_attention_layernorm.weight", {C}, l, ParamKind::Norm);
        li.wg = add(p + "mlp.gate_proj.weight", {F, C}, l, ParamKind::Matrix);
        li.wu = add(p + "mlp.up_proj.weight", {F, C}, l, ParamKind::Matrix);
        li.wd = add(p + "mlp.down_proj.weight", {C, F}, l, ParamKind::Matrix);
        layers_.push_back(li);
    }
    norm_ = add("model.norm.weight", {C}, c.num_layers, ParamKind::Norm);
    if (!c.tie_word_embeddings)
        lm_head_ = add("lm_head.weight", {V, C}, c.num_layers, ParamKind::Matrix);
}

int ParamLayout::find(std::string_view name) const {
    for (std::size_t i = 0; i < params_.size(); ++i)
        if (params_[i].name == name) return static_cast<int>(i);
    return -1;
}

std::pair<std::size_t, std::size_t> ParamLayout::layer_range(int l) const {
    const auto& li = layers_[static_cast<std::size_t>(l)];
    const auto& first = params_[static_cast<std::size_t>(li.ln1)];
    const auto& last = params_[static_cast<std::size_t>(li.wd)];
    return {first.offset, last.offset + last.numel};
}

std::pair<std::size_t, std::size_t> ParamLayout::head_range() const {
    const auto& first = params_[static_cast<std::size_t>(norm_)];
    const auto& last = params_[static_cast<std::size_t>(lm_head_ >= 0 ? lm_head_ : norm_)];
    return {first.offset, last.offset + last.numel};
}

} // namespace bcd
