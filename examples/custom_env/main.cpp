// The example's env used through metasim: a batch of tasks with their own masses and goals stepped
// by the library's launcher, PPO trained on it with the same trainer as the built-ins, and
// first-order MAML-RL meta-trained over its task family (PointMassTasks).
#include <cstdio>
#include <string>
#include <vector>

#include <metasim/metasim.hpp>

#include "point_mass.hpp"

int main(int argc, char** argv) {
  const std::string run_dir = argc > 1 ? argv[1] : "point-mass-run";
  point_mass::register_point_mass();

  // 1. A batch of 1024 tasks: mass in [0.5, 2], goal in [-0.5, 0.5], random forces.
  const int n = 1024;
  metasim::VectorEnv<float> env("PointMass1D-v0", n);
  std::vector<float> params(2 * n);
  for (int i = 0; i < n; ++i) {
    params[2 * i] = 0.5f + 1.5f * static_cast<float>(i) / n;
    params[2 * i + 1] = -0.5f + static_cast<float>(i % 11) / 10;
  }
  env.set_params(params);
  env.reset(/*seed=*/1);
  for (int t = 0; t < 500; ++t) env.step_random();
  const metasim::EpisodeStats random = env.episode_stats();
  std::printf("random forces: %lld episodes, mean return %.2f\n",
              static_cast<long long>(random.episodes), random.mean_return);

  // 2. PPO on the default task, from the same config format `metasim train` reads.
  const nlohmann::json config = {
      {"algorithm", "ppo"}, {"env", "PointMass1D-v0"},   {"n_envs", 16},          {"n_steps", 256},
      {"batch_size", 256},  {"total_timesteps", 61440},  {"learning_rate", 1e-3}, {"seed", 3},
      {"backend", "cpu"},   {"eval", {{"episodes", 20}}}};
  const nlohmann::json summary = metasim::train(config, /*overrides=*/{}, run_dir, {});
  const double trained = summary.at("evaluation").at("mean_return").get<double>();
  std::printf("PPO after %lld steps: mean return %.2f (random forces: %.2f)\n",
              static_cast<long long>(summary.at("samples").get<int64_t>()), trained,
              random.mean_return);
  // Standing still at a random start scores about -50; PPO must do far better than random forces.
  const bool ppo_ok = trained > random.mean_return + 20;

  // 3. First-order MAML-RL over tasks with their own mass and goal, then adaptation to 20 new
  // tasks: the mean return before (step 0) and after one policy-gradient step.
  const nlohmann::json meta_config = {{"algorithm", "fomaml-rl"}, {"env", "pointmass"},
                                      {"horizon", 100},           {"trajectories", 10},
                                      {"meta_batch", 16},         {"iterations", 60},
                                      {"inner", {{"lr", 0.1}}},   {"eval", {{"lr", {0.1}}}},
                                      {"outer", {{"lr", 0.01}}},  {"seed", 2},
                                      {"backend", "cpu"}};
  const std::string meta_dir = run_dir + "-meta";
  metasim::train(meta_config, /*overrides=*/{}, meta_dir, {});
  metasim::EvalArgs request;
  request.tasks = 20;
  request.steps = 1;
  request.backend = "cpu";
  const nlohmann::json eval = metasim::evaluate(meta_dir, request);
  const std::vector<double> r = eval.at("returns_after_steps").get<std::vector<double>>();
  std::printf("MAML-RL on 20 new tasks: mean return %.2f before adapting, %.2f after one step\n",
              r.at(0), r.at(1));
  // The meta-trained start must beat random forces on new tasks.
  const bool meta_ok = r.at(1) > random.mean_return;
  return ppo_ok && meta_ok ? 0 : 1;
}
