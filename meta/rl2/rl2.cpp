// RL² on Bernoulli bandits (see rl2.hpp): config, tasks and trials, the PPO trainer under the run
// loop, and the evaluation.
#include <metasim/meta/rl2/rl2.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <utility>

#include <metasim/host/checkpoint.hpp>
#include <metasim/host/config_schema.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/meta/common/optimizer.hpp>

namespace metasim::rl2 {

namespace {

using nlohmann::json;
using Field = config::Field<Rl2Config>;
constexpr const char* kFormat = "metasim-rl2 1";
constexpr uint32_t kEvalStream = 0xFFFFFFF0u;  // evaluation tasks: streams no iteration reaches

const config::Schema<Rl2Config>& schema() {
  static const config::Schema<Rl2Config> kSchema([] {
    using C = Rl2Config;
    using config::choice_field;
    using config::int_field;
    using config::real_field;
    using config::text_field;
    std::vector<Field> f;
    f.push_back(text_field("description", &C::description, "free text kept with the run"));
    f.push_back(choice_field("algorithm", &C::algorithm, {"rl2"}, "RL²: a recurrent policy"));
    f.push_back(choice_field("task_family", &C::task_family, {"bernoulli-bandit"},
                             "Bernoulli bandits, arm probabilities U[0, 1]"));
    f.push_back(int_field("arms", &C::arms, 2, 1024, "k, the bandit's arms"));
    f.push_back(int_field("pulls", &C::pulls, 1, 100000, "n, pulls per trial"));
    f.push_back(int_field("model.hidden", &C::hidden, 1, 4096, "GRU units"));
    f.push_back(int_field("meta_batch", &C::meta_batch, 1, 1 << 20, "tasks per update"));
    f.push_back(int_field("ppo.epochs", &C::epochs, 1, 1000, "passes over a batch"));
    f.push_back(int_field("ppo.minibatches", &C::minibatches, 1, 1 << 20,
                          "minibatches of tasks per pass (at most meta_batch)"));
    f.push_back(real_field("ppo.lr", &C::lr, 0, 10, true, false, "Adam's rate"));
    f.push_back(real_field("ppo.max_grad_norm", &C::max_grad_norm, 0, 1e30, false, false,
                           "global gradient-norm clip; 0: none"));
    f.push_back(real_field("ppo.gamma", &C::gamma, 0, 1, false, false, "discount"));
    f.push_back(real_field("ppo.gae_lambda", &C::gae_lambda, 0, 1, false, false, "GAE lambda"));
    f.push_back(real_field("ppo.clip", &C::clip, 0, 10, true, false, "surrogate clip"));
    f.push_back(
        real_field("ppo.value_coef", &C::value_coef, 0, 1e6, false, false, "value-loss weight"));
    f.push_back(
        real_field("ppo.entropy_coef", &C::entropy_coef, 0, 1e6, false, false, "entropy bonus"));
    f.push_back(int_field("iterations", &C::iterations, 1, 1000000000LL, "updates"));
    f.push_back(int_field("seed", &C::seed, 0, 9007199254740992LL, "seed (Philox)"));
    f.push_back(choice_field("backend", &C::backend, {"auto", "cpu"},
                             "where it runs; RL² runs on the CPU only"));
    f.push_back(int_field("log_every", &C::log_every, 1, 1000000000LL, "updates per metrics line"));
    f.push_back(int_field("checkpoint_every", &C::checkpoint_every, 1, 1000000000LL,
                          "updates per checkpoint"));
    return f;
  }());
  return kSchema;
}

double uniform01(RandomStream& rng) { return rng.uniform<double>(); }

}  // namespace

Rl2Config resolve_rl2_config(const json& file, const std::vector<std::string>& sets) {
  Rl2Config c = schema().resolve(file, sets);
  if (c.minibatches > c.meta_batch) {
    throw InvalidArgument("ppo.minibatches",
                          "must be at most meta_batch (" + std::to_string(c.meta_batch) + ")");
  }
  return c;
}

json to_json(const Rl2Config& c) { return schema().to_json(c); }

PolicyShape policy_shape(const Rl2Config& c) { return PolicyShape{c.arms, 0, c.hidden}; }

std::vector<double> bandit_task(const Rl2Config& c, uint64_t seed, uint32_t task, uint32_t stream) {
  RandomStream rng(make_key(seed, RngPurpose::kTaskSample), task, 0u, stream);
  std::vector<double> p(c.arms);
  for (double& x : p) x = uniform01(rng);
  return p;
}

namespace {

// The reward of pulling `arm` at pull t: one uniform per pull, shared by every arm (common random
// numbers, so that two learners on the same task see the same luck).
struct RewardStream {
  RandomStream rng;
  RewardStream(uint64_t seed, uint32_t task, uint32_t stream)
      : rng(make_key(seed, RngPurpose::kEnvStep), task, 0u, stream) {}
  double pull(const std::vector<double>& arms, int arm) {
    return rng.uniform<double>() <= arms[arm] ? 1.0 : 0.0;
  }
};

}  // namespace

Trial run_trial(const Rl2Config& c, const std::vector<double>& params,
                const std::vector<double>& arms, uint64_t seed, uint32_t task, uint32_t stream) {
  const PolicyShape s = policy_shape(c);
  const rl::GruShape g = s.gru();
  const int H = s.hidden, A = s.actions, in = s.input();
  Trial t;
  t.steps = c.pulls;
  t.inputs.assign(static_cast<std::size_t>(c.pulls) * in, 0.0);
  RandomStream act(make_key(seed, RngPurpose::kAction), task, 0u, stream);
  RewardStream reward(seed, task, stream);
  std::vector<double> h(H, 0.0), hn(H), cache(g.cache_size()), z(A);
  int prev_action = -1;
  double prev_reward = 0;
  for (int step = 0; step < c.pulls; ++step) {
    double* x = t.inputs.data() + static_cast<std::size_t>(step) * in;
    if (prev_action >= 0) x[prev_action] = 1.0;
    x[A] = prev_reward;
    x[A + 1] = step == 0 ? 1.0 : 0.0;
    rl::gru_forward(g, params.data(), x, h.data(), hn.data(), cache.data());
    h.swap(hn);
    double m = -1e300;
    for (int a = 0; a < A; ++a) {
      double v = params[s.pi_b() + a];
      for (int k = 0; k < H; ++k) v += params[s.pi_w() + a * H + k] * h[k];
      z[a] = v;
      m = std::max(m, v);
    }
    double sum = 0;
    for (int a = 0; a < A; ++a) sum += std::exp(z[a] - m);
    const double lse = m + std::log(sum);
    // Inverse-CDF draw from the softmax.
    const double u = act.uniform<double>();
    int action = A - 1;
    double cdf = 0;
    for (int a = 0; a < A; ++a) {
      cdf += std::exp(z[a] - lse);
      if (u <= cdf) {
        action = a;
        break;
      }
    }
    double value = params[s.v_b()];
    for (int k = 0; k < H; ++k) value += params[s.v_w() + k] * h[k];
    const double r = reward.pull(arms, action);
    t.actions.push_back(action);
    t.log_probs.push_back(z[action] - lse);
    t.values.push_back(value);
    t.rewards.push_back(r);
    prev_action = action;
    prev_reward = r;
  }
  return t;
}

double thompson_trial(const Rl2Config& c, const std::vector<double>& arms, uint64_t seed,
                      uint32_t task, uint32_t stream) {
  RewardStream reward(seed, task, stream);
  RandomStream rng(make_key(seed ^ 0x5bd1e995ULL, RngPurpose::kAction), task, 1u, stream);
  std::vector<int> wins(c.arms, 0), losses(c.arms, 0);
  double total = 0;
  std::vector<double> u;
  for (int step = 0; step < c.pulls; ++step) {
    int best = 0;
    double best_draw = -1;
    for (int a = 0; a < c.arms; ++a) {
      // Beta(w + 1, l + 1) with integer parameters: the (w + 1)-th smallest of w + l + 1 uniforms.
      const int n = wins[a] + losses[a] + 1;
      u.resize(n);
      for (double& x : u) x = rng.uniform<double>();
      std::nth_element(u.begin(), u.begin() + wins[a], u.end());
      const double draw = u[wins[a]];
      if (draw > best_draw) best_draw = draw, best = a;
    }
    const double r = reward.pull(arms, best);
    (r > 0 ? wins : losses)[best] += 1;
    total += r;
  }
  return total;
}

namespace {

std::vector<double> initial_policy(const PolicyShape& s, uint64_t seed) {
  // PyTorch's defaults: U(+-1/sqrt(H)) for the GRU, U(+-1/sqrt(fan_in)) for the heads; the
  // policy head scaled by 0.01 so that the first actions are near uniform.
  std::vector<double> p(s.num_params());
  RandomStream rng(make_key(seed, RngPurpose::kModelInit), 0u, 0u, 0u);
  const double bound = 1.0 / std::sqrt(static_cast<double>(s.hidden));
  for (int i = 0; i < s.pi_w(); ++i) p[i] = rng.uniform<double>(-bound, bound);
  for (int i = s.pi_w(); i < s.v_w(); ++i) p[i] = 0.01 * rng.uniform<double>(-bound, bound);
  for (int i = s.v_w(); i < s.num_params(); ++i) p[i] = rng.uniform<double>(-bound, bound);
  return p;
}

class Rl2Job final : public TrainingJob {
 public:
  explicit Rl2Job(Rl2Config c)
      : c_(std::move(c)),
        shape_(policy_shape(c_)),
        params_(initial_policy(shape_, c_.seed)),
        opt_(meta::OptimizerSettings{"adam", c_.lr}, params_.size()) {}

