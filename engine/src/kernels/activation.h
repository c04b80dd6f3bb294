#pragma once
// SwiGLU (Llama's MLP): h = silu(gate) · up, silu(x) = x · sigmoid(x).

#include "kernels/hd.h"

namespace bcd::kernels {

BCD_HD float silu(float x) {
    return x / (1.0f + expf(-x));
}

BCD_HD float swiglu(float gate, float up) {
    return silu(gate) * up;
}

// Gradients of h = silu(g)·u for one element: ∂/∂g and ∂/∂u given dh.
BCD_HD void swiglu_back(float dh, float g, float u, float& dgate, float& dup) {
    const float sig = 1.0f / (1.0f + expf(-g));
    const float sl = g * sig;
    dup = dh * sl;
    dgate = dh * u * (sig + sl * (1.0f - sig));
}

} // namespace bcd::kernels
