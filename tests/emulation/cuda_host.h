// Run CUDA kernels on the CPU, for tests on machines without a GPU.
//
// Force-included (g++ -include) before a gpukeras .cu file. Each CUDA thread of a block runs as a
// fiber on one OS thread: blocks run one after another, the threads of a block take turns, and
// __syncthreads / __syncwarp / __shfl_down_sync / __shfl_xor_sync are cooperative barriers (block-wide /
// warp-wide), so shared memory, block reductions and warp shuffles behave as on a GPU. Fibers are
// started once with makecontext and then switched with _setjmp/_longjmp (no signal-mask syscall per
// switch).
// Float arithmetic uses the host's libm and no FMA contraction (compile with -ffp-contract=off).
#pragma once

#include <csetjmp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <math.h>
#include <string>
#include <type_traits>
#include <utility>
#include <ucontext.h>

// Before the CUDA headers: they keep an existing definition of these.
#define __global__ __gk_kernel__
#define __shared__ static
#define __launch_bounds__(...)
#include <crt/host_defines.h>
#include <vector_types.h>
#include <vector_functions.h>

// NVRTC has no <math.h>: keep kernels from leaning on the host's math macros.
#undef INFINITY
#undef NAN
#undef HUGE_VAL
#undef HUGE_VALF

// ------------------------------------------------------------------------- thread coordinates
// Plain (non-static) globals: the scheduler rewrites them at every fiber switch, and the compiler
// must reload them after any call that may switch (it cannot prove an external call leaves them).
uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;

namespace gk_emu {

enum State { RUNNING, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };
constexpr int kMaxThreads = 1024;
constexpr size_t kStackBytes = 256 * 1024;

struct Fiber {
  jmp_buf resume;
  ucontext_t start;
  char* stack = nullptr;
  bool started = false;
  State state = DONE;
  int barrier_site = 0;  // source line of the __syncthreads this thread waits at
  int shuffle_round = 0;
};

Fiber g_fibers[kMaxThreads];
int g_current = 0;
int g_threads = 0;
jmp_buf g_scheduler;
void (*g_body)(void*) = nullptr;
void* g_context = nullptr;
float g_shuffle[kMaxThreads / 32][2][32];

inline void set_thread(int linear) {
  threadIdx.x = linear % blockDim.x;
  threadIdx.y = (linear / blockDim.x) % blockDim.y;
  threadIdx.z = linear / (blockDim.x * blockDim.y);
}

// Give the CPU back to the scheduler; returns when this fiber is resumed.
inline void yield(State state) {
  Fiber& f = g_fibers[g_current];
  f.state = state;
  if (!_setjmp(f.resume)) _longjmp(g_scheduler, 1);
}

void fiber_main() {
  for (;;) {  // one CUDA thread per turn of this loop, reused across blocks and launches
    g_body(g_context);
    yield(DONE);
  }
}

inline bool prepare_fibers(int n) {
  for (int i = 0; i < n; ++i) {
    Fiber& f = g_fibers[i];
    if (f.stack != nullptr) continue;
    f.stack = static_cast<char*>(std::malloc(kStackBytes));
    if (f.stack == nullptr) return false;
    f.started = false;
  }
  return true;
}

// After a failed launch some fibers are parked inside the old kernel: start them afresh.
inline void abandon_fibers() {
  for (int i = 0; i < kMaxThreads; ++i)
    if (g_fibers[i].state != DONE) {
      g_fibers[i].started = false;
      g_fibers[i].state = DONE;
    }
}

// Run fiber i until it reaches a barrier or finishes.
__attribute__((noinline)) void resume(int i) {
  g_current = i;
  set_thread(i);
  Fiber& f = g_fibers[i];
  f.state = RUNNING;
  if (!_setjmp(g_scheduler)) {
    if (!f.started) {
      f.started = true;
      getcontext(&f.start);
      f.start.uc_stack.ss_sp = f.stack;
      f.start.uc_stack.ss_size = kStackBytes;
      f.start.uc_link = nullptr;
      makecontext(&f.start, fiber_main, 0);
      setcontext(&f.start);
    }
    _longjmp(f.resume, 1);
  }
}

// Release whole warps waiting at a shuffle; then the block barrier once every live thread waits
// there (exited threads count as arrived, as on the hardware). 0: released; 3: every live thread
// waits and none can go on; 4: threads wait at different __syncthreads (undefined on a GPU).
inline int release_barriers() {
  bool released = false;
  for (int w = 0; w * 32 < g_threads; ++w) {
    const int end = (w + 1) * 32 < g_threads ? (w + 1) * 32 : g_threads;
    bool waiting = false;
    bool all = true;
    for (int i = w * 32; i < end; ++i) {
      if (g_fibers[i].state == AT_WARP_BARRIER) waiting = true;
      else if (g_fibers[i].state != DONE) all = false;
    }
    if (waiting && all) {
      for (int i = w * 32; i < end; ++i)
        if (g_fibers[i].state == AT_WARP_BARRIER) g_fibers[i].state = RUNNING;
      released = true;
    }
  }
  if (released) return 0;
  int site = 0;
  for (int i = 0; i < g_threads; ++i) {
    if (g_fibers[i].state == AT_BLOCK_BARRIER) {
      if (site != 0 && g_fibers[i].barrier_site != site) return 4;
      site = g_fibers[i].barrier_site;
    } else if (g_fibers[i].state != DONE) {
      return 3;
    }
  }
  if (site == 0) return 3;
  for (int i = 0; i < g_threads; ++i)
    if (g_fibers[i].state == AT_BLOCK_BARRIER) g_fibers[i].state = RUNNING;
  return 0;
}

// 0 on success; 1 bad launch shape; 2 out of memory; 3 deadlock; 4 divergent __syncthreads.
inline int run(dim3 grid, dim3 block, void (*body)(void*), void* context) {
  const long long n = (long long)block.x * block.y * block.z;
  if (n <= 0 || n > kMaxThreads || grid.x == 0 || grid.y == 0 || grid.z == 0) return 1;
  if (!prepare_fibers((int)n)) return 2;
  g_threads = (int)n;
  g_body = body;
  g_context = context;
  gridDim = grid;
  blockDim = block;
  for (unsigned bz = 0; bz < grid.z; ++bz) {
    for (unsigned by = 0; by < grid.y; ++by) {
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx = make_uint3(bx, by, bz);
        for (int i = 0; i < g_threads; ++i) {
          g_fibers[i].state = RUNNING;
          g_fibers[i].shuffle_round = 0;
        }
        for (;;) {
          bool ran = false;
          for (int i = 0; i < g_threads; ++i) {
            if (g_fibers[i].state == RUNNING) {
              resume(i);
              ran = true;
            }
          }
          if (ran) continue;
          bool done = true;
          for (int i = 0; i < g_threads; ++i) done = done && g_fibers[i].state == DONE;
          if (done) break;
          const int stuck = release_barriers();
          if (stuck) {
            abandon_fibers();
            return stuck;
          }
        }
      }
    }
  }
  return 0;
}

