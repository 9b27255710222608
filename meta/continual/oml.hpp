// Continual learning on a stream of regression functions: OML (online-aware meta-learning, Javed
// & White 2019) and the joint-pretraining baseline, trained under the run loop, and the
// incremental evaluation of their paper (10 functions learned one after the other in one pass of
// online SGD on the prediction head, the error over all functions seen so far after each).
//
// The task family is the incremental sinusoid: y = A sin(x + phi) with A = 5 (U + 0.02),
// phi ~ U[0, pi], x ~ U[-5, 5]; the network's input is a one-hot slot naming the function among
// `slots`, then x. Training functions come from a fixed pool (400), evaluation functions from a
// separate pool (1000), both drawn from the run's seed.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/continual/feature_net.hpp>

namespace metasim::continual {

struct OmlConfig {
  std::string description;
  std::string reference_name;
  double reference_value = 0;
  // "oml": meta-train the representation and the head's start through the online inner loop;
  // "pretrain": train the whole network on the joint distribution (i.i.d. minibatches), the
  // paper's pretraining baseline.
  std::string algorithm = "oml";
  std::string task_family = "incremental-sinusoid";
  std::vector<int> hidden{400, 400, 400, 400, 400};  // the representation's ReLU layers
  int slots = 50;                                    // one-hot input slots (input = slots + 1)
  int train_functions = 400;                         // the meta-training pool
  int meta_batch = 10;        // functions per step, learned one after the other in the inner loop
  int inner_minibatches = 5;  // inner SGD steps per function
  int inner_batch = 10;       // points per inner step
  double inner_lr = 0.003;
  double inner_clip = 10;  // element-wise clip of the inner gradient; 0: none
  int meta_points = 10;    // fresh points per function for the meta-loss
  int64_t iterations = 20000;
  double outer_lr = 1e-4;  // Adam
  uint64_t seed = 0;
  std::string precision = "float";
  std::string backend = "auto";  // OML runs on the CPU: "auto" and "cpu" both mean it
  int64_t log_every = 100;
  int64_t checkpoint_every = 1000;
  // Every eval_every steps (and after the last; 0: never) the incremental evaluation runs with
  // eval_runs runs of the online learner, and its average error, backward and forward transfer
  // join that step's metrics line.
  int64_t eval_every = 1000;
  int eval_runs = 5;
};

// Defaults, then `file`, then "key=value" overrides; every error names the dotted key.
OmlConfig resolve_oml_config(const nlohmann::json& file, const std::vector<std::string>& sets);
nlohmann::json to_json(const OmlConfig& c);
std::string oml_config_reference();
NetShape oml_shape(const OmlConfig& c);

// A sine function of the family.
struct SineFunction {
  double amplitude = 0, phase = 0;
  double operator()(double x) const;
};
// Function `index` of a pool (0: training, 1: evaluation) of the given seed.
SineFunction pool_function(uint64_t seed, uint32_t pool, uint32_t index);

// Points in input order: x holds slots + 1 values per point (the one-hot slot, then x).
struct Points {
  int count = 0;
  std::vector<double> x, y;
  void add(int slots, int slot, double xv, double yv);
};

// One meta-training step's data: the inner trajectory (functions one after the other, each
// inner_minibatches minibatches of inner_batch points) and the meta-loss points (meta_points of
// every function of the step). `functions` are the pool indices, in stream order.
struct OmlBatch {
  Points inner, meta;
  std::vector<int> functions;
};
OmlBatch oml_batch(const OmlConfig& c, int64_t step);

struct OmlLosses {
  double before = 0;  // meta-loss at the head's start (no inner step)
  double after = 0;   // meta-loss after the inner trajectory
};

// The meta-loss after the online inner loop on batch.inner (SGD on the head, minibatches of
// `inner_batch`, clipped element-wise), and its exact gradient (second order, through every
// inner step) with respect to all parameters, written to *grad when not null. Features are
// computed in T; the head's arithmetic is in double.
template <typename T>
OmlLosses oml_meta_gradient(const OmlConfig& c, const std::vector<double>& params,
                            const OmlBatch& batch, std::vector<double>* grad);

// The joint (i.i.d.) MSE of the whole network on `points`, and its gradient.
template <typename T>
double joint_loss_gradient(const NetShape& shape, const std::vector<double>& params,
                           const Points& points, std::vector<double>* grad);

// Kaiming-normal weights and zero biases (the reference code's initialisation).
std::vector<double> initial_params(const NetShape& shape, uint64_t seed);

// The incremental evaluation.
struct IncrementalEval {
  std::string learner = "online";  // online | iid | scratch
  int runs = 50;
  int functions = 10;    // learned one after the other; slot j for the j-th
  int minibatches = 40;  // SGD steps per function
  int batch = 32;        // points per step
  int heldout = 320;     // held-out points per function for the errors
  int epochs = 10;       // iid: passes over the data seen so far, in random order
  double lr = 0.003;
  uint64_t seed = 0;
};

// One evaluation run's data: per function (in stream order, slot j for the j-th), its training
// stream (minibatches x batch points) and its held-out points, from functions of the evaluation
// pool drawn without replacement.
struct StreamData {
  std::vector<Points> train, heldout;
};
StreamData incremental_data(int slots, const IncrementalEval& e, int run);

// For each run: fresh functions from the evaluation pool, a copy of the network, and the learner:
//   online   the representation frozen, the head updated by SGD in stream order (one pass);
//   iid      the oracle: after each function, the head restarted from the network's and trained
//            for `epochs` passes over all data so far in random order;
//   scratch  a freshly initialised network of the same shape, every layer trained online.
// R[i][j] is the held-out MSE on function j after learning functions 0..i, and b[j] the MSE of the
// network before learning anything. Reported, as mean and standard error over runs:
//   mse_after_functions[i] = mean over j <= i of R[i][j]  (the OML paper's curve);
//   average_error = mse_after_functions[T-1];
//   backward_transfer = mean over j < T-1 of R[T-1][j] - R[j][j]  (> 0: forgetting);
//   forward_transfer  = mean over j > 0 of R[j-1][j] - b[j]       (< 0: earlier functions help);
// the definitions of Lopez-Paz & Ranzato (2017) with errors in place of accuracies; also
// "error_matrix" (R, mean over runs) and "error_before" (b).
nlohmann::json evaluate_incremental(const OmlConfig& c, const std::vector<double>& params,
                                    const IncrementalEval& e);

// The registry entries of "oml" and "pretrain".
std::vector<AlgorithmEntry> continual_algorithms();

}  // namespace metasim::continual
