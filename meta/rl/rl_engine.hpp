// The meta-RL stages behind one interface: picks the compiled (family, policy, precision) and the
// backend at run time, owns the buffers, and returns task-averaged results to the host outer loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/core/param_remap.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/rl/meta_rl_task.hpp>
#include <metasim/kernels/rl/task_families.hpp>

namespace metasim::rl {

struct RlModelSpec {
  std::string env = "nav2d";
  std::string distribution = "gaussian";
  std::vector<int> hidden{100, 100};
  std::string activation = "relu";
  // Run the generic (run-time-width) policy even where a compiled one matches; the results are
  // the same (policy.kernels = generic).
  bool force_generic = false;
};
// "nav2d gaussian 2-100-100-2 relu"
std::string describe(const RlModelSpec& m);
std::vector<RlModelSpec> compiled_rl_models();
// The env family's facts, for config checks.
struct RlEnvInfo {
  std::string name;
  bool discrete;
  int obs_dim, action_dim, num_actions, default_horizon;
  // The family's kParamRanges (kernels/core/param_remap.hpp): what a task stream may move.
  std::vector<TaskParamRange> param_ranges{};
  // Agents per episode: 1, or a team family's team size (one path per agent and episode, so path
  // counts are multiples of it).
  int agents = 1;
};

template <class Family>
std::vector<TaskParamRange> rl_param_ranges();

// The facts of a meta-RL family (kernels/rl/task_families.hpp).
template <class Family>
RlEnvInfo rl_env_info() {
  using E = typename Family::template Env<float>;
  return RlEnvInfo{Family::kName,
                   E::kDiscrete,
                   E::kObsDim,
                   E::kActionDim,
                   E::kNumActions,
                   Family::kDefaultHorizon,
                   rl_param_ranges<Family>(),
                   family_agents<Family>()};
}

// Family::kParamRanges as a list (empty when it declares none).
template <class Family>
std::vector<TaskParamRange> rl_param_ranges() {
  using P = typename Family::template Env<float>::Params;
  constexpr int n = declared_param_count<Family, P, float>();
  if constexpr (n > 0) {
    return std::vector<TaskParamRange>(Family::kParamRanges, Family::kParamRanges + n);
  } else {
    return {};
  }
}
std::vector<RlEnvInfo> rl_envs();
// The facts of the family named `name` (built in or registered); throws InvalidArgument("env")
// listing the known names when there is none.
RlEnvInfo find_rl_env(const std::string& name);
// A team episode fills one path slot per agent: throws InvalidArgument(field) unless `paths` is a
// multiple of the `agents` of team family `env`.
void check_whole_team_paths(const char* field, int64_t paths, int agents, const std::string& env);

// Largest path-slot multiple of a transition budget (RlShape::max_paths_ratio).
constexpr int kMaxPathsRatio = 64;

struct RlShape {
  int num_tasks = 20;
  int trajectories = 20;
  int horizon = 100;
  int inner_steps = 1;
  // 0: every task samples `trajectories` paths per data slot. N > 0: a budget of trajectories x
  // horizon steps per task, filled with whole paths (rllab's samplers), at most N x trajectories.
  int max_paths_ratio = 0;
  bool operator==(const RlShape&) const = default;
};

// Everything one meta-batch's sampling and adaptation depends on besides the parameters.
struct RlSampling {
  uint64_t seed = 0;        // keys of tasks, resets, actions, env noise
  uint32_t first_task = 0;  // global index of the batch's first task (Philox address)
  double gamma = 0.99, gae_lambda = 1.0, baseline_reg = 1e-5;
  std::vector<double> lr;  // one inner rate per step (the last repeats)
  ParamRemap remap{};      // a task stream's stage (count 0: the family's own distribution)
};

class RlEngine {
 public:
  virtual ~RlEngine() = default;
  virtual int num_params() const = 0;
  // Widths from the observation to the network's outputs.
  virtual std::vector<int> layer_sizes() const = 0;
  virtual bool discrete() const = 0;
  virtual Backend backend() const = 0;
  // Bytes configure(shape) allocates, on the host for the CPU backend and on the device for CUDA;
  // checked against the available memory before a run allocates (check_rl_memory).
  virtual double bytes_for(const RlShape& shape) const = 0;
  // Bytes of the buffers allocated now.
  virtual std::size_t allocated_bytes() const = 0;
  // Allocates buffers for batches of this shape (again only when it changes).
  virtual void configure(const RlShape& shape) = 0;
  virtual const RlShape& shape() const = 0;
  // Samples slot 0 with theta, then inner step j and slot j + 1 with phi_{j+1} for j < k.
  virtual void sample_and_adapt(const std::vector<double>& theta, const RlSampling& s) = 0;
  // Per task: mean undiscounted return of slot j's paths, the number of those paths and their
  // steps; env steps sampled in all slots.
  virtual std::vector<double> slot_returns(int slot) = 0;
  virtual std::vector<int> slot_paths(int slot) = 0;
  virtual std::vector<int> slot_steps(int slot) = 0;
  virtual int64_t env_steps() = 0;
  // Lowest task index whose status is set since sample_and_adapt (bits in *bits), or -1.
  virtual int first_bad_task(int32_t* bits) = 0;
  // Mean over tasks, summed in task order in double.
  virtual std::vector<double> meta_grad(MetaGradKind kind) = 0;
  virtual std::vector<double> kl_hvp(const std::vector<double>& v, MetaGradKind kind) = 0;
  // Mean over tasks of the post-update surrogate loss and KL at candidate parameters theta.
  virtual void line_search_eval(const std::vector<double>& theta, MetaGradKind kind, double* loss,
                                double* kl) = 0;
  // The per-task values behind the last meta_grad or kl_hvp mean, [num_tasks][num_params], and
  // behind the last line_search_eval, [num_tasks][loss, kl]: the backend's values widened to
  // double, for ranks that gather them and take the same means over the whole meta-batch.
  virtual std::vector<double> task_rows() = 0;
  virtual std::vector<double> task_values() = 0;
  // Task `task`'s adapted parameters phi_j (j >= 1) after sample_and_adapt.
  virtual std::vector<double> adapted_params(int j, int task) = 0;
};

// Throws InvalidArgument naming env, policy.distribution, policy.hidden / policy.activation
// (listing the compiled models) or precision when the combination is not available.
std::unique_ptr<RlEngine> make_rl_engine(const RlModelSpec& model, Backend backend,
                                         Precision precision);

}  // namespace metasim::rl
