// Runs the fused CPU path on host vectors and extracts a task's data: the glue tests and benchmarks
// use to compare the fused code with meta_reference.hpp for any (family, model) without the engine.
#pragma once

#include <omp.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include <metasim/kernels/core/group.hpp>
#include <metasim/kernels/meta/cpu_batch.hpp>
#include <metasim/kernels/meta/inner_loop.hpp>
#include <metasim/kernels/meta/task_family.hpp>
#include <metasim/meta/reference/meta_reference.hpp>

namespace metasim::meta::reference {

template <typename T>
struct FusedRun {
  std::vector<T> task_grads;  // [rows][num_tasks]
  std::vector<T> loss_before, loss_after;
  std::vector<int32_t> status;
  int rows = 0;
  T grad(int row, int task) const {
    return task_grads[static_cast<std::size_t>(row) * loss_before.size() +
                      static_cast<std::size_t>(task)];
  }
};

// `a` names the shape and inputs (theta/alpha are host pointers); the outputs are allocated here.
// One thread by default: results do not depend on it, and finite-difference loops make thousands
// of tiny launches for which threads only add fork/join cost.
template <class Family, class Net, typename T>
FusedRun<T> run_fused_cpu(MetaBatchArgs<T> a, int threads = 1) {
  if (threads <= 0) threads = omp_get_max_threads();
  FusedRun<T> r;
  r.rows = meta_grad_rows(a, Net::kNumParams);
  const std::size_t nt = static_cast<std::size_t>(a.num_tasks);
  r.task_grads.assign(static_cast<std::size_t>(r.rows) * nt, T(0));
  r.loss_before.assign(nt, T(0));
  r.loss_after.assign(nt, T(0));
  r.status.assign(nt, -1);
  std::vector<T> traj(trajectory_elements(a, Net::kNumParams) + 1);
  a.task_grads = a.mode == MetaMode::kEvaluate ? nullptr : r.task_grads.data();
  a.loss_before = r.loss_before.data();
  a.loss_after = r.loss_after.data();
  a.task_status = r.status.data();
  a.trajectory = traj.data();
  const std::string why = cpu_impl::can_implement<Family, Net, T>(a);
  if (!why.empty()) throw std::invalid_argument(why);
  const std::size_t bytes = cpu_impl::scratch_bytes<Family, Net, T>(a, threads);
  std::vector<double> scratch(bytes / sizeof(double) + 1);
  cpu_impl::run_meta_batch<Family, Net, T>(a, reinterpret_cast<unsigned char*>(scratch.data()),
                                           bytes, threads);
  return r;
}

// Task `task`'s support and query points exactly as the fused code draws them, sample-major.
template <class Family, typename T>
TaskData task_data(const TaskDataKeys& keys, uint32_t task, int k, int q) {
  std::vector<T> xs(static_cast<std::size_t>(Family::kInputDim * k)),
      ys(static_cast<std::size_t>(Family::kOutputDim * k)),
      xq(static_cast<std::size_t>(Family::kInputDim * q)),
      yq(static_cast<std::size_t>(Family::kOutputDim * q));
  generate_task_data<Family, T>(SerialGroup{}, keys, task, k, q, xs.data(), ys.data(), xq.data(),
                                yq.data());
  TaskData d;
  auto to_sample_major = [](const std::vector<T>& fm, int dim, int count,
                            std::vector<double>& out) {
    out.resize(static_cast<std::size_t>(dim * count));
    for (int s = 0; s < count; ++s) {
      for (int f = 0; f < dim; ++f) {
        out[static_cast<std::size_t>(s * dim + f)] =
            static_cast<double>(fm[static_cast<std::size_t>(f * count + s)]);
      }
    }
  };
  to_sample_major(xs, Family::kInputDim, k, d.xs);
  to_sample_major(ys, Family::kOutputDim, k, d.ys);
  to_sample_major(xq, Family::kInputDim, q, d.xq);
  to_sample_major(yq, Family::kOutputDim, q, d.yq);
  return d;
}

}  // namespace metasim::meta::reference
