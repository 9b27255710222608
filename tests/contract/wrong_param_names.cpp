// Must not compile: kParamNames names two fields but Params has three. tests/CMakeLists.txt checks
// that the compiler's message is the contract's.
#include <metasim/host/register_env.hpp>

template <typename Real>
struct ShortNames {
  static constexpr const char* kName = "ShortNames-v0";
  static constexpr int kObsDim = 1;
  static constexpr bool kDiscrete = true;
  static constexpr int kNumActions = 2;
  static constexpr int kActionDim = 1;
  static constexpr int kMaxEpisodeSteps = 10;
  using Action = int32_t;
  struct Params {
    Real a = Real(1), b = Real(2), c = Real(3);
  };
  struct State {
    Real x;
  };
  static constexpr const char* kParamNames[] = {"a", "b"};
  static constexpr const char* kStateNames[] = {"x"};
  static METASIM_HD State reset(const Params&, metasim::RandomStream&) { return {Real(0)}; }
  static METASIM_HD metasim::StepResult<Real> step(const Params&, State&, const Action&,
                                                   metasim::RandomStream&) {
    return {Real(0), 0};
  }
  static METASIM_HD void observe(const Params&, const State& s, Real* obs) { obs[0] = s.x; }
};

bool registered = metasim::register_env<ShortNames>();
