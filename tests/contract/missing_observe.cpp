// Must not compile: an env without observe(). tests/CMakeLists.txt checks that the compiler's
// message is the contract's, naming the missing member.
#include <metasim/host/register_env.hpp>

template <typename Real>
struct NoObserve {
  static constexpr const char* kName = "NoObserve-v0";
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
    Real x;
  };
  static constexpr const char* kParamNames[] = {"k"};
  static constexpr const char* kStateNames[] = {"x"};
  static METASIM_HD State reset(const Params&, metasim::RandomStream&) { return {Real(0)}; }
  static METASIM_HD metasim::StepResult<Real> step(const Params&, State&, const Action&,
                                                   metasim::RandomStream&) {
    return {Real(0), 0};
  }
};

bool registered = metasim::register_env<NoObserve>();
