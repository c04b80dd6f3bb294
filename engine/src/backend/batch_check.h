#pragma once
// The checks every backend makes of a micro-batch before computing on it (bcd_backend_common):
// a non-empty shape, a sequence within a sliding window, token ids below the vocabulary and
// targets below it or -100. Returns the number of targets that count in the loss.

#include "bcd/model_config.h"

#include <cstdint>

namespace bcd {

long check_batch(const ModelConfig& c, const std::int32_t* inputs, const std::int32_t* targets,
                 int B, int T);

} // namespace bcd
