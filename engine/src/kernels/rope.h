#pragma once
// Rotary position embedding in HF's rotate_half convention: the pair (x_i, x_{i+D/2}) of each
// head turns by the angle of position t and frequency i.

#include "kernels/hd.h"

namespace bcd::kernels {

// Forward rotation of one pair in place (c = cos, s = sin of the angle).
BCD_HD void rope_rotate(float& a, float& b, float c, float s) {
    const float x = a, y = b;
    a = x * c - y * s;
    b = y * c + x * s;
}

// The transpose (inverse rotation), applied to the gradient of one pair.
BCD_HD void rope_rotate_back(float& ga, float& gb, float c, float s) {
    const float x = ga, y = gb;
    ga = x * c + y * s;
    gb = y * c - x * s;
}

} // namespace bcd::kernels
