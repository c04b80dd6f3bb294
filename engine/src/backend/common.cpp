// What both backends and the CUDA backend's host logic share from bcd/backend.h: precision names
// and the packed layout of a block's state.

#include "backend/batch_check.h"
#include "bcd/backend.h"
#include "bcd/errors.h"

#include <stdexcept>
#include <string>

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

long check_batch(const ModelConfig& c, const std::int32_t* inputs, const std::int32_t* targets,
                 int B, int T) {
    if (B <= 0 || T <= 0) throw std::invalid_argument("forward: empty batch");
    if (c.sliding_window > 0 && T > c.sliding_window)
        throw InputError("config.json", "sliding_window",
                         "sequence length " + std::to_string(T) + " exceeds the sliding window (" +
                             std::to_string(c.sliding_window) +
                             "); sliding-window attention is not supported, use a shorter seq_len");
    const int N = B * T, V = c.vocab_size;
    long count = 0;
    for (int n = 0; n < N; ++n) {
        if (inputs[n] < 0 || inputs[n] >= V)
            throw InputError("", "token id " + std::to_string(inputs[n]),
                             "expected ids below the model's vocab_size (" + std::to_string(V) +
                                 ")");
        if (targets[n] >= V || (targets[n] < 0 && targets[n] != -100))
            throw InputError("", "target id " + std::to_string(targets[n]),
                             "expected ids below vocab_size (" + std::to_string(V) + ") or -100");
        if (targets[n] >= 0) ++count;
    }
    return count;
}

} // namespace bcd
