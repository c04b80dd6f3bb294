#pragma once
// The optimizers' per-element updates (PyTorch's AdamW and SGD formulas, docs/training.md). The
// constants of a step are computed once on the host (in double, then rounded to float as the
// reference does) and passed to every element.

#include "kernels/hd.h"

namespace bcd::kernels {

struct AdamWConstants {
    float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
    float step_size = 0.0f; // lr / (1 − β1^t)
    float bc2_sqrt = 1.0f;  // sqrt(1 − β2^t)
    float decay = 1.0f;     // 1 − lr · weight_decay for decayed tensors, else 1
};

// The constants of step t (1-based) of a block whose tensors do or do not decay.
inline AdamWConstants adamw_constants(double beta1, double beta2, double eps, double lr,
                                      double weight_decay, long t, bool decays) {
    AdamWConstants k;
    k.beta1 = static_cast<float>(beta1);
    k.beta2 = static_cast<float>(beta2);
    k.eps = static_cast<float>(eps);
    k.step_size = static_cast<float>(lr / (1.0 - pow(beta1, static_cast<double>(t))));
    k.bc2_sqrt = static_cast<float>(sqrt(1.0 - pow(beta2, static_cast<double>(t))));
    k.decay = decays ? static_cast<float>(1.0 - lr * weight_decay) : 1.0f;
    return k;
}

// One AdamW element: decoupled weight decay, moments, bias-corrected step.
BCD_HD void adamw_update(float& p, float& m, float& v, float g, const AdamWConstants& k) {
    float q = p * k.decay;
    const float m1 = k.beta1 * m + (1.0f - k.beta1) * g;
    const float v1 = k.beta2 * v + (1.0f - k.beta2) * g * g;
    m = m1;
    v = v1;
    q -= k.step_size * m1 / (sqrtf(v1) / k.bc2_sqrt + k.eps);
    p = q;
}

struct SgdConstants {
    float lr = 0.0f;
    float momentum = 0.0f;
    float weight_decay = 0.0f; // 0 for tensors that do not decay
    bool first_step = true;    // t == 1: the momentum buffer starts as the gradient
};

// One SGD element (PyTorch's: coupled weight decay, momentum buffer without dampening). buf is
// null without momentum.
BCD_HD void sgd_update(float& p, float* buf, float g, const SgdConstants& k) {
    float d = g + k.weight_decay * p;
    if (buf) {
        d = k.first_step ? d : k.momentum * *buf + d;
        *buf = d;
    }
    p -= k.lr * d;
}

// torch.nn.utils.clip_grad_norm_'s factor: gradients are scaled by it when it is below 1.
inline double clip_factor(double norm, double max_norm) {
    return max_norm / (norm + 1e-6);
}

} // namespace bcd::kernels
