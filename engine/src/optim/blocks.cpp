#include "bcd/blocks.h"

#include "bcd/errors.h"

#include <algorithm>

namespace bcd {

namespace {
Block make_block(const ParamLayout& layout, int id, std::string name, std::vector<int> tensors) {
    Block b;
    b.id = id;
    b.name = std::move(name);
    std::sort(tensors.begin(), tensors.end());
    b.tensors = std::move(tensors);
    b.lowest_layer = layout.num_layers();
    for (int t : b.tensors) {
        const auto& p = layout.params()[static_cast<std::size_t>(t)];
        b.params += p.numel;
        b.lowest_layer = std::min(b.lowest_layer, p.layer);
    }
    return b;
}
} // namespace

std::vector<Block> default_blocks(const ParamLayout& layout, int layers_per_block, bool embed_block,
                                  bool head_block) {
    if (layers_per_block < 1) throw std::invalid_argument("layers_per_block must be >= 1");
    std::vector<Block> blocks;
    const auto& ps = layout.params();
    const int L = layout.num_layers();
    if (embed_block) blocks.push_back(make_block(layout, 0, "embed", {layout.embed()}));
    for (int l0 = 0; l0 < L; l0 += layers_per_block) {
        const int l1 = std::min(L, l0 + layers_per_block) - 1;
        std::vector<int> ts;
        for (std::size_t i = 0; i < ps.size(); ++i)
            if (ps[i].layer >= l0 && ps[i].layer <= l1) ts.push_back(static_cast<int>(i));
        std::string name = "layers." + std::to_string(l0);
        if (l1 != l0) name += "-" + std::to_string(l1);
        blocks.push_back(make_block(layout, static_cast<int>(blocks.size()), name, std::move(ts)));
    }
    if (head_block) {
        std::vector<int> ts{layout.final_norm()};
        if (layout.lm_head() >= 0) ts.push_back(layout.lm_head());
        blocks.push_back(
            make_block(layout, static_cast<int>(blocks.size()), "head", std::move(ts)));
    }
    return blocks;
}

std::vector<Block> prefix_blocks(const ParamLayout& layout,
                                 const std::vector<std::vector<std::string>>& prefixes,
                                 const std::string& file, const std::string& key) {
    const auto& ps = layout.params();
    std::vector<int> owner(ps.size(), -1);
    std::vector<Block> blocks;
    if (prefixes.empty()) throw InputError(file, key, "expected at least one block");
    for (std::size_t b = 0; b < prefixes.size(); ++b) {
        std::vector<int> ts;
        const std::string bkey = key + "[" + std::to_string(b) + "]";
        if (prefixes[b].empty())
            throw InputError(file, bkey, "expected a non-empty list of tensor-name prefixes");
        for (const auto& prefix : prefixes[b]) {
            bool matched = false;
            for (std::size_t i = 0; i < ps.size(); ++i) {
                if (!ps[i].name.starts_with(prefix)) continue;
                matched = true;
                if (owner[i] == static_cast<int>(b)) continue;
                if (owner[i] >= 0)
                    throw InputError(file, bkey,
                                     "tensor '" + ps[i].name + "' is already in block " +
                                         std::to_string(owner[i]) +
                                         " (expected every tensor in exactly one block)");
                owner[i] = static_cast<int>(b);
                ts.push_back(static_cast<int>(i));
            }
            if (!matched)
                throw InputError(file, bkey,
                                 "prefix '" + prefix + "' matches no tensor of the model");
        }
        blocks.push_back(
            make_block(layout, static_cast<int>(b), "block." + std::to_string(b), std::move(ts)));
    }
    for (std::size_t i = 0; i < ps.size(); ++i)
        if (owner[i] < 0)
            throw InputError(file, key,
                             "tensor '" + ps[i].name +
                                 "' is in no block (expected every tensor in exactly one block)");
    return blocks;
}

} // namespace bcd
