// The recurrent policy of RL² (Duan et al. 2016): a GRU whose hidden state carries across the
// whole trial of one task, under an action head and a value head. The action head is categorical
// over A actions (its A outputs are logits) or a diagonal Gaussian over A action dimensions (the
// means are tanh of its outputs, inside the [-1, 1] action box; the log standard deviations are
// parameters of their own, as in the MAML experiments' policies). Its input at step t is the
// previous action (one-hot, or its values), the previous reward, the episode-start flag and the
// current observation (one-hot state for tabular tasks, the position on 2D navigation, none for
// bandits).
//
// Parameters, one flat vector: [GRU (kernels/rl/gru.hpp) | W_pi [A x H] | b_pi [A] | w_v [H] |
// b_v | log_std [A] (Gaussian only)]. A trial's clipped-surrogate PPO loss and its exact gradient
// by backpropagation through time over the trial are computed on the CPU, in double or in float,
// fixed chunks of tasks per OpenMP iteration and the chunks' gradients summed in order, so that
// results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/rl/gru.hpp>

namespace metasim::rl2 {

struct PolicyShape {
  int actions = 0;       // A: categorical actions, or Gaussian action dimensions
  int observations = 0;  // observation size (0: none)
  int hidden = 0;        // H
  bool gaussian = false;

  int input() const { return actions + 2 + observations; }
  rl::GruShape gru() const { return {input(), hidden}; }
  int pi_w() const { return gru().num_params(); }
  int pi_b() const { return pi_w() + actions * hidden; }
  int v_w() const { return pi_b() + actions; }
  int v_b() const { return v_w() + hidden; }
  int log_std() const { return v_b() + 1; }
  int num_params() const { return log_std() + (gaussian ? actions : 0); }
};

// One task's trial: per step the policy's input, the action taken, its log-probability and the
// value under the policy that acted, and the reward.
struct Trial {
  int steps = 0;
  std::vector<double> inputs;         // steps x input()
  std::vector<int> actions;           // categorical
  std::vector<double> action_values;  // Gaussian: steps x A, as drawn (before any clipping)
  std::vector<double> rewards, log_probs, values;
  // Filled by the advantage estimator.
  std::vector<double> advantages, returns;
};

// The network's outputs along a trial, in double: the head's outputs (steps x A; logits, or the
// Gaussian's means) and values, from h0 = 0.
void trial_outputs(const PolicyShape& s, const std::vector<double>& params, const Trial& trial,
                   std::vector<double>& logits, std::vector<double>& values);

// The network at fixed parameters (rounded once to `precision`), acting step by step.
class RecurrentNet {
 public:
  struct Impl;
  RecurrentNet(const PolicyShape& s, const std::vector<double>& params, Precision precision);
  ~RecurrentNet();
  const PolicyShape& shape() const { return shape_; }
  // One step on input row x (input() values): advances the hidden state h (H values, zeros at
  // the start of a trial), writes the A logits (or Gaussian means) and the value.
  void step(const double* x, std::vector<double>& h, double* logits, double* value) const;
  // The Gaussian head's log standard deviations (A values; empty for a categorical head).
  const std::vector<double>& log_std() const { return log_std_; }

 private:
  PolicyShape shape_;
  std::vector<double> log_std_;
  std::unique_ptr<Impl> impl_;
};

// GAE(gamma, lambda) over a trial treated as one episode (the hidden state, and so the bootstrap,
// carries across the task's episodes); the value after the last step is 0.
void estimate_advantages(Trial& trial, double gamma, double lambda);

struct PpoSettings {
  double clip = 0.2;
  double value_coef = 0.5;
  double entropy_coef = 0.0;
};

struct PpoLoss {
  double total = 0, policy = 0, value = 0, entropy = 0;
};

// The mean over every step of every trial (trials[k] for k in `batch`, or all of them) of the
// clipped-surrogate loss, plus value_coef times
// the squared value error and minus entropy_coef times the entropy, with the advantages
// normalised over the batch (mean 0, standard deviation 1); its gradient (when grad is not null)
// by backpropagation through time. The network runs in `precision` (the parameters are rounded to
// it; the loss terms and the returned gradient are double). Trials are taken in fixed chunks of 8,
// each summed in trial order, then the chunks in order.
PpoLoss ppo_loss(const PolicyShape& s, const std::vector<double>& params,
                 const std::vector<Trial>& trials, const std::vector<int>& batch,
                 const PpoSettings& settings, std::vector<double>* grad,
                 Precision precision = Precision::kDouble);
PpoLoss ppo_loss(const PolicyShape& s, const std::vector<double>& params,
                 const std::vector<Trial>& trials, const PpoSettings& settings,
                 std::vector<double>* grad, Precision precision = Precision::kDouble);

}  // namespace metasim::rl2
