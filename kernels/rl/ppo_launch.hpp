// PPO's batched launches, one implementation per backend over the HD code of kernels/rl/ppo.hpp:
// acting for a batch of env instances, values, and the minibatch gradient of the PPO loss.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/rl/policy.hpp>
#include <metasim/kernels/rl/ppo.hpp>
#include <metasim/kernels/rl/ppo_generic.hpp>

namespace metasim::rl {

// The PPO models: 64-64 tanh policy and value nets, as stable-baselines3's MlpPolicy for PPO. The
// built-in envs' are instantiated once per backend in kernels/{cpu,cuda}/ppo_launch_*; a user's env
// gets its own through register_ppo<Env>() (kernels/rl/register_ppo.hpp).
template <int kObs, int kActions>
using PpoDiscrete64 =
    Ppo<CategoricalMlpPolicy<Mlp<Tanh, kObs, 64, 64, kActions>>, Mlp<Tanh, kObs, 64, 64, 1>>;
template <int kObs, int kActionDim>
using PpoGaussian64 =
    Ppo<GaussianMlpPolicy<Mlp<Tanh, kObs, 64, 64, kActionDim>>, Mlp<Tanh, kObs, 64, 64, 1>>;

using PpoCartPole = PpoDiscrete64<4, 2>;
using PpoAcrobot = PpoDiscrete64<6, 3>;
using PpoMountainCar = PpoDiscrete64<2, 3>;
using PpoPendulum = PpoGaussian64<3, 1>;
using PpoMountainCarContinuous = PpoGaussian64<2, 1>;

// X(env name, model type) for every built-in env.
#define METASIM_FOR_EACH_PPO_MODEL(X)                \
  X("CartPole-v1", ::metasim::rl::PpoCartPole)       \
  X("Acrobot-v1", ::metasim::rl::PpoAcrobot)         \
  X("MountainCar-v0", ::metasim::rl::PpoMountainCar) \
  X("Pendulum-v1", ::metasim::rl::PpoPendulum)       \
  X("MountainCarContinuous-v0", ::metasim::rl::PpoMountainCarContinuous)

// Multi-agent models with parameter sharing over an env's kAgents agents (IPPO and MAPPO). An
// agent's policy input is its observation followed by kAgents slots for its one-hot id (all zero
// when the config turns agent ids off). IPPO's value net reads the same input; MAPPO's reads the
// team's observations in agent order followed by the same id slots (kSeparateValueInput).
template <int kObs, int kAgents, bool kDiscrete, int kOut>
struct MultiAgentPpoModels {
  static constexpr int kActorInput = kObs + kAgents;
  static constexpr int kCriticInput = kAgents * kObs + kAgents;
  using PolicyNet = Mlp<Tanh, kActorInput, 64, 64, kOut>;
  using Policy =
      std::conditional_t<kDiscrete, CategoricalMlpPolicy<PolicyNet>, GaussianMlpPolicy<PolicyNet>>;
  using Ippo = Ppo<Policy, Mlp<Tanh, kActorInput, 64, 64, 1>>;
  using Mappo = Ppo<Policy, Mlp<Tanh, kCriticInput, 64, 64, 1>, true>;
};
using SpreadPpoModels = MultiAgentPpoModels<18, 3, true, 5>;
using SpreadContinuousPpoModels = MultiAgentPpoModels<18, 3, false, 5>;
using SpreadN5PpoModels = MultiAgentPpoModels<30, 5, true, 5>;

// X(model key, model type): the registry key of a multi-agent model is "<env>:ippo" or
// "<env>:mappo" (multi_agent_ppo_key).
#define METASIM_FOR_EACH_IPPO_MODEL(X)                                                  \
  X("simple_spread_v3:ippo", ::metasim::rl::SpreadPpoModels::Ippo)                      \
  X("simple_spread_v3-continuous:ippo", ::metasim::rl::SpreadContinuousPpoModels::Ippo) \
  X("simple_spread_v3-N5:ippo", ::metasim::rl::SpreadN5PpoModels::Ippo)
#define METASIM_FOR_EACH_MAPPO_MODEL(X)                                                   \
  X("simple_spread_v3:mappo", ::metasim::rl::SpreadPpoModels::Mappo)                      \
  X("simple_spread_v3-continuous:mappo", ::metasim::rl::SpreadContinuousPpoModels::Mappo) \
  X("simple_spread_v3-N5:mappo", ::metasim::rl::SpreadN5PpoModels::Mappo)

// Sizes of a compiled model, for the host side.
struct PpoShape {
  int obs_dim = 0;             // a sample's input row
  int policy_input_dim = 0;    // the policy net's input: the row's start
  int value_input_offset = 0;  // where the value net's input starts in the row
  bool discrete = true;
  int num_actions = 0;  // discrete: number of actions; continuous: 0
  int action_dim = 1;   // scalars per stored action (1 for discrete: the index)
  int policy_params = 0;
  int value_params = 0;
  int log_std_offset = -1;        // continuous: where log_std starts in the parameter vector
  std::vector<int> policy_sizes;  // layer widths, input to output
  std::vector<int> value_sizes;
  bool compiled = true;  // a compiled model (the fast path), or the generic run-time-width one
  int num_params() const { return policy_params + value_params; }
};

template <class Model>
PpoShape ppo_shape() {
  using PiNet = typename Model::PolicyNet;
  using VNet = typename Model::Value;
  PpoShape s;
  s.obs_dim = Model::kObsDim;
  s.policy_input_dim = Model::kPolicyInputDim;
  s.value_input_offset = Model::kValueInputOffset;
  s.discrete = Model::kDiscrete;
  s.num_actions = Model::kDiscrete ? Model::kNetOutputs : 0;
  s.action_dim = Model::kActionDim;
  s.policy_params = Model::kPolicyParams;
  s.value_params = Model::kValueParams;
  s.log_std_offset = Model::kDiscrete ? -1 : PiNet::kNumParams;
  for (int l = 0; l <= PiNet::kNumLayers; ++l) s.policy_sizes.push_back(PiNet::width(l));
  for (int l = 0; l <= VNet::kNumLayers; ++l) s.value_sizes.push_back(VNet::width(l));
  return s;
}

// The generic model's sizes.
template <class G>
PpoShape generic_ppo_shape(const G& g) {
  PpoShape s;
  s.obs_dim = G::kObsDim;
  s.policy_input_dim = G::kObsDim;
  s.discrete = G::kDiscrete;
  s.num_actions = G::kDiscrete ? G::kNetOutputs : 0;
  s.action_dim = G::kActionDim;
  s.policy_params = g.policy_params;
  s.value_params = g.value_params;
  s.log_std_offset = G::kDiscrete ? -1 : g.pi.num_params();
  for (int l = 0; l <= g.pi.num_layers(); ++l) s.policy_sizes.push_back(g.pi.width(l));
  for (int l = 0; l <= g.v.num_layers(); ++l) s.value_sizes.push_back(g.v.width(l));
  s.compiled = false;
  return s;
}

// The networks a PPO config asks for: the hidden widths of the policy and of the value net, and
// their activation ("tanh" or "relu"). 64-64 tanh runs the compiled model unless force_generic.
struct PpoNetSpec {
  std::vector<int> hidden{64, 64};
  std::string activation = "tanh";
  bool force_generic = false;
  bool compiled() const {
    return !force_generic && activation == "tanh" && hidden == std::vector<int>{64, 64};
  }
};

// A minibatch gathered by the trainer, host memory, sample-major.
struct PpoMinibatch {
  int n = 0;
  const float* obs = nullptr;           // [n][obs_dim]
  const float* action = nullptr;        // [n][action_dim]
  const float* old_log_prob = nullptr;  // [n]
  const float* advantage = nullptr;     // [n], already normalised if the config asks for it
  const float* ret = nullptr;           // [n], value targets
};

// Every call takes and returns host memory; a device backend copies in and out itself, so the
// trainer is the same for both. Results are bit-identical for any OpenMP thread count: acting is
// per instance, and the minibatch gradient is summed in a fixed order.
class PpoKernels {
 public:
  virtual ~PpoKernels() = default;
  virtual const PpoShape& shape() const = 0;
  virtual const char* backend_name() const = 0;
  // The parameters [policy | value] used by the calls that follow.
  virtual void set_params(const float* params) = 0;
  // For instances i in [0, n): obs [n][obs_dim] -> action [n][action_dim] (a discrete action as
  // its index), log_prob [n] and value [n] (either may be null). Instance i draws from the stream
  // (key, task 0, first instance + i, step).
  virtual void act(int n, const float* obs, PhiloxKey key, uint32_t step, bool deterministic,
                   float* action, float* log_prob, float* value) = 0;
  virtual void values(int n, const float* obs, float* value) = 0;
  // grad[num_params] = the gradient of the minibatch loss (written, not added); terms[n] gets
  // each sample's unweighted loss terms.
  virtual void loss_grad(const PpoMinibatch& mb, const PpoCoefs<float>& coefs, float* grad,
                         PpoSampleTerms<float>* terms) = 0;
  // Samples loss_grad sums into one partial gradient, in sample order; the partial sums are then
  // added in chunk order from zero, so the gradient depends on neither thread nor rank counts.
  static constexpr int kGradChunk = 16;
  // A rank's share of loss_grad: chunks [c0, c1) of the minibatch. Writes terms[s] for their
  // samples (s indexes the whole minibatch) and returns the rows written to `rows`, each
  // num_params long. The CPU writes one row per chunk, its partial sum, so that adding every
  // chunk's row in chunk order from zero gives loss_grad's gradient bit for bit; this default,
  // which device backends use, writes one row: the sum over the chunks' samples.
  virtual int loss_grad_chunks(const PpoMinibatch& mb, const PpoCoefs<float>& coefs, int c0, int c1,
                               float* rows, PpoSampleTerms<float>* terms) {
    const int s0 = c0 * kGradChunk;
    const int s1 = c1 * kGradChunk < mb.n ? c1 * kGradChunk : mb.n;
    const int obs_dim = shape().obs_dim, action_dim = shape().action_dim;
    PpoMinibatch part{s1 - s0,
                      mb.obs + static_cast<std::size_t>(s0) * obs_dim,
                      mb.action + static_cast<std::size_t>(s0) * action_dim,
                      mb.old_log_prob + s0,
                      mb.advantage + s0,
                      mb.ret + s0};
    loss_grad(part, coefs, rows, terms + s0);
    return 1;
  }
  // The instance index act() gives its instance 0 in the random-number address: a rank that
  // holds instances [first, first + n) of a larger batch draws what they draw in the whole batch.
  void set_first_instance(uint32_t first) { first_instance_ = first; }

