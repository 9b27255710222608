// Must not compile: a multi-agent env without observe(). tests/CMakeLists.txt checks that the
// compiler's message is the multi-agent contract's, naming the missing member.
#include <metasim/envs/multi_agent_api.hpp>

template <typename Real>
struct TwoAgentsNoObserve {
  static constexpr const char* kName = "TwoAgentsNoObserve-v0";
  static constexpr int kAgents = 2;
  static constexpr int kObsDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 2;
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 10;
  using Action = int32_t;
  struct Params {
    Real k = Real(1);
  };
  struct State {
    Real x[2];
  };
  static constexpr const char* kParamNames[] = {"k"};
  static constexpr const char* kStateNames[] = {"x0", "x1"};
  static constexpr int obs_dim(int /*agent*/) { return kObsDim; }
  static METASIM_HD State reset(const Params&, metasim::RandomStream&) { return {}; }
  static METASIM_HD void step(const Params&, State&, const Action*, Real* rewards,
                              int32_t* terminated, metasim::RandomStream&) {
    for (int a = 0; a < kAgents; ++a) {
      rewards[a] = Real(0);
      terminated[a] = 0;
    }
  }
};

static_assert(metasim::check_multi_agent_environment<TwoAgentsNoObserve<float>>());
