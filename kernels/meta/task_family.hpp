// The supervised task-family interface and the per-task data generator the fused kernels call.
// A family is a struct shaped like SinusoidFamily, in metasim or in the user's own code;
// registering it (meta/register_task_family.hpp) makes it usable by name, with check_task_family's
// compile-time messages for a missing member.
#pragma once

#include <cstdint>

#include <metasim/kernels/core/hd.hpp>
#include <metasim/kernels/core/param_remap.hpp>
#include <metasim/kernels/core/philox.hpp>

namespace metasim::meta {

// A task family is a struct with
//   static constexpr const char* kName;           the name configs use ("sinusoid")
//   static constexpr int kInputDim, kOutputDim;   the model's input and output sizes
//   template <typename T> struct Params;          per-task constants (plain data)
//   template <typename T> static METASIM_HD Params<T> sample_params(RandomStream& rng);
//   template <typename T> static METASIM_HD void sample(const Params<T>&, RandomStream& rng,
//                                                       T* x, T* y);   one (x, y) point
// Optionally, for task streams whose parameter ranges move over a run (stream.stages):
//   static constexpr TaskParamRange kParamRanges[];  each field of Params<T>, in declaration
//                                                    order, with the range it is drawn from
// Params<T> must then hold exactly these fields, all of type T, each drawn uniformly from its
// range: a stream stage maps a range onto another by the affine map that takes one onto the other.
// Both functions draw only from the stream they are given: the generator below hands each task
// and each point its own Philox address, so a point never depends on batch size, thread count or
// backend, and any worker can produce any point without coordination.

// Random-stream addresses of a task's data. Task parameters come from (task, instance 0, step);
// support point p from (task, p, step) and query point q from (task, support + q, step), on
// separate keys, so support and query points are independent draws.
struct TaskDataKeys {
  PhiloxKey task_key;  // RngPurpose::kTaskSample
  PhiloxKey data_key;  // RngPurpose::kData
  uint32_t step;       // the meta-iteration (training) or a fixed evaluation step
  ParamRemap remap{};  // a task stream's stage (count 0: none)
};

// Writes a task's K support and Q query points feature-major: xs[f * K + p], ys[j * K + p],
// xq[f * Q + q], yq[j * Q + q]. Every worker samples the task parameters itself (a few Philox
// rounds) rather than waiting at a barrier for one worker to share them.
template <class Family, typename T, class Group>
METASIM_HD void generate_task_data(const Group& g, const TaskDataKeys& keys, uint32_t task, int k,
                                   int q, T* xs, T* ys, T* xq, T* yq) {
  RandomStream param_rng(keys.task_key, task, 0u, keys.step);
  typename Family::template Params<T> params = Family::template sample_params<T>(param_rng);
  if (keys.remap.count > 0) apply_param_remap<T>(keys.remap, params);
  g.for_each(k + q, [&](int p) {
    RandomStream rng(keys.data_key, task, static_cast<uint32_t>(p), keys.step);
    T x[Family::kInputDim];
    T y[Family::kOutputDim];
    Family::template sample<T>(params, rng, x, y);
    const bool support = p < k;
    const int col = support ? p : p - k;
    const int n = support ? k : q;
    T* dx = support ? xs : xq;
    T* dy = support ? ys : yq;
    for (int f = 0; f < Family::kInputDim; ++f) dx[f * n + col] = x[f];
    for (int j = 0; j < Family::kOutputDim; ++j) dy[j * n + col] = y[j];
  });
}

}  // namespace metasim::meta