template <typename T>
constexpr char kind() {
  return std::is_pointer<T>::value ? 'p'
         : std::is_same<T, bool>::value ? 'b'
         : std::is_floating_point<T>::value ? 'f'
         : std::is_integral<T>::value ? (std::is_signed<T>::value ? 'i' : 'u')
                                      : '?';
}

// "p8 i8 f4": one (kind, size) per kernel parameter, for the launcher's argument check.
template <typename... P>
const char* signature(void (*)(P...)) {
  static const std::string text = [] {
    std::string s;
    ((s += std::string(1, kind<P>()) + std::to_string(sizeof(P)) + " "), ...);
    return s;
  }();
  return text.c_str();
}

template <typename... P, size_t... I>
void invoke(void (*fn)(P...), void** args, std::index_sequence<I...>) {
  fn(*static_cast<P*>(args[I])...);
}

// Launch `fn` over grid x block; args[i] points at parameter i's bytes, as cuLaunchKernel takes them.
template <typename... P>
int launch(void (*fn)(P...), unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
           void** args) {
  struct Call {
    void (*fn)(P...);
    void** args;
  } call{fn, args};
  auto body = [](void* c) {
    Call* k = static_cast<Call*>(c);
    invoke(k->fn, k->args, std::index_sequence_for<P...>{});
  };
  return run(dim3(gx, gy, gz), dim3(bx, by, bz), body, &call);
}

}  // namespace gk_emu

// ------------------------------------------------------------------------- device intrinsics
// A barrier is told apart by its source line (the compiler may duplicate or merge call sites).
inline void gk_emu_syncthreads(int line) {
  gk_emu::g_fibers[gk_emu::g_current].barrier_site = line;
  gk_emu::yield(gk_emu::AT_BLOCK_BARRIER);
}
#define __syncthreads() gk_emu_syncthreads(__LINE__)

inline float __shfl_down_sync(unsigned /*mask*/, float v, int offset) {
  using namespace gk_emu;
  const int linear = g_current;
  const int warp = linear / 32;
  const int lane = linear % 32;
  const int round = g_fibers[linear].shuffle_round;
  g_fibers[linear].shuffle_round ^= 1;
  g_shuffle[warp][round][lane] = v;
  yield(AT_WARP_BARRIER);
  const int source = lane + offset;
  const bool inside = source < 32 && warp * 32 + source < g_threads;
  return inside ? g_shuffle[warp][round][source] : v;
}

// Butterfly exchange: every lane gets lane ^ lane_mask's value (all lanes end with a reduction's result).
inline float __shfl_xor_sync(unsigned /*mask*/, float v, int lane_mask) {
  using namespace gk_emu;
  const int linear = g_current;
  const int warp = linear / 32;
  const int lane = linear % 32;
  const int round = g_fibers[linear].shuffle_round;
  g_fibers[linear].shuffle_round ^= 1;
  g_shuffle[warp][round][lane] = v;
  yield(AT_WARP_BARRIER);
  const int source = lane ^ lane_mask;
  const bool inside = source < 32 && warp * 32 + source < g_threads;
  return inside ? g_shuffle[warp][round][source] : v;
}

// A warp-wide barrier (shared memory written by one lane is then seen by the others).
inline void __syncwarp(unsigned /*mask*/ = 0xffffffffu) { gk_emu::yield(gk_emu::AT_WARP_BARRIER); }

inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, sizeof f);
  return f;
}
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return (unsigned int)(((unsigned long long)a * b) >> 32);
}
