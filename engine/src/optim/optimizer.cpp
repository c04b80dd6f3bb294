#include "bcd/optimizer.h"

#include "kernels/optim.h"

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
    const double k = kernels::clip_factor(norm, max_norm);
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
        for (const auto& ts : slots) {
            const kernels::AdamWConstants k =
                kernels::adamw_constants(s.beta1, s.beta2, s.eps, lr, s.weight_decay, t, ts.decay);
#pragma omp parallel for schedule(static) if (ts.n > 65536)
            for (std::size_t i = 0; i < ts.n; ++i)
                kernels::adamw_update(ts.param[i], ts.m[i], ts.v[i], ts.grad[i], k);
        }
        return;
    }
    for (const auto& ts : slots) {
        kernels::SgdConstants k;
        k.lr = static_cast<float>(lr);
        k.momentum = static_cast<float>(s.momentum);
        k.weight_decay = ts.decay ? static_cast<float>(s.weight_decay) : 0.0f;
        k.first_step = t == 1;
#pragma omp parallel for schedule(static) if (ts.n > 65536)
        for (std::size_t i = 0; i < ts.n; ++i)
            kernels::sgd_update(ts.param[i], ts.m ? ts.m + i : nullptr, ts.grad[i], k);
    }
}

} // namespace bcd
