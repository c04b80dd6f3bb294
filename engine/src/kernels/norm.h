#pragma once
// RMSNorm (HF LlamaRMSNorm): y = x · rstd · w with rstd = 1 / sqrt(mean(x²) + eps), computed in
// fp32 whatever the storage type.

#include "kernels/hd.h"

namespace bcd::kernels {

// rstd of a row from the sum of its squares.
BCD_HD float rmsnorm_rstd(float sum_sq, int C, float eps) {
    return 1.0f / sqrtf(sum_sq / static_cast<float>(C) + eps);
}

BCD_HD float rmsnorm_apply(float x, float rstd, float w) {
    return x * rstd * w;
}

// One element's share of the row's dot Σ (dy∘w)∘x̂ that the input gradient needs.
BCD_HD float rmsnorm_dot_term(float dy, float w, float x, float rstd) {
    return dy * w * x * rstd;
}

// ∂L/∂x_i given the row's mean = dot / C.
BCD_HD float rmsnorm_dx(float dy, float w, float x, float rstd, float mean) {
    return rstd * (dy * w - x * rstd * mean);
}

// One row's contribution to ∂L/∂w_i.
BCD_HD float rmsnorm_dw_term(float dy, float x, float rstd) {
    return dy * x * rstd;
}

} // namespace bcd::kernels
