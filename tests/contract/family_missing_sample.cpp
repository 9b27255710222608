// Must not compile: a task family without sample(). tests/CMakeLists.txt checks that the
// compiler's message is the family contract's, naming the missing member.
#include <metasim/meta/register_task_family.hpp>

struct NoSample {
  static constexpr const char* kName = "no-sample";
  static constexpr int kInputDim = 1;
  static constexpr int kOutputDim = 1;
  template <typename T>
  struct Params {
    T a;
  };
  template <typename T>
  static Params<T> sample_params(metasim::RandomStream& rng) {
    return Params<T>{rng.uniform<T>(T(0), T(1))};
  }
};

bool registered = metasim::meta::register_task_family<NoSample>();
