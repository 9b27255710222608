// PPO's CUDA launches against the CPU backend: acting and minibatch gradients on the same inputs.
// Skips itself when the build has no CUDA backend or no device is present.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/rl/ppo_launch.hpp>

namespace {

bool have_device() { return metasim::cuda_compiled() && metasim::cuda_device_available(); }

TEST(PpoCuda_Parity, ActAndGradientMatchCpu) {
  if (!have_device()) GTEST_SKIP() << "no CUDA device";
#if METASIM_HAS_CUDA
  // The compiled models, the generic path at another size, and the multi-agent models (MAPPO's
  // value net reads its own part of the row).
  metasim::rl::PpoNetSpec generic;
  generic.hidden = {32, 16};
  generic.activation = "relu";
  const std::vector<std::pair<const char*, metasim::rl::PpoNetSpec>> cases = {
      {"CartPole-v1", {}},
      {"Pendulum-v1", {}},
      {"CartPole-v1", generic},
      {"Pendulum-v1", generic},
      {"simple_spread_v3:mappo", {}},
      {"simple_spread_v3-continuous:mappo", {}},
      {"simple_spread_v3:ippo", generic}};
  for (const auto& [env, net] : cases) {
    auto cpu = metasim::rl::make_ppo_kernels_cpu(env, net);
    auto gpu = metasim::rl::make_ppo_kernels_cuda(env, net);
    ASSERT_TRUE(cpu && gpu);
    const metasim::rl::PpoShape& s = cpu->shape();
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.3f, 0.3f);
    std::vector<float> p(s.num_params());
    for (float& x : p) x = u(rng);
    cpu->set_params(p.data());
    gpu->set_params(p.data());
    const int n = 300;
    std::vector<float> obs(static_cast<std::size_t>(n) * s.obs_dim);
    for (float& x : obs) x = 3.0f * u(rng);
    const metasim::PhiloxKey key = metasim::make_key(5, metasim::RngPurpose::kAction);
    std::vector<float> a_c(n * s.action_dim), a_g(n * s.action_dim), lp_c(n), lp_g(n), v_c(n),
        v_g(n);
    cpu->act(n, obs.data(), key, 7, false, a_c.data(), lp_c.data(), v_c.data());
    gpu->act(n, obs.data(), key, 7, false, a_g.data(), lp_g.data(), v_g.data());
    // Same Philox draws; tanh/exp differ in the last ulps between host and device libm.
    for (int i = 0; i < n; ++i) {
      if (s.discrete) {
        EXPECT_EQ(a_c[i], a_g[i]) << env << " instance " << i;
      } else {
        EXPECT_NEAR(a_c[i], a_g[i], 1e-4f) << env << " instance " << i;
      }
      EXPECT_NEAR(lp_c[i], lp_g[i], 1e-4f + 1e-4f * std::abs(lp_c[i]));
      EXPECT_NEAR(v_c[i], v_g[i], 1e-4f + 1e-4f * std::abs(v_c[i]));
    }
    std::vector<float> adv(n), ret(n), old(n);
    for (int i = 0; i < n; ++i) {
      adv[i] = 2.0f * u(rng);
      ret[i] = 2.0f * u(rng);
      old[i] = lp_c[i] - 0.5f * u(rng);
    }
    const metasim::rl::PpoMinibatch mb{n,          obs.data(), a_c.data(),
                                       old.data(), adv.data(), ret.data()};
    const metasim::rl::PpoCoefs<float> coefs{0.2f, 0.01f, 0.5f, 1.0f / n};
    std::vector<float> g_c(s.num_params()), g_g(s.num_params());
    std::vector<metasim::rl::PpoSampleTerms<float>> t_c(n), t_g(n);
    cpu->loss_grad(mb, coefs, g_c.data(), t_c.data());
    gpu->loss_grad(mb, coefs, g_g.data(), t_g.data());
    float gmax = 0;
    for (float x : g_c) gmax = std::max(gmax, std::abs(x));
    // Different summation trees (chunks of 16 on the CPU, one ordered sum on the GPU) and libm
    // ulps: a small multiple of float epsilon times the largest entry.
    for (int i = 0; i < s.num_params(); ++i) {
      ASSERT_NEAR(g_c[i], g_g[i], 1e-4f * gmax) << env << " parameter " << i;
    }
  }
#endif
}

}  // namespace