  std::string algorithm() const override { return c_.algorithm; }
  std::string target() const override {
    return c_.task_family + " (" + std::to_string(c_.arms) + " arms, " + std::to_string(c_.pulls) +
           " pulls)";
  }
  std::string backend_name() const override { return "cpu"; }
  const char* sample_unit() const override { return "env_steps"; }
  json config_json() const override { return to_json(c_); }
  RunCadence cadence() const override { return {c_.iterations, c_.log_every, c_.checkpoint_every}; }
  int64_t iteration() const override { return iteration_; }
  int64_t samples_done() const override {
    return iteration_ * static_cast<int64_t>(c_.meta_batch) * c_.pulls;
  }

  StepReport step() override {
    const uint32_t stream = static_cast<uint32_t>(iteration_);
    std::vector<Trial> trials(c_.meta_batch);
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < c_.meta_batch; ++i) {
      const std::vector<double> arms = bandit_task(c_, c_.seed, static_cast<uint32_t>(i), stream);
      trials[i] = run_trial(c_, params_, arms, c_.seed, static_cast<uint32_t>(i), stream);
      estimate_advantages(trials[i], c_.gamma, c_.gae_lambda);
    }
    double trial_return = 0;
    for (const Trial& t : trials) {
      for (double r : t.rewards) trial_return += r;
    }
    trial_return /= c_.meta_batch;
    PpoSettings set{c_.clip, c_.value_coef, c_.entropy_coef};
    RandomStream order(make_key(c_.seed, RngPurpose::kData), stream, 0u, 0u);
    std::vector<int> idx(c_.meta_batch);
    PpoLoss last;
    std::vector<double> grad;
    for (int e = 0; e < c_.epochs; ++e) {
      std::iota(idx.begin(), idx.end(), 0);
      for (int i = c_.meta_batch - 1; i > 0; --i) {
        std::swap(idx[i], idx[u32_below(order.next_u32(), static_cast<uint32_t>(i + 1))]);
      }
      for (int m = 0; m < c_.minibatches; ++m) {
        const int lo = m * c_.meta_batch / c_.minibatches;
        const int hi = (m + 1) * c_.meta_batch / c_.minibatches;
        std::vector<Trial> mb;
        for (int k = lo; k < hi; ++k) mb.push_back(trials[idx[k]]);
        last = ppo_loss(shape_, params_, mb, set, &grad);
        double norm = 0;
        for (double g : grad) norm += g * g;
        norm = std::sqrt(norm);
        if (!std::isfinite(norm)) {
          throw Error("iteration " + std::to_string(iteration_) +
                      ": the PPO gradient is not finite (task " + std::to_string(idx[lo]) +
                      " of the batch starts the minibatch)");
        }
        if (c_.max_grad_norm > 0 && norm > c_.max_grad_norm) {
          for (double& g : grad) g *= c_.max_grad_norm / norm;
        }
        opt_.step(params_, grad, c_.lr);
      }
    }
    ++iteration_;
    StepReport r;
    r.iteration = iteration_;
    r.samples = static_cast<int64_t>(c_.meta_batch) * c_.pulls;
    r.window = {{"trial_return", trial_return},
                {"policy_loss", last.policy},
                {"value_loss", last.value},
                {"entropy", last.entropy}};
    r.progress = "trial return " + std::to_string(trial_return);
    return r;
  }

