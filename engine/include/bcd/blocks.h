#pragma once
// BCD's partition of a model's parameters into blocks (DESIGN.md §3): the embedding (when
// embed_block), groups of layers_per_block consecutive layers, the head = final norm + untied
// lm_head (when head_block); or explicit lists of tensor-name prefixes.

#include "bcd/param_layout.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bcd {

struct Block {
    int id = 0;
    std::string name;         // "embed", "layers.0", "layers.2-3", "head", "block.N"
    std::vector<int> tensors; // indices into ParamLayout::params(), in layout order
    std::uint64_t params = 0; // Σ numel of the tensors
    int lowest_layer = 0;     // -1 embed … L head: where the backward must reach
};

// The default partition. Tensors outside every block (embedding without embed_block, head
// without head_block) stay frozen for the whole run.
std::vector<Block> default_blocks(const ParamLayout& layout, int layers_per_block, bool embed_block,
                                  bool head_block);

// An explicit partition: each block lists tensor-name prefixes. Every tensor must match exactly
// one block (throws InputError naming `file`/`key` otherwise).
std::vector<Block> prefix_blocks(const ParamLayout& layout,
                                 const std::vector<std::vector<std::string>>& prefixes,
                                 const std::string& file, const std::string& key);

} // namespace bcd
