// make_rl_engine: the run-time choice of (family, policy, precision, backend) over the compiled
// list, and the launch policy that sends each stage to the CPU or CUDA launcher.
#include <metasim/meta/rl/rl_engine.hpp>

#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/rl/rl_configs.hpp>
#include <metasim/kernels/rl/rl_launch.hpp>
#include <metasim/meta/rl/rl_engine_impl.hpp>
#include <metasim/meta/rl/rl_family_registry.hpp>

namespace metasim::rl {

namespace {

template <class Family, class Policy, typename T>
struct LibraryLaunch {
  static std::size_t scratch_bytes(Backend backend, const MlpShape& net, int num_tasks,
                                   int path_slots, int threads) {
#if METASIM_HAS_CUDA
    if (backend == Backend::kCuda) {
      return cuda::scratch_bytes<Family, Policy, T>(net, num_tasks, path_slots);
    }
#else
    (void)backend;
    (void)num_tasks;
    (void)path_slots;
#endif
    return cpu::scratch_bytes<Family, Policy, T>(net, threads);
  }
  static void run(RlStage stage, const MetaRlArgs<T>& a, unsigned char* scratch, std::size_t bytes,
                  Backend backend, int threads) {
#if METASIM_HAS_CUDA
    if (backend == Backend::kCuda) {
      cuda::run_stage<Family, Policy, T>(stage, a, scratch, bytes);
      return;
    }
#else
    (void)backend;
#endif
    cpu::run_stage<Family, Policy, T>(stage, a, scratch, bytes, threads);
  }
};

template <class Act>
const char* act_name() {
  return std::is_same_v<Act, Relu> ? "relu" : "tanh";
}

template <class Model>
RlModelSpec spec_of() {
  using Net = typename Model::Net;
  RlModelSpec m;
  m.env = Model::FamilyType::kName;
  m.distribution = Model::Policy::kDiscrete ? "categorical" : "gaussian";
  m.hidden.clear();
  for (int l = 1; l < Net::kNumLayers; ++l) m.hidden.push_back(Net::width(l));
  m.activation = act_name<typename Net::Activation>();
  return m;
}

bool same(const RlModelSpec& a, const RlModelSpec& b) {
  return a.env == b.env && a.distribution == b.distribution && a.hidden == b.hidden &&
         a.activation == b.activation;
}

// net: the policy's widths (read by the generic models only).
template <class Model>
std::unique_ptr<RlEngine> make_for(Backend backend, Precision precision,
                                   const MlpShape& net = Model::Net::from_shape({}).shape()) {
  using F = typename Model::FamilyType;
  using P = typename Model::Policy;
  if (precision == Precision::kDouble) {
    return std::make_unique<RlEngineImpl<F, P, double, LibraryLaunch<F, P, double>>>(backend, net);
  }
  return std::make_unique<RlEngineImpl<F, P, float, LibraryLaunch<F, P, float>>>(backend, net);
}

// The generic policy's widths for an env: observations, hidden widths, then the logits (discrete)
// or the mean (continuous).
MlpShape generic_shape(const RlEnvInfo& env, const std::vector<int>& hidden) {
  MlpShape s;
  s.num_layers = static_cast<int>(hidden.size()) + 1;
  s.widths[0] = env.obs_dim;
  for (std::size_t l = 0; l < hidden.size(); ++l) s.widths[l + 1] = hidden[l];
  s.widths[s.num_layers] = env.discrete ? env.num_actions : env.action_dim;
  return s;
}

}  // namespace

std::string describe(const RlModelSpec& m) {
  std::string s = m.env + " " + m.distribution + " ";
  for (std::size_t i = 0; i < m.hidden.size(); ++i) {
    if (i > 0) s += '-';
    s += std::to_string(m.hidden[i]);
  }
  return s + " " + m.activation;
}

std::vector<RlModelSpec> compiled_rl_models() {
  std::vector<RlModelSpec> v;
#define METASIM_RL_SPEC(Name, ...) v.push_back(spec_of<models::Name>());
  METASIM_FOR_EACH_RL_MODEL(METASIM_RL_SPEC)
#undef METASIM_RL_SPEC
  for (const RlFamilyEntry& e : registered_rl_families()) v.push_back(e.model);
  return v;
}

std::vector<RlEnvInfo> rl_envs() {
  std::vector<RlEnvInfo> v = {rl_env_info<PointNavGoals>(), rl_env_info<CartPolePoles>(),
                              rl_env_info<PendulumPhysics>(), rl_env_info<MountainCarPower>(),
                              rl_env_info<SpreadTeams>()};
  for (const RlFamilyEntry& e : registered_rl_families()) v.push_back(e.info);
  return v;
}

RlEnvInfo find_rl_env(const std::string& name) {
  std::string known;
  for (RlEnvInfo& e : rl_envs()) {
    if (e.name == name) return std::move(e);
    known += (known.empty() ? "" : ", ") + e.name;
  }
  throw InvalidArgument("env", "must be one of " + known + "; got '" + name + "'");
}

HostFamilyOps find_host_family(const std::string& name, const char* field) {
  if (name == PointNavGoals::kName) return host_family_ops<PointNavGoals>();
  if (name == CartPolePoles::kName) return host_family_ops<CartPolePoles>();
  if (name == PendulumPhysics::kName) return host_family_ops<PendulumPhysics>();
  if (name == MountainCarPower::kName) return host_family_ops<MountainCarPower>();
  std::string known;
  for (const RlEnvInfo& e : rl_envs()) {
    if (e.agents == 1) known += (known.empty() ? "" : ", ") + e.name;
  }
  if (name == SpreadTeams::kName) {
    throw InvalidArgument(field, "'" + name +
                                     "' is a team family (several agents per episode); this "
                                     "takes a single-agent family: " +
                                     known);
  }
  for (const RlFamilyEntry& e : registered_rl_families()) {
    if (e.info.name != name) continue;
    if (e.info.agents != 1 || !e.host) {
      throw InvalidArgument(field, "'" + name +
                                       "' is a team family (several agents per episode); this "
                                       "takes a single-agent family: " +
                                       known);
    }
    return e.host;
  }
  throw InvalidArgument(
      field, "must be one of the single-agent meta-RL families " + known + "; got '" + name + "'");
}

void check_whole_team_paths(const char* field, int64_t paths, int agents, const std::string& env) {
  if (agents > 1 && paths % agents != 0) {
    throw InvalidArgument(
        field, "must be a multiple of the " + std::to_string(agents) + " agents of a '" + env +
                   "' team (one path per agent and episode), got " + std::to_string(paths));
  }
}

std::unique_ptr<RlEngine> make_rl_engine(const RlModelSpec& model, Backend backend,
                                         Precision precision) {
  if (!model.force_generic) {
#define METASIM_RL_MAKE(Name, ...) \
  if (same(model, spec_of<models::Name>())) return make_for<models::Name>(backend, precision);
    METASIM_FOR_EACH_RL_MODEL(METASIM_RL_MAKE)
#undef METASIM_RL_MAKE
    for (const RlFamilyEntry& e : registered_rl_families()) {
      if (same(model, e.model)) return e.make(backend, precision);
    }
  }
  // Any other size: the family's generic policy.
  const RlEnvInfo* env = nullptr;
  const std::vector<RlEnvInfo> envs = rl_envs();
  for (const RlEnvInfo& e : envs) env = e.name == model.env ? &e : env;
  if (env == nullptr) throw InvalidArgument("env", "unknown meta-RL env '" + model.env + "'");
  if (model.distribution != (env->discrete ? "categorical" : "gaussian")) {
    throw InvalidArgument("policy.distribution", "the " + model.env + " family's actions take a " +
                                                     (env->discrete ? "categorical" : "gaussian") +
                                                     " policy");
  }
  if (model.hidden.empty() || model.hidden.size() > MlpShape::kMaxHiddenLayers) {
    throw InvalidArgument("policy.hidden", "must be a list of 1 to 8 widths in [1, 4096]");
  }
  const MlpShape net = generic_shape(*env, model.hidden);
  const bool relu = model.activation == "relu";
#define METASIM_RL_GENERIC_MAKE(Name, Family, Act)                       \
  if (model.env == Family::kName && relu == std::is_same_v<Act, Relu>) { \
    return make_for<models::Name>(backend, precision, net);              \
  }
  METASIM_FOR_EACH_RL_GENERIC_MODEL(METASIM_RL_GENERIC_MAKE)
#undef METASIM_RL_GENERIC_MAKE
  for (const RlFamilyEntry& e : registered_rl_families()) {
    if (e.info.name == model.env) {
      return e.make_generic(backend, precision, net,
                            relu ? RlPolicyKind::kGenericRelu : RlPolicyKind::kGenericTanh);
    }
  }
  throw InvalidArgument("env", "no meta-RL policy for '" + model.env + "'");
}

}  // namespace metasim::rl
