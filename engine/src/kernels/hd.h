#pragma once
// One source of truth for the element-wise math of the hand-written kernels (DESIGN.md §2): the
// functions in this folder are inline host-and-device functions, called by the CPU reference loops
// (backend/cpu) and by the CUDA kernels (backend/cuda) alike, so that the CPU oracle tests check
// the arithmetic the GPU runs. They use only <cmath>'s float functions under their C names
// (expf, sqrtf, logf), which nvcc provides on the device and glibc (vectorised through libmvec
// where ops.cpp asks for it) on the host.

#if defined(__CUDACC__)
#define BCD_HD __host__ __device__ __forceinline__
#else
#define BCD_HD inline
#endif

#include <math.h>
