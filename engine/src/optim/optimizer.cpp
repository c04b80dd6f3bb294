#include "bcd/optimizer.h"

#include <cmath>
#include <numbers>
#include <omp.h>

namespace bcd {

double LrSchedule::at(long step) const {
    if (warmup_steps > 0 && step <= warmup_steps)
        return lr * static_cast<double>(step) / static_cast<double>(warmup_steps);
    const double p = static_cast<double>(step - warmup_steps) /
                     static_cast<double>(std::max(1L, total_steps - warmup_steps));
    if (kind == "linear") return min_lr + (lr - min_lr) * (1.0 - p);
    if (kind == "cosine")
        return min_lr + 0.5 * (lr - min_lr) * (1.0 + std::cos(std::numbers::pi * p));
    return lr;
}

int state_floats_per_param(const OptimizerSettings& s) {
    if (s.name == "adamw") return 2;
    return s.momentum > 0.0 ? 1 : 0;
}

double grad_norm(std::span<const TensorSlot> slots) {
    double total = 0.0;
    for (const auto& t : slots) {
        // Fixed chunks summed in order: the same result for any thread count.
        constexpr std::size_t kChunk = 1 << 16;
        const std::size_t chunks = (t.n + kChunk - 1) / kChunk;
        std::vector<double> part(chunks, 0.0);
#pragma omp parallel for schedule(static) if (chunks > 1)
        for (std::size_t c = 0; c < chunks; ++c) {
            double s = 0.0;
            const std::size_t e = std::min(t.n, (c + 1) * kChunk);
            for (std::size_t i = c * kChunk; i < e; ++i)
                s += static_cast<double>(t.grad[i]) * t.grad[i];
            part[c] = s;
        }
        for (double s : part) total += s;
    }
    return std::sqrt(total);
}

void clip_gradients(std::span<const TensorSlot> slots, double norm, double max_norm) {
    const double k = max_norm / (norm + 1e-6);
    if (k >= 1.0) return;
    const float kf = static_cast<float>(k);
    for (const auto& t : slots) {
#pragma omp parallel for schedule(static) if (t.n > 65536)
        for (std::size_t i = 0; i < t.n; ++i) t.grad[i] *= kf;
    }
}

void optimizer_step(const OptimizerSettings& s, std::span<const TensorSlot> slots, double lr,
                    long t) {
    if (s.name == "adamw") {
        const double bc1 = 1.0 - std::pow(s.beta1, static_cast<double>(t));
        const double bc2 = 1.0 - std::pow(s.beta2, static_cast<double>(t));
        const float step_size = static_cast<float>(lr / bc1);
        const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
        const float b1 = static_cast<float>(s.beta1), b2 = static_cast<float>(s.beta2);
        const float eps = static_cast<float>(s.eps);
        for (const auto& ts : slots) {
            const float decay = ts.decay ? static_cast<float>(1.0 - lr * s.weight_decay) : 1.0f;
#pragma omp parallel for schedule(static) if (ts.n > 65536)
            for (std::size_t i = 0; i < ts.n; ++i) {
                const float g = ts.grad[i];
                float p = ts.param[i] * decay;
                const float m = b1 * ts.m[i] + (1.0f - b1) * g;
                const float v = b2 * ts.v[i] + (1.0f - b2) * g * g;
                ts.m[i] = m;
                ts.v[i] = v;
                p -= step_size * m / (std::sqrt(v) / bc2_sqrt + eps);
                ts.param[i] = p;
            }
        }
        return;
    }
    // SGD
    const float lrf = static_cast<float>(lr), mu = static_cast<float>(s.momentum);
    for (const auto& ts : slots) {
        const float wd = ts.decay ? static_cast<float>(s.weight_decay) : 0.0f;
#pragma omp parallel for schedule(static) if (ts.n > 65536)
        for (std::size_t i = 0; i < ts.n; ++i) {
            float d = ts.grad[i] + wd * ts.param[i];
            if (ts.m) {
                d = t == 1 ? d : mu * ts.m[i] + d;
                ts.m[i] = d;
            }
            ts.param[i] -= lrf * d;
        }
    }
}

} // namespace bcd
