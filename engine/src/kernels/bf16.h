#pragma once
// bfloat16 storage: the upper 16 bits of an IEEE float. Conversions round to nearest even (what
// PyTorch and CUDA's __float2bfloat16_rn do) or stochastically (unbiased: E[round(x)] = x, for
// weights updated by steps smaller than their bf16 spacing). NaN stays NaN (quiet), ±inf stays.

#include "kernels/hd.h"

#include <stdint.h>
#include <string.h>

namespace bcd::kernels {

BCD_HD uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(x);
#else
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
#endif
}

BCD_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
#endif
}

BCD_HD float bf16_to_float(uint16_t h) {
    return bits_float(static_cast<uint32_t>(h) << 16);
}

BCD_HD bool is_nan_bits(uint32_t u) {
    return (u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu);
}

// Round to nearest, ties to even.
BCD_HD uint16_t float_to_bf16(float x) {
    const uint32_t u = float_bits(x);
    if (is_nan_bits(u)) return static_cast<uint16_t>((u >> 16) | 0x0040u); // quiet NaN
    const uint32_t lsb = (u >> 16) & 1u;
    return static_cast<uint16_t>((u + 0x7fffu + lsb) >> 16);
}

// Stochastic rounding with 16 random bits r: rounds up with probability (dropped bits) / 2^16.
// ±inf and values that would round past the largest finite bf16 keep IEEE behaviour (inf).
BCD_HD uint16_t float_to_bf16_stochastic(float x, uint32_t r) {
    const uint32_t u = float_bits(x);
    if (is_nan_bits(u)) return static_cast<uint16_t>((u >> 16) | 0x0040u);
    if ((u & 0x7f800000u) == 0x7f800000u) return static_cast<uint16_t>(u >> 16); // ±inf
    return static_cast<uint16_t>((u + (r & 0xffffu)) >> 16);
}

// A counter-based hash (the finaliser of SplitMix64 on seed and index): the random bits of
// stochastic rounding, the same for an element on any device and in any thread order.
BCD_HD uint32_t hash_bits(uint64_t seed, uint64_t index) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull * (index + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<uint32_t>((z ^ (z >> 31)) >> 32);
}

} // namespace bcd::kernels
