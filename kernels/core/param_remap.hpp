// Task parameters by name and range, and the affine maps a task stream applies to them: shared by
// the supervised task families (kernels/meta/task_family.hpp) and the meta-RL ones
// (kernels/rl/task_families.hpp).
#pragma once

#include <cstring>
#include <type_traits>

#include <metasim/kernels/core/hd.hpp>

namespace metasim {

struct TaskParamRange {
  const char* name;
  double min, max;
};

// An affine map per task parameter, p -> scale * p + shift, applied after sample_params: a task
// stream's stage moves a parameter's range with it. count == 0 (the default) leaves the family's
// own distribution.
struct ParamRemap {
  static constexpr int kMaxParams = 8;
  int count = 0;
  double scale[kMaxParams] = {};
  double shift[kMaxParams] = {};
};

// P is a task's parameter struct whose fields are all of type T.
template <typename T, class P>
METASIM_HD METASIM_INLINE void apply_param_remap(const ParamRemap& m, P& p) {
  if constexpr (std::is_trivially_copyable_v<P> && sizeof(P) % sizeof(T) == 0) {
    constexpr int kFields = static_cast<int>(sizeof(P) / sizeof(T));
    T v[kFields];
    std::memcpy(v, &p, sizeof(P));
    for (int i = 0; i < m.count && i < kFields; ++i) {
      v[i] = static_cast<T>(m.scale[i]) * v[i] + static_cast<T>(m.shift[i]);
    }
    std::memcpy(&p, v, sizeof(P));
  }
}

// A family's kParamRanges as (pointer, count), {nullptr, 0} when it declares none; with them,
// Params (a struct of `Real`s) must hold exactly one field per range, in the same order.
template <class Family, class Params, typename Real>
constexpr int declared_param_count() {
  if constexpr (requires { Family::kParamRanges[0]; }) {
    constexpr int n = static_cast<int>(sizeof(Family::kParamRanges) / sizeof(TaskParamRange));
    static_assert(n <= ParamRemap::kMaxParams, "metasim task family: at most 8 kParamRanges");
    static_assert(sizeof(Params) == static_cast<std::size_t>(n) * sizeof(Real),
                  "metasim task family: with kParamRanges, the task's Params holds exactly one "
                  "value per range, in the same order");
    return n;
  } else {
    return 0;
  }
}

}  // namespace metasim
