// The fused meta-batch behind one interface: picks the family's compiled fast path or its generic
// path, the precision and the backend at run time, owns the device buffers, and returns
// task-averaged meta-gradients.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/meta/inner_loop.hpp>

namespace metasim::meta {

struct ModelSpec {
  std::string family = "sinusoid";
  std::vector<int> hidden{40, 40};
  std::string activation = "relu";
  // Run the generic path even where a compiled fast path exists (tests and benchmarks compare
  // the two).
  bool generic = false;
};
// "sinusoid 1-40-40-1 relu"
std::string describe(const ModelSpec& m, int input_dim = -1, int output_dim = -1);
// The model sizes compiled in as fast paths, for every registered family. Any other sizes run
// through the generic path (DynamicMlp).
std::vector<ModelSpec> compiled_models();
// The layer sizes of `m` (the family's input size, m.hidden, its output size); throws
// InvalidArgument naming task_family or model.hidden when they are not valid.
MlpShape model_shape(const ModelSpec& m);

struct BatchShape {
  MetaMode mode = MetaMode::kSecondOrder;
  RateKind rate = RateKind::kScalar;
  int num_tasks = 1;
  int support = 10;
  int query = 10;
  int inner_steps = 1;
  bool operator==(const BatchShape&) const = default;
};

struct BatchRequest {
  BatchShape shape;
  double inner_lr = 0.01;
  TaskDataKeys keys{};
  uint32_t first_task = 0;
  // theta, then (RateKind::kPerParameter) one inner rate per parameter.
  const std::vector<double>* meta_params = nullptr;
  // A data-parallel rank's share of a larger meta-batch: the CPU sums its tasks in groups of
  // sum_group (the whole meta-batch's sum_group_size; 0: this batch's own) and returns each
  // group's sum in BatchResult::group_sums instead of mean_grad, for the ranks to combine in
  // group order. CUDA returns its batch's sum as one group.
  int sum_group = 0;
  bool keep_partial_sums = false;
};

struct BatchResult {
  std::vector<double>
      mean_grad;  // mean over tasks of the per-task meta-gradients (not for kEvaluate)
  // With BatchRequest::keep_partial_sums: [groups][rows], each group's sum of meta-gradients
  // (the backend's precision, widened to double), and mean_grad is empty.
  std::vector<double> group_sums;
  std::vector<double> loss_before, loss_after;  // per task: query MSE before / after adaptation
  int first_bad_task = -1;  // lowest task index with a non-finite loss or gradient, or -1
};

class MetaEngine {
 public:
  virtual ~MetaEngine() = default;
  virtual int num_params() const = 0;
  virtual std::vector<int> layer_sizes() const = 0;
  // Whether a compiled fast path runs this model (otherwise the generic path).
  virtual bool compiled() const = 0;
  virtual Backend backend() const = 0;
  virtual Precision precision() const = 0;
  // "" when batches of this shape can run here; otherwise what does not fit (can_implement).
  virtual std::string can_implement(const BatchShape& shape) const = 0;
  // Bytes run() allocates for batches of this shape (the backend's buffers and the CPU's task
  // scratch), on the host for the CPU backend and on the device for CUDA; checked against the
  // available memory before a run or an evaluation allocates.
  virtual double bytes_for(const BatchShape& shape) const = 0;
  // Bytes of those buffers allocated now (they only grow).
  virtual std::size_t allocated_bytes() const = 0;
  // One fused launch and the reduction over its tasks. Throws Error on a backend failure.
  virtual void run(const BatchRequest& request, BatchResult& result) = 0;
};

// Throws InvalidArgument naming task_family, model.hidden, model.activation or backend when the
// combination is not available.
std::unique_ptr<MetaEngine> make_meta_engine(const ModelSpec& model, Backend backend,
                                             Precision precision);

}  // namespace metasim::meta
