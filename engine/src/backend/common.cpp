// What both backends and the CUDA backend's host logic share from bcd/backend.h: precision names
// and the packed layout of a block's state.

#include "bcd/backend.h"

namespace bcd {

const char* precision_name(TrainPrecision p) {
    return p == TrainPrecision::BF16 ? "bf16" : "fp32";
}

TrainPrecision parse_precision(const std::string& name) {
    if (name == "fp32") return TrainPrecision::FP32;
    if (name == "bf16") return TrainPrecision::BF16;
    throw std::invalid_argument("unknown precision '" + name + "' (expected fp32 or bf16)");
}

PackedLayout packed_layout(const ParamLayout& layout, const Block& block) {
    PackedLayout out;
    for (int t : block.tensors) {
        out.offsets.push_back(out.total);
        out.total += (layout.params()[static_cast<std::size_t>(t)].numel + 15) / 16 * 16;
    }
    return out;
}

} // namespace bcd
