#pragma once
// The rotary tables (cos, sin of position · inv_freq), computed the way HF computes them, in fp32:
// inv_freq = 1 / base^(2i/D) (with the config's linear or Llama 3 scaling), then angle =
// position · inv_freq rounded to fp32, so that long positions agree with transformers. Host code,
// shared by the CPU reference and the CUDA backend (which uploads the tables).

#include "bcd/model_config.h"

#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

namespace bcd::kernels {

// cos [T, D/2] then sin [T, D/2] into `out` (resized to 2 · T · D/2).
inline void rope_tables(const ModelConfig& c, int T, std::vector<float>& out) {
    const int half = c.head_dim / 2;
    std::vector<float> inv(static_cast<std::size_t>(half));
    for (int i = 0; i < half; ++i) {
        const float e = static_cast<float>(2 * i) / static_cast<float>(c.head_dim);
        inv[static_cast<std::size_t>(i)] = 1.0f / std::pow(static_cast<float>(c.rope_theta), e);
    }
    const auto& rs = c.rope_scaling;
    if (rs.kind == RopeScaling::Kind::Linear) {
        for (auto& f : inv) f = static_cast<float>(f / rs.factor);
    } else if (rs.kind == RopeScaling::Kind::Llama3) {
        const double old_len = rs.original_max_position_embeddings;
        const double low_wl = old_len / rs.low_freq_factor, high_wl = old_len / rs.high_freq_factor;
        for (auto& f : inv) {
            const double wl = 2.0 * std::numbers::pi / f;
            if (wl > low_wl) {
                f = static_cast<float>(f / rs.factor);
            } else if (wl >= high_wl) {
                const double smooth = (old_len / wl - rs.low_freq_factor) /
                                      (rs.high_freq_factor - rs.low_freq_factor);
                f = static_cast<float>((1.0 - smooth) * f / rs.factor + smooth * f);
            }
        }
    }
    out.resize(static_cast<std::size_t>(2) * T * half);
    float* cs = out.data();
    float* sn = out.data() + static_cast<std::size_t>(T) * half;
    for (int t = 0; t < T; ++t)
        for (int i = 0; i < half; ++i) {
            const float angle = static_cast<float>(t) * inv[static_cast<std::size_t>(i)];
            cs[static_cast<std::size_t>(t) * half + i] =
                static_cast<float>(std::cos(static_cast<double>(angle)));
            sn[static_cast<std::size_t>(t) * half + i] =
                static_cast<float>(std::sin(static_cast<double>(angle)));
        }
}

} // namespace bcd::kernels
