#pragma once
// Softmax rows: causal attention probabilities and the cross-entropy of the head. A row is
// reduced to its maximum and its log-sum-exp; every element then follows from these.

#include "kernels/hd.h"

namespace bcd::kernels {

// exp(s − m): an unnormalised probability against the row maximum (or, with m = lse, the
// normalised probability).
BCD_HD float softmax_exp(float s, float m) {
    return expf(s - m);
}

// The same in double, for row sums accumulated in double (the CPU reference's cross-entropy).
BCD_HD double softmax_exp_wide(float s, float m) {
    return exp(static_cast<double>(s - m));
}

// log-sum-exp of a row from its maximum and Σ exp(s − max), accumulated in float or double.
BCD_HD float logsumexp(float max, float sum) {
    return max + logf(sum);
}
BCD_HD float logsumexp(float max, double sum) {
    return max + static_cast<float>(log(sum));
}

// Cross-entropy of a row with a target: lse − logit[target].
BCD_HD float cross_entropy_loss(float lse, float target_logit) {
    return lse - target_logit;
}

// scale · ∂(loss)/∂logit_j = scale · (softmax_j − [j = target]).
BCD_HD float cross_entropy_dlogit(float logit, float lse, float scale, bool is_target) {
    const float d = scale * expf(logit - lse);
    return is_target ? d - scale : d;
}

// Softmax backward of attention with the score scale folded in: dS = scale · P · (dP − dot),
// where dot = Σ_j P_j dP_j = dctx · ctx of the row.
BCD_HD float attention_dscore(float p, float dp, float dot, float scale) {
    return scale * p * (dp - dot);
}

} // namespace bcd::kernels
