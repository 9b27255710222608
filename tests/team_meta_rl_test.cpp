// Meta-RL over teams (kernels/rl/task_families.hpp, SpreadTeams): the team rollout against the
// multi-agent env stepped by hand with the recorded actions, the family's draws, the exact
// meta-gradient against central finite differences, results that do not depend on the thread
// count, and the refusals of path counts that split a team episode.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <metasim/envs/mpe/simple_spread.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/mlp.hpp>
#include <metasim/kernels/rl/policy.hpp>
#include <metasim/kernels/rl/rollout.hpp>
#include <metasim/kernels/rl/task_families.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/rl/rl_config.hpp>
#include "rl_test_support.hpp"

namespace metasim::rl {
namespace {

using Team = SpreadTeams::TeamEnv<double>;
constexpr int kAgents = Team::kAgents;
constexpr int kAct = Team::kActionDim;
using SmallNet = Mlp<Tanh, Team::kObsDim, 8, kAct>;
using SmallPolicy = GaussianMlpPolicy<SmallNet>;
using Engine = test_support::CpuEngine<SpreadTeams, SmallPolicy>;

std::vector<double> small_params(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> p(SmallPolicy::kNumParams);
  for (int l = 0; l < SmallNet::kNumLayers; ++l) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(SmallNet::in_dim(l)));
    std::uniform_real_distribution<double> u(-bound, bound);
    for (int i = SmallNet::weight_offset(l); i < SmallNet::weight_offset(l + 1); ++i) p[i] = u(rng);
  }
  for (int i = SmallNet::kNumParams; i < SmallPolicy::kNumParams; ++i) p[i] = -0.5;  // log std
  return p;
}