 protected:
  uint32_t first_instance_ = 0;
};

// A factory of one model's kernels on one backend: the compiled model, or the generic one for the
// given hidden widths (relu or tanh).
using PpoKernelsFactory = std::unique_ptr<PpoKernels> (*)();
using PpoGenericFactory = std::unique_ptr<PpoKernels> (*)(const std::vector<int>& hidden,
                                                          bool relu);
// The model's kernels, defined in kernels/cpu/ppo_kernels_cpu.hpp and kernels/cuda/ppo_kernels.cuh
// (compiled for the built-in envs in kernels/{cpu,cuda}/ppo_launch_*).
template <class Model>
std::unique_ptr<PpoKernels> new_cpu_ppo_kernels();
template <class Model>
std::unique_ptr<PpoKernels> new_cuda_ppo_kernels();
// The generic model's kernels for an env with kObs observations and kOut network outputs.
template <bool kDisc, int kObs, int kOut>
std::unique_ptr<PpoKernels> new_cpu_generic_ppo_kernels(const std::vector<int>& hidden, bool relu);
template <bool kDisc, int kObs, int kOut>
std::unique_ptr<PpoKernels> new_cuda_generic_ppo_kernels(const std::vector<int>& hidden, bool relu);

// The PPO models of an env registered through register_ppo<Env>(): PpoDiscrete64 or PpoGaussian64
// for its observation and action sizes, and the generic model's factories.
template <class EnvF, bool kDiscrete = EnvF::kDiscrete>
struct PpoModelOf {
  using type = PpoDiscrete64<EnvF::kObsDim, EnvF::kNumActions>;
  static constexpr int kOutputs = EnvF::kNumActions;
};
template <class EnvF>
struct PpoModelOf<EnvF, false> {
  using type = PpoGaussian64<EnvF::kObsDim, EnvF::kActionDim>;
  static constexpr int kOutputs = EnvF::kActionDim;
};

// Adds the PPO models of `env` (an env registry name). Throws InvalidArgument("env") if that env
// has them already.
void register_ppo_model(std::string_view env, PpoKernelsFactory cpu, PpoGenericFactory cpu_generic);
// Adds the CUDA kernels to models registered already.
void register_ppo_model_cuda(std::string_view env, PpoKernelsFactory cuda,
                             PpoGenericFactory cuda_generic);

// Single-agent env names with a PPO model: the built-ins, then those registered.
std::vector<std::string> ppo_env_names();
// The registry key of a multi-agent env's IPPO (centralised = false) or MAPPO model.
std::string multi_agent_ppo_key(std::string_view env, bool centralised);
// Multi-agent env names with IPPO and MAPPO models.
std::vector<std::string> multi_agent_ppo_env_names();
// The kernels of `env`'s model for `net`: the compiled one when net.compiled(), else the generic
// one. nullptr when `env` has no model.
std::unique_ptr<PpoKernels> make_ppo_kernels_cpu(std::string_view env, const PpoNetSpec& net = {});
// nullptr when `env` has no model or its CUDA kernels were not compiled.
std::unique_ptr<PpoKernels> make_ppo_kernels_cuda(std::string_view env, const PpoNetSpec& net = {});

}  // namespace metasim::rl
