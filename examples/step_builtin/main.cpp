// Steps 4096 CartPole-v1 instances from a simulator's own loop: the simulator chooses the actions
// (here a fixed rule: push towards the side the pole leans to), metasim steps every instance.
#include <cstdio>
#include <vector>

#include <metasim/metasim.hpp>

int main() {
  const int n = 4096;
  metasim::VectorEnv<float> env("CartPole-v1", n, metasim::Backend::kCpu);
  env.reset(/*seed=*/7);
  std::vector<int32_t> actions(n);
  for (int t = 0; t < 1000; ++t) {
    const std::vector<float> obs = env.obs();  // [n][4]: x, x_dot, theta, theta_dot
    for (int i = 0; i < n; ++i) actions[i] = obs[4 * i + 2] + 0.5f * obs[4 * i + 3] > 0 ? 1 : 0;
    env.step(actions);  // finished episodes restart within the same step
  }
  const metasim::EpisodeStats s = env.episode_stats();
  std::printf("%lld episodes, mean return %.1f, mean length %.1f\n",
              static_cast<long long>(s.episodes), s.mean_return, s.mean_length);
  // The rule balances the pole far longer than random pushes (about 22 steps): a mean return below
  // 100 means the batch did not step as it should.
  return s.episodes > 0 && s.mean_return > 100 ? 0 : 1;
}