  Checkpoint to_checkpoint() const override {
    Checkpoint k;
    k.header = {{"format", kFormat},
                {"config", to_json(c_)},
                {"iteration", iteration_},
                {"optimizer_steps", opt_.steps()}};
    k.arrays["params"] = params_;
    k.arrays["adam_m"] = opt_.first_moment();
    k.arrays["adam_v"] = opt_.second_moment();
    return k;
  }

  void restore(const Checkpoint& k) override {
    if (!checkpoint_has_format(k, kFormat)) {
      throw InvalidArgument("checkpoint", "is not an RL² checkpoint");
    }
    const std::size_t n = params_.size();
    const int64_t it = checkpoint_int(k, "iteration", 0, kMaxCheckpointCount);
    const int64_t steps = checkpoint_int(k, "optimizer_steps", 0, kMaxCheckpointCount);
    params_ = checkpoint_array(k, "params", n);
    opt_.restore(checkpoint_array(k, "adam_m", n), checkpoint_array(k, "adam_v", n), steps);
    iteration_ = it;
  }

 private:
  Rl2Config c_;
  PolicyShape shape_;
  std::vector<double> params_;
  meta::OuterOptimizer opt_;
  int64_t iteration_ = 0;
};

}  // namespace

std::vector<AlgorithmEntry> rl2_algorithms() {
  std::vector<AlgorithmEntry> out;
  AlgorithmEntry& e = out.emplace_back();
  e.name = "rl2";
  e.kind = "rl2";
  e.summary = "RL²: a GRU policy whose state carries through a trial, trained with PPO";
  e.check_config = [](const json& config, const std::vector<std::string>& sets) {
    return to_json(resolve_rl2_config(config, sets));
  };
  e.make_job = [](const json& config, const std::vector<std::string>& sets) {
    return std::unique_ptr<TrainingJob>(new Rl2Job(resolve_rl2_config(config, sets)));
  };
  e.config_reference = [] { return schema().reference("RL² config fields (rl2):"); };
  e.eval_fields = {"tasks"};
  e.evaluate = [](const std::string& run_dir, const EvalArgs& a) {
    const auto start = std::chrono::steady_clock::now();
    const Checkpoint k = load_checkpoint((std::filesystem::path(run_dir) / "checkpoint").string());
    if (!checkpoint_has_format(k, kFormat)) {
      throw InvalidArgument("checkpoint", "is not an RL² checkpoint");
    }
    const Rl2Config c = resolve_rl2_config(k.header.at("config"), {});
    const std::vector<double>& params = checkpoint_array(k, "params", policy_shape(c).num_params());
    const int tasks = a.tasks.value_or(1000);
    if (tasks < 1 || tasks > 10000000) {
      throw InvalidArgument("tasks", "must be in [1, 10000000], got " + std::to_string(tasks));
    }
    const uint64_t seed = a.seed.value_or(c.seed);
    std::vector<double> rl2(tasks), ts(tasks);
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < tasks; ++i) {
      const std::vector<double> arms = bandit_task(c, seed, static_cast<uint32_t>(i), kEvalStream);
      const Trial t = run_trial(c, params, arms, seed, static_cast<uint32_t>(i), kEvalStream);
      rl2[i] = std::accumulate(t.rewards.begin(), t.rewards.end(), 0.0);
      ts[i] = thompson_trial(c, arms, seed, static_cast<uint32_t>(i), kEvalStream);
    }
    const auto mean_se = [](const std::vector<double>& v) {
      double m = 0, sq = 0;
      for (double x : v) m += x;
      m /= v.size();
      for (double x : v) sq += (x - m) * (x - m);
      return std::pair<double, double>{m,
                                       std::sqrt(sq / (v.size() - 1 + (v.size() == 1)) / v.size())};
    };
    const auto [m, se] = mean_se(rl2);
    const auto [tm, tse] = mean_se(ts);
    return json{
        {"kind", "rl2"},
        {"algorithm", "rl2"},
        {"target", c.task_family},
        {"checkpoint", "latest"},
        {"iteration", checkpoint_int(k, "iteration", 0, kMaxCheckpointCount)},
        {"backend", "cpu"},
        {"seed", seed},
        {"tasks", tasks},
        {"arms", c.arms},
        {"pulls", c.pulls},
        {"mean_trial_return", m},
        {"mean_trial_return_stderr", se},
        {"thompson_sampling", tm},
        {"thompson_sampling_stderr", tse},
        {"seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
        {"score",
         {{"name", "mean total reward per trial"}, {"value", m}, {"higher_is_better", true}}}};
  };
  return out;
}

}  // namespace metasim::rl2
