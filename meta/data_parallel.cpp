// The data-parallel MetaEngine: each rank runs whole summation groups of the meta-batch, the
// ranks all-gather the groups' partial sums and per-task losses, and every rank adds the partial
// sums in group order in the engine's precision, exactly as the one-process CPU launch does.
#include <metasim/meta/data_parallel.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <metasim/kernels/core/error.hpp>

namespace metasim::meta {

namespace {

// Adds the [groups][rows] partial sums in group order in T, the way run_meta_batch_summed combines
// them (s = p_0, then s += p_g), and scales by 1 / num_tasks in double as MetaEngine::run does.
template <typename T>
void combine_groups(const std::vector<double>& partial, std::size_t rows, int num_tasks,
                    std::vector<double>& mean) {
  const std::size_t groups = rows == 0 ? 0 : partial.size() / rows;
  std::vector<T> s(rows);
  for (std::size_t r = 0; r < rows; ++r) s[r] = static_cast<T>(partial[r]);
  for (std::size_t g = 1; g < groups; ++g) {
    const double* p = partial.data() + g * rows;
    for (std::size_t r = 0; r < rows; ++r) s[r] += static_cast<T>(p[r]);
  }
  const double inv = 1.0 / static_cast<double>(num_tasks);
  mean.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) mean[r] = static_cast<double>(s[r]) * inv;
}

class DataParallelEngine final : public MetaEngine {
 public:
  DataParallelEngine(std::unique_ptr<MetaEngine> inner, Communicator& comm)
      : inner_(std::move(inner)), comm_(comm) {}

  int num_params() const override { return inner_->num_params(); }
  std::vector<int> layer_sizes() const override { return inner_->layer_sizes(); }
  bool compiled() const override { return inner_->compiled(); }
  Backend backend() const override { return inner_->backend(); }
  Precision precision() const override { return inner_->precision(); }

  std::string can_implement(const BatchShape& shape) const override {
    const std::string why = split_problem(shape.num_tasks);
    return why.empty() ? inner_->can_implement(local_shape(shape)) : "num_tasks: " + why;
  }
  double bytes_for(const BatchShape& shape) const override {
    return inner_->bytes_for(local_shape(shape));
  }
  std::size_t allocated_bytes() const override { return inner_->allocated_bytes(); }

  void run(const BatchRequest& req, BatchResult& out) override {
    const int n = req.shape.num_tasks;
    const std::string why = split_problem(n);
    if (!why.empty()) throw InvalidArgument("num_tasks", why);
    const Shard mine = task_shard(n, comm_.rank(), comm_.size());
    const bool grads = req.shape.mode != MetaMode::kEvaluate;
    BatchRequest local = req;
    local.shape.num_tasks = static_cast<int>(mine.count);
    local.first_task = req.first_task + static_cast<uint32_t>(mine.begin);
    local.sum_group = sum_group_size(n);
    local.keep_partial_sums = grads;
    inner_->run(local, part_);

    out.loss_before = comm_.all_gather(part_.loss_before);
    out.loss_after = comm_.all_gather(part_.loss_after);
    // Ranks hold ascending task ranges: the first flagged one in rank order is the lowest.
    const std::vector<int64_t> bad = comm_.all_gather(
        std::vector<int64_t>{part_.first_bad_task < 0 ? -1 : mine.begin + part_.first_bad_task});
    out.first_bad_task = -1;
    for (int64_t b : bad) {
      if (b >= 0) {
        out.first_bad_task = static_cast<int>(b);
        break;
      }
    }
    out.group_sums.clear();
    out.mean_grad.clear();
    if (!grads) return;
    const std::vector<double> partial = comm_.all_gather(part_.group_sums);
    const std::size_t rows = static_cast<std::size_t>(
        req.shape.rate == RateKind::kPerParameter ? 2 * num_params() : num_params());
    if (rows == 0 || partial.size() % rows != 0) {
      throw Error("data-parallel meta-batch: gathered " + std::to_string(partial.size()) +
                  " partial sums, not a multiple of " + std::to_string(rows) + " rows");
    }
    if (precision() == Precision::kFloat) {
      combine_groups<float>(partial, rows, n, out.mean_grad);
    } else {
      combine_groups<double>(partial, rows, n, out.mean_grad);
    }
  }

 private:
  // Why a batch of n tasks cannot be split over the ranks ("" when it can): every rank needs at
  // least one summation group.
  std::string split_problem(int n) const {
    const int group = sum_group_size(n > 0 ? n : 1);
    const int groups = (n + group - 1) / group;
    if (n >= 1 && groups >= comm_.size()) return "";
    return "a batch of " + std::to_string(n) + " tasks (" + std::to_string(groups) +
           " summation groups of " + std::to_string(group) + ") cannot give each of the " +
           std::to_string(comm_.size()) + " ranks a group: use at least " +
           std::to_string(comm_.size()) + " tasks, or fewer ranks";
  }

  BatchShape local_shape(const BatchShape& shape) const {
    BatchShape s = shape;
    if (split_problem(shape.num_tasks).empty()) {
      s.num_tasks = static_cast<int>(task_shard(shape.num_tasks, comm_.rank(), comm_.size()).count);
    }
    return s;
  }

  std::unique_ptr<MetaEngine> inner_;
  Communicator& comm_;
  BatchResult part_;
};

}  // namespace

Shard task_shard(int num_tasks, int rank, int size) {
  const int group = sum_group_size(num_tasks);
  const int groups = (num_tasks + group - 1) / group;
  const Shard g = shard_of(groups, rank, size);
  Shard t;
  t.begin = g.begin * group;
  const int64_t end = std::min<int64_t>((g.begin + g.count) * group, num_tasks);
  t.count = end - t.begin;
  return t;
}

std::unique_ptr<MetaEngine> make_data_parallel_engine(std::unique_ptr<MetaEngine> inner,
                                                      Communicator& comm) {
  if (comm.size() == 1) return inner;
  return std::make_unique<DataParallelEngine>(std::move(inner), comm);
}

}  // namespace metasim::meta