// Every agent's path of every episode against the team env stepped by hand: the episode starts
// from the reset stream of its first slot, each step takes the actions the rollout recorded in the
// agents' slots, and the recorded observations and rewards must be the env's (same double code,
// so equal), with each agent's action the draw of its own policy stream. A wrong slot, agent
// order, action decoding or stream would break it.
TEST(TeamMetaRl, RolloutIsTheTeamEpisodeSteppedByHand) {
  const int tasks = 2, episodes = 3, horizon = Team::kMaxEpisodeSteps;
  const int slots = episodes * kAgents;
  const int64_t cap = static_cast<int64_t>(slots) * horizon;
  const std::vector<double> theta = small_params(5);
  std::vector<double> obs(tasks * Team::kObsDim * cap, -99), act(tasks * kAct * cap, -99),
      rew(tasks * cap, -99);
  std::vector<int32_t> lengths(tasks * slots, -1);
  RolloutArgs<double> a;
  a.num_tasks = tasks;
  a.trajectories = slots;
  a.horizon = horizon;
  a.path_begin = 0;
  a.path_count = slots;
  a.policy_params = theta.data();
  a.param_stride = 0;
  a.task_key = make_key(9, RngPurpose::kTaskSample);
  a.reset_key = make_key(9, RngPurpose::kReset);
  a.action_key = make_key(9, RngPurpose::kAction);
  a.step_key = make_key(9, RngPurpose::kEnvStep);
  a.first_task = 4;
  a.phase = 1;
  a.obs = obs.data();
  a.actions = act.data();
  a.rewards = rew.data();
  a.lengths = lengths.data();
  for (int task = 0; task < tasks; ++task) {
    for (int traj = 0; traj < slots; ++traj)
      rollout_path<SpreadTeams, SmallPolicy, double>(a, task, traj);
  }
  int mismatches = 0;
  for (int task = 0; task < tasks; ++task) {
    const uint32_t task_id = a.first_task + task;
    RandomStream prng(a.task_key, task_id, 0u, 0u);
    const Team::Params params = SpreadTeams::sample<double>(prng);
    for (int e = 0; e < episodes; ++e) {
      const uint32_t instance = a.phase * slots + e * kAgents;
      RandomStream reset_rng(a.reset_key, task_id, instance, 0u);
      Team::State s = Team::reset(params, reset_rng);
      for (int t = 0; t < horizon; ++t) {
        Team::Action actions[kAgents];
        for (int g = 0; g < kAgents; ++g) {
          const int64_t sample = static_cast<int64_t>(e * kAgents + g) * horizon + t;
          double o[Team::kObsDim];
          Team::observe(params, s, g, o);
          for (int f = 0; f < Team::kObsDim; ++f) {
            mismatches += obs[(task * Team::kObsDim + f) * cap + sample] != o[f];
          }
          RandomStream arng(a.action_key, task_id, instance + g, static_cast<uint32_t>(t));
          double u[kAct];
          SmallPolicy::sample(theta.data(), o, arng, u);
          for (int d = 0; d < kAct; ++d) {
            const double recorded = act[(task * kAct + d) * cap + sample];
            mismatches += recorded != u[d];
            // [-1, 1] policy units onto MPE2's Box(0, 1).
            actions[g].v[d] = (recorded + 1.0) * 0.5;
          }
        }
        double r[kAgents];
        int32_t term[kAgents];
        RandomStream srng(a.step_key, task_id, instance, static_cast<uint32_t>(t));
        Team::step(params, s, actions, r, term, srng);
        for (int g = 0; g < kAgents; ++g) {
          mismatches +=
              rew[task * cap + static_cast<int64_t>(e * kAgents + g) * horizon + t] != r[g];
        }
      }
      for (int g = 0; g < kAgents; ++g) {
        EXPECT_EQ(lengths[task * slots + e * kAgents + g], horizon)
            << "task " << task << " slot " << e * kAgents + g;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  // The agents of one episode act on different draws: their recorded actions are not all equal.
  int differ = 0;
  for (int t = 0; t < horizon; ++t) differ += act[t] != act[horizon + t];  // agents 0 and 1
  EXPECT_GT(differ, 0);
}

// The family's draws: landmarks, sensitivity, mass and size in their ranges (each filling most of
// it over 400 draws), the other parameters at MPE2's defaults.
TEST(TeamMetaRl, FamilyDrawsTeamsAsDocumented) {
  const PhiloxKey key = make_key(3, RngPurpose::kTaskSample);
  const Team::Params defaults{};
  constexpr int kN = 9;
  double lo[kN], hi[kN];
  std::fill(lo, lo + kN, 1e9);
  std::fill(hi, hi + kN, -1e9);
  for (uint32_t t = 0; t < 400; ++t) {
    const Team::Params p = task_params<SpreadTeams, double>(key, t);
    const double v[kN] = {p.landmark_x[0],   p.landmark_y[0],  p.landmark_x[1],
                          p.landmark_y[1],   p.landmark_x[2],  p.landmark_y[2],
                          p.mpe.agent_accel, p.mpe.agent_mass, p.mpe.agent_size};
    for (int k = 0; k < kN; ++k) {
      lo[k] = std::min(lo[k], v[k]);
      hi[k] = std::max(hi[k], v[k]);
    }
    EXPECT_EQ(p.mpe.local_ratio, defaults.mpe.local_ratio);
    EXPECT_EQ(p.mpe.damping, defaults.mpe.damping);
    EXPECT_EQ(p.mpe.dt, defaults.mpe.dt);
  }
  const double want_lo[kN] = {-1, -1, -1, -1, -1, -1, 3.0, 0.5, 0.1};
  const double want_hi[kN] = {1, 1, 1, 1, 1, 1, 7.0, 1.5, 0.2};
  for (int k = 0; k < kN; ++k) {
    const double width = want_hi[k] - want_lo[k];
    EXPECT_GE(lo[k], want_lo[k]) << k;
    EXPECT_LE(hi[k], want_hi[k]) << k;
    EXPECT_LT(lo[k], want_lo[k] + 0.05 * width) << k;
    EXPECT_GT(hi[k], want_hi[k] - 0.05 * width) << k;
  }
}

// The team env is MPE2's simple_spread (continuous) with the task's landmarks: from the same reset
// draws the agents start where MPE2's do, every step moves them and rewards them as MPE2 does
// with those landmarks, and each observation is MPE2's with the landmark entries zeroed.
TEST(TeamMetaRl, UnseenLandmarksAreMpe2WithTheTasksLandmarks) {
  using Spread = envs::SimpleSpread<double, 3, true>;
  Team::Params p;
  p.mpe.agent_mass = 1.3;
  const double lx[3] = {0.4, -0.7, 0.1}, ly[3] = {-0.2, 0.5, 0.9};
  for (int l = 0; l < 3; ++l) {
    p.landmark_x[l] = lx[l];
    p.landmark_y[l] = ly[l];
  }
  RandomStream r1(make_key(1, RngPurpose::kReset), 0, 0, 0), r2 = r1;
  Spread::State a = Spread::reset(p.mpe, r1);
  const Team::State b0 = Team::reset(p, r2);
  for (int g = 0; g < 3; ++g) {
    EXPECT_EQ(a.agent_px[g], b0.agent_px[g]);
    EXPECT_EQ(a.agent_py[g], b0.agent_py[g]);
    EXPECT_EQ(b0.landmark_px[g], lx[g]);
    EXPECT_EQ(b0.landmark_py[g], ly[g]);
    a.landmark_px[g] = lx[g];
    a.landmark_py[g] = ly[g];
  }
  Team::State b = b0;
  Spread::Action act[3] = {
      {{0.1, 0.9, 0.2, 0.3, 0.7}}, {{0.5, 0.0, 1.0, 0.4, 0.4}}, {{0.0, 0.3, 0.3, 0.8, 0.1}}};
  double ra[3], rb[3];
  int32_t ta[3], tb[3];
  for (int t = 0; t < 5; ++t) {
    Spread::step(p.mpe, a, act, ra, ta, r1);
    Team::step(p, b, act, rb, tb, r2);
    for (int g = 0; g < 3; ++g) {
      EXPECT_EQ(a.agent_px[g], b.agent_px[g]);
      EXPECT_EQ(a.agent_vy[g], b.agent_vy[g]);
      EXPECT_EQ(ra[g], rb[g]);
      double oa[Spread::kObsDim], ob[Spread::kObsDim];
      Spread::observe(p.mpe, a, g, oa);
      Team::observe(p, b, g, ob);
      for (int k = 0; k < Spread::kObsDim; ++k) {
        EXPECT_EQ(ob[k], k >= 4 && k < 10 ? 0.0 : oa[k]) << "agent " << g << " entry " << k;
      }
      EXPECT_NE(oa[4], 0.0);
    }
  }
}

// d L(phi(theta)) / d theta of the team paths against central differences of the post-update
// surrogate with the sampled paths held fixed (rl_test_support.hpp; two team episodes per task),
// for the exact second-order gradient with one and two inner steps.
void check_team_meta_grad(int inner_steps) {
  Engine e(Backend::kCpu);
  test_support::check_meta_grad_on(e, small_params(11), inner_steps, MetaGradKind::kSecondOrder,
                                   2 * kAgents);
}

TEST(TeamMetaRl, MetaGradientMatchesFiniteDifferencesOneStep) { check_team_meta_grad(1); }
TEST(TeamMetaRl, MetaGradientMatchesFiniteDifferencesTwoSteps) { check_team_meta_grad(2); }

// The inner step moves the policy: phi_1 - theta is -lr times the inner gradient, so it scales
// with the rate, and it is not zero.
TEST(TeamMetaRl, InnerStepScalesWithTheRate) {
  const std::vector<double> theta = small_params(12);
  std::vector<double> step[2];
  const double rates[2] = {0.1, 0.4};
  for (int r = 0; r < 2; ++r) {
    Engine e(Backend::kCpu);
    e.configure(RlShape{2, 2 * kAgents, 25, 1});
    RlSampling s;
    s.seed = 4;
    s.lr = {rates[r]};
    e.sample_and_adapt(theta, s);
    const std::vector<double> phi = e.adapted_params(1, 1);
    for (std::size_t i = 0; i < theta.size(); ++i) step[r].push_back(phi[i] - theta[i]);
  }
  double norm = 0, err = 0;
  for (std::size_t i = 0; i < theta.size(); ++i) {
    norm = std::max(norm, std::abs(step[1][i]));
    err = std::max(err, std::abs(step[1][i] - 4.0 * step[0][i]));
  }
  EXPECT_GT(norm, 1e-3);
  EXPECT_LT(err, 1e-9 * norm);
}

// Sampling and adaptation of a team batch have the same bits on 1 and 2 threads.
TEST(TeamMetaRl, SameBitsForAnyThreadCount) {
  const std::vector<double> theta = small_params(13);
  std::vector<double> grads[2];
  std::vector<double> returns[2];
  for (int threads = 1; threads <= 2; ++threads) {
    omp_set_num_threads(threads);
    Engine e(Backend::kCpu);
    e.configure(RlShape{5, 3 * kAgents, 25, 1});
    RlSampling s;
    s.seed = 6;
    s.lr = {0.3};
    e.sample_and_adapt(theta, s);
    grads[threads - 1] = e.meta_grad(MetaGradKind::kFirstOrder);
    returns[threads - 1] = e.slot_returns(1);
  }
  omp_set_num_threads(omp_get_num_procs());
  EXPECT_EQ(grads[0], grads[1]);
  EXPECT_EQ(returns[0], returns[1]);
}

// Path counts that would split a team episode are refused, naming the field.
TEST(TeamMetaRl, RefusesPathCountsThatSplitATeam) {
  Engine e(Backend::kCpu);
  try {
    e.configure(RlShape{2, 4, 25, 1});
    FAIL() << "4 paths for a 3-agent team were accepted";
  } catch (const InvalidArgument& err) {
    EXPECT_EQ(err.field(), "trajectories");
    EXPECT_NE(std::string(err.what()).find("multiple of the 3 agents"), std::string::npos)
        << err.what();
  }
  const nlohmann::json base = {{"algorithm", "fomaml-rl"}, {"env", "spread"}, {"trajectories", 6}};
  EXPECT_NO_THROW(resolve_rl_config(base, {}));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"trajectories=10", "trajectories"}, {"validate.paths=4", "validate.paths"}};
  for (const auto& [set, field] : bad) {
    try {
      resolve_rl_config(base, {set});
      FAIL() << set << " was accepted";
    } catch (const InvalidArgument& err) {
      EXPECT_EQ(err.field(), field) << err.what();
    }
  }
  const RlConfig c = resolve_rl_config(base, {});
  try {
    evaluate_adaptation(c, std::vector<double>(1, 0.0), 2, 1, 1, "cpu", 5);
    FAIL() << "5 evaluation paths were accepted";
  } catch (const InvalidArgument& err) {
    EXPECT_EQ(err.field(), "paths") << err.what();
  }
}

}  // namespace
}  // namespace metasim::rl
