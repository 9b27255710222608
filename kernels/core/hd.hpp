// Portability macros for code that runs on both backends.
// Per-task functions are marked METASIM_HD so nvcc compiles them for the device and g++ for the
// host.
#pragma once

#if defined(__CUDACC__)
#define METASIM_HD __host__ __device__
#define METASIM_DEVICE __device__
#define METASIM_INLINE __forceinline__
#else
#define METASIM_HD
#define METASIM_DEVICE
// An unoptimised build (the sanitizers' debug preset) leaves inlining to the compiler: forced
// inlining at -O0 gains nothing and makes the launchers take 3-4 times as long to compile.
#if defined(__OPTIMIZE__)
#define METASIM_INLINE inline __attribute__((always_inline))
#else
#define METASIM_INLINE inline
#endif
#endif

// Loop unrolling hint for whichever compiler sees the code: nvcc's device pass, or g++ for the
// CPU backend. nvcc's host pass gets none (its front end rejects GCC's pragma).
#if defined(__CUDA_ARCH__)
#define METASIM_UNROLL _Pragma("unroll")
#elif defined(__CUDACC__)
#define METASIM_UNROLL
#else
#define METASIM_UNROLL _Pragma("GCC unroll 16")
#endif

// Pointers that alias nothing else reachable in the same scope (EnvBatch's buffers): lets GCC
// vectorise loops that read and write several of them, and nvcc use the read-only cache.
#define METASIM_RESTRICT __restrict__

// True while compiling the device side of a .cu file.
#if defined(__CUDA_ARCH__)
#define METASIM_DEVICE_CODE 1
#else
#define METASIM_DEVICE_CODE 0
#endif

// Marks a CPU loop whose iterations are independent, so the compiler vectorises it without
// proving that its pointers do not alias.
#if defined(_OPENMP) && !defined(__CUDA_ARCH__)
#define METASIM_CPU_SIMD _Pragma("omp simd")
#else
#define METASIM_CPU_SIMD
#endif
