// PpoTrainer: stable-baselines3's PPO on a VectorEnv. The per-instance work (acting, per-sample
// gradients) runs in the backend's PPO launches; the host keeps the rollout, GAE, minibatch
// gathering, gradient clipping and Adam, all in a fixed order so that a seed fixes the run.
#include <metasim/meta/ppo/ppo_trainer.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include <metasim/host/env_registry.hpp>
#include <metasim/host/memory.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/kernels/rl/returns.hpp>

namespace metasim::ppo {

namespace {

constexpr std::size_t kRecentEpisodes = 100;     // sb3's ep_info_buffer
constexpr const char* kEnvArrayPrefix = "env.";  // checkpoint arrays of the training envs

std::string fmt(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

std::string row_text(const float* v, int n) {
  std::string s = "[";
  for (int j = 0; j < n; ++j) s += (j ? ", " : "") + fmt(v[j]);
  return s + "]";
}

// W <- gain * a (semi-)orthogonal [rows][cols] matrix, as torch.nn.init.orthogonal_: Gram-Schmidt
// (= QR with a positive diagonal of R) on a Gaussian matrix, over its shorter dimension.
void orthogonal_fill(RandomStream& rng, int rows, int cols, double gain, double* w) {
  const bool by_rows = rows <= cols;  // orthonormal rows, else orthonormal columns
  const int count = by_rows ? rows : cols;
  const int len = by_rows ? cols : rows;
  std::vector<double> v(static_cast<std::size_t>(count) * len);
  for (double& x : v) x = rng.normal<double>();
  for (int k = 0; k < count; ++k) {
    double* vk = v.data() + static_cast<std::size_t>(k) * len;
    for (int j = 0; j < k; ++j) {
      const double* vj = v.data() + static_cast<std::size_t>(j) * len;
      double d = 0;
      for (int i = 0; i < len; ++i) d += vk[i] * vj[i];
      for (int i = 0; i < len; ++i) vk[i] -= d * vj[i];
    }
    double nrm = 0;
    for (int i = 0; i < len; ++i) nrm += vk[i] * vk[i];
    nrm = std::sqrt(nrm);
    for (int i = 0; i < len; ++i) vk[i] /= nrm;
  }
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const double x = by_rows ? v[static_cast<std::size_t>(r) * len + c]
                               : v[static_cast<std::size_t>(c) * len + r];
      w[static_cast<std::size_t>(r) * cols + c] = gain * x;
    }
  }
}

// One Mlp's parameters (layout of kernels/core/mlp.hpp) into p; `out_gain` for the last layer.
void init_mlp(const std::vector<int>& sizes, const std::string& init, double out_gain,
              RandomStream& rng, double* p) {
  std::size_t off = 0;
  const int layers = static_cast<int>(sizes.size()) - 1;
  for (int l = 0; l < layers; ++l) {
    const int in = sizes[l], out = sizes[l + 1];
    double* w = p + off;
    double* b = w + static_cast<std::size_t>(in) * out;
    if (init == "orthogonal") {
      orthogonal_fill(rng, out, in, l + 1 == layers ? out_gain : std::sqrt(2.0), w);
      std::fill(b, b + out, 0.0);
    } else {
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      for (int i = 0; i < in * out; ++i) w[i] = rng.uniform<double>(-bound, bound);
      for (int i = 0; i < out; ++i) b[i] = rng.uniform<double>(-bound, bound);
    }
    off += static_cast<std::size_t>(in + 1) * out;
  }
}

std::vector<float> to_float(const std::vector<double>& v) {
  return std::vector<float>(v.begin(), v.end());
}

}  // namespace

// ---- observation normalisation

void ObsNormalizer::init(int dim, double clip_value) {
  mean.assign(dim, 0.0);
  var.assign(dim, 1.0);
  count = 1e-4;
  clip = clip_value;
}

void ObsNormalizer::update(const float* obs, int n, int dim) {
  if (n <= 0) return;
  for (int j = 0; j < dim; ++j) {
    double m = 0;
    for (int i = 0; i < n; ++i) m += obs[static_cast<std::size_t>(i) * dim + j];
    m /= n;
    double v = 0;
    for (int i = 0; i < n; ++i) {
      const double d = obs[static_cast<std::size_t>(i) * dim + j] - m;
      v += d * d;
    }
    v /= n;
    const double delta = m - mean[j];
    const double tot = count + n;
    const double m2 = var[j] * count + v * n + delta * delta * count * n / tot;
    mean[j] += delta * n / tot;
    var[j] = m2 / tot;
  }
  count += n;
}

void ObsNormalizer::apply(const float* in, float* out, int n, int dim) const {
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < dim; ++j) {
      const std::size_t k = static_cast<std::size_t>(i) * dim + j;
      const double z = (in[k] - mean[j]) / std::sqrt(var[j] + 1e-8);
      out[k] = static_cast<float>(std::clamp(z, -clip, clip));
    }
  }
}

// ---- initialisation, kernels, evaluation

std::vector<double> initial_params(const PpoConfig& c, const rl::PpoShape& s) {
  std::vector<double> p(s.num_params(), 0.0);
  const PhiloxKey key = make_key(c.seed, RngPurpose::kModelInit);
  RandomStream pi_rng(key, 0u, 0u, 0u);
  RandomStream v_rng(key, 1u, 0u, 0u);
  init_mlp(s.policy_sizes, c.init, 0.01, pi_rng, p.data());
  if (!s.discrete) {
    for (int j = 0; j < s.action_dim; ++j) p[s.log_std_offset + j] = c.log_std_init;
  }
  init_mlp(s.value_sizes, c.init, 1.0, v_rng, p.data() + s.policy_params);
  return p;
}

rl::PpoNetSpec net_spec(const PpoConfig& c) {
  rl::PpoNetSpec n;
  n.hidden = c.hidden;
  n.activation = c.activation;
  n.force_generic = c.kernels == "generic";
  return n;
}

std::unique_ptr<rl::PpoKernels> make_kernels(const PpoConfig& c, Backend backend) {
  // A multi-agent env's models are registered under "<env>:ippo" and "<env>:mappo".
  const std::string model =
      is_multi_agent(c) ? rl::multi_agent_ppo_key(c.env, c.algorithm == "mappo") : c.env;
  std::unique_ptr<rl::PpoKernels> k;
  if (backend == Backend::kCuda) {
#if METASIM_HAS_CUDA
    k = rl::make_ppo_kernels_cuda(model, net_spec(c));
#else
    throw InvalidArgument("backend", "this build has no CUDA backend");
#endif
  } else {
    k = rl::make_ppo_kernels_cpu(model, net_spec(c));
  }
  if (!k) {
    throw InvalidArgument("env", c.algorithm + " has no model for '" + c.env +
                                     "' on this backend (register_ppo / register_ppo_cuda)");
  }
  return k;
}

EvalResult evaluate_policy(const PpoConfig& c, Backend backend, const std::vector<double>& params,
                           const ObsNormalizer* norm, int episodes, uint64_t seed,
                           bool stochastic) {
  const std::string& env_name = c.env;
  const auto t0 = std::chrono::steady_clock::now();
  EvalResult r;
  if (episodes <= 0) return r;
  std::unique_ptr<rl::PpoKernels> k = make_kernels(c, backend);
  const rl::PpoShape& s = k->shape();
  if (params.size() != static_cast<std::size_t>(s.num_params())) {
    throw InvalidArgument("params", std::to_string(params.size()) + " parameters; the " + env_name +
                                        " model of the config has " +
                                        std::to_string(s.num_params()));
  }
  const std::vector<float> pf = to_float(params);
  k->set_params(pf.data());
  std::unique_ptr<PpoEnv> env = make_ppo_env(c, s, episodes, backend);
  env->reset(seed);
  const int agents = env->agents();
  const int rows = episodes * agents;
  const PhiloxKey key = make_key(seed, RngPurpose::kAction);
  std::vector<float> obs_n(static_cast<std::size_t>(rows) * s.obs_dim);
  std::vector<float> act(static_cast<std::size_t>(rows) * s.action_dim);
  std::vector<double> ret(episodes, 0.0);
  std::vector<uint8_t> done(episodes, 0);
  int remaining = episodes;
  const int max_steps = env->max_episode_steps() + 1;
  for (int t = 0; t < max_steps && remaining > 0; ++t) {
    const std::vector<float> obs = env->inputs();
    if (norm != nullptr) {
      norm->apply(obs.data(), obs_n.data(), rows, s.obs_dim);
    } else {
      std::copy(obs.begin(), obs.end(), obs_n.begin());
    }
    k->act(rows, obs_n.data(), key, static_cast<uint32_t>(t), !stochastic, act.data(), nullptr,
           nullptr);
    env->step(act.data());
    const std::vector<float> rew = env->rewards();
    const std::vector<uint8_t> term = env->terminated();
    const std::vector<uint8_t> trunc = env->truncated();
    for (int i = 0; i < episodes; ++i) {
      if (done[i]) continue;
      bool all_ended = true;
      for (int a = 0; a < agents; ++a) {
        const int row = i * agents + a;
        ret[i] += rew[row];
        all_ended = all_ended && (term[row] | trunc[row]) != 0;
      }
      if (all_ended) {
        done[i] = 1;
        --remaining;
      }
    }
  }
  r.returns = ret;
  double sum = 0;
  for (double x : ret) sum += x;
  r.mean = sum / episodes;
  double ss = 0;
  for (double x : ret) ss += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(ss / episodes);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// ---- trainer

namespace {

// Host bytes of the trainer's rollout buffers (n_envs x n_steps samples: observation, action,
// four floats, two flags, advantage and return, a shuffle index) and minibatch buffers; the
// batched env checks its own.
double rollout_bytes(const PpoConfig& c, const rl::PpoShape& s) {
  const double n = static_cast<double>(c.n_envs) * c.n_steps * agents_per_instance(c);
  const double b = std::min<double>(c.batch_size, n);
  return n * (sizeof(float) * (s.obs_dim + s.action_dim + 4.0) + 2.0 + 2.0 * sizeof(double) +
              sizeof(int)) +
         b * (sizeof(float) * (s.obs_dim + s.action_dim + 3.0) + sizeof(rl::PpoSampleTerms<float>));
}

// This rank's share of the envs under mpirun (all of them on one rank).
Shard env_share(const PpoConfig& c, const Communicator& comm) {
  if (c.n_envs < comm.size()) {
    throw InvalidArgument("n_envs", std::to_string(c.n_envs) + " envs cannot give each of the " +
                                        std::to_string(comm.size()) +
                                        " ranks an env: use at least " +
                                        std::to_string(comm.size()) + ", or fewer ranks");
  }
  return shard_of(c.n_envs, comm.rank(), comm.size());
}

// The kernels of the config's networks, once the rollout is known to fit in the host's memory.
std::unique_ptr<rl::PpoKernels> checked_kernels(const PpoConfig& c, Backend backend) {
  std::unique_ptr<rl::PpoKernels> k = make_kernels(c, backend);
  require_host_memory("n_steps", rollout_bytes(c, k->shape()),
                      "rollouts of " + std::to_string(c.n_envs) + " envs x " +
                          std::to_string(c.n_steps) + " steps (n_envs x n_steps)");
  return k;
}

}  // namespace

PpoTrainer::PpoTrainer(const PpoConfig& config)
    : cfg_(config),
      backend_(parse_backend(config.backend, "backend")),
      comm_(process_communicator()),
      envs_(env_share(config, comm_)),
      kernels_(checked_kernels(config, backend_)),
      env_(make_ppo_env(config, kernels_->shape(), envs_.count, backend_, envs_.begin)),
      agents_(env_->agents()),
      rows_(config.n_envs * env_->agents()) {
  // Rows take the random-number addresses of their index in the whole batch.
  kernels_->set_first_instance(static_cast<uint32_t>(envs_.begin * agents_));
  const rl::PpoShape& s = kernels_->shape();
  params_ = initial_params(cfg_, s);
  opt_ = meta::OuterOptimizer(meta::OptimizerSettings{"adam", cfg_.learning_rate, cfg_.adam_beta1,
                                                      cfg_.adam_beta2, cfg_.adam_eps},
                              params_.size());
  norm_.init(s.obs_dim, cfg_.obs_clip);
  const std::size_t n = static_cast<std::size_t>(rows_) * cfg_.n_steps;
  obs_.resize(n * s.obs_dim);
  actions_.resize(n * s.action_dim);
  log_probs_.resize(n);
  values_.resize(n);
  rewards_.resize(n);
  next_values_.resize(n);
  ends_.resize(n);
  terms_.resize(n);
  adv_.resize(n);
  returns_.resize(n);
  ep_return_.assign(rows_, 0.0);
  env_->reset(cfg_.seed);
  if (cfg_.normalize_obs) {
    const std::vector<float> o = all_obs(env_->inputs());
    norm_.update(o.data(), rows_, s.obs_dim);
  }
  upload_params();
}

PpoTrainer::~PpoTrainer() = default;

VectorEnv<float>& PpoTrainer::env() {
  VectorEnv<float>* e = env_->single_agent();
  if (e == nullptr) throw Error("PpoTrainer::env(): " + cfg_.env + " is a multi-agent env");
  return *e;
}

std::string PpoTrainer::row_name(int64_t row) const {
  std::string s = "env instance " + std::to_string(row / agents_);
  if (agents_ > 1) s += ", agent " + std::to_string(row % agents_);
  return s;
}

void PpoTrainer::upload_params() {
  params_f_ = to_float(params_);
  kernels_->set_params(params_f_.data());
}

std::vector<float> PpoTrainer::all_obs(const std::vector<float>& mine) {
  if (comm_.size() == 1) return mine;
  const std::vector<double> all = comm_.all_gather(std::vector<double>(mine.begin(), mine.end()));
  return std::vector<float>(all.begin(), all.end());
}

void PpoTrainer::gather_rollout() {
  if (comm_.size() == 1) return;
  const rl::PpoShape& s = kernels_->shape();
  const int od = s.obs_dim, ad = s.action_dim;
  const std::size_t per_sample = static_cast<std::size_t>(od + ad) + 6;
  const std::size_t steps = static_cast<std::size_t>(cfg_.n_steps);
  const std::size_t ne = static_cast<std::size_t>(envs_.count) * agents_;
  // Every float, and the flags, are exact in double.
  std::vector<double> mine;
  mine.reserve(steps * ne * per_sample);
  for (std::size_t k = 0; k < steps * ne; ++k) {
    mine.insert(mine.end(), obs_.begin() + static_cast<std::ptrdiff_t>(k * od),
                obs_.begin() + static_cast<std::ptrdiff_t>((k + 1) * od));
    mine.insert(mine.end(), actions_.begin() + static_cast<std::ptrdiff_t>(k * ad),
                actions_.begin() + static_cast<std::ptrdiff_t>((k + 1) * ad));
    for (double x : {static_cast<double>(log_probs_[k]), static_cast<double>(values_[k]),
                     static_cast<double>(rewards_[k]), static_cast<double>(next_values_[k]),
                     static_cast<double>(ends_[k]), static_cast<double>(terms_[k])}) {
      mine.push_back(x);
    }
  }
  const std::vector<double> all = comm_.all_gather(mine);
  const std::size_t n = static_cast<std::size_t>(rows_);
  const auto a_count = static_cast<std::size_t>(agents_);
  std::size_t at = 0;
  for (int r = 0; r < comm_.size(); ++r) {
    const Shard sh = shard_of(cfg_.n_envs, r, comm_.size());
    for (std::size_t t = 0; t < steps; ++t) {
      for (std::size_t i = 0; i < static_cast<std::size_t>(sh.count) * a_count; ++i) {
        const std::size_t k = t * n + static_cast<std::size_t>(sh.begin) * a_count + i;
        const double* v = all.data() + at;
        at += per_sample;
        for (int d = 0; d < od; ++d) obs_[k * od + d] = static_cast<float>(v[d]);
        for (int d = 0; d < ad; ++d) actions_[k * ad + d] = static_cast<float>(v[od + d]);
        const double* f = v + od + ad;
        log_probs_[k] = static_cast<float>(f[0]);
        values_[k] = static_cast<float>(f[1]);
        rewards_[k] = static_cast<float>(f[2]);
        next_values_[k] = static_cast<float>(f[3]);
        ends_[k] = static_cast<uint8_t>(f[4]);
        terms_[k] = static_cast<uint8_t>(f[5]);
      }
    }
  }
  if (at != all.size())
    throw Error("PPO rollout gather: " + std::to_string(all.size()) + " values, expected " +
                std::to_string(at));
}

void PpoTrainer::minibatch_gradient(const rl::PpoMinibatch& mb, const rl::PpoCoefs<float>& coefs,
                                    float* grad, rl::PpoSampleTerms<float>* terms) {
  if (comm_.size() == 1) {
    kernels_->loss_grad(mb, coefs, grad, terms);
    return;
  }
  constexpr int kChunk = rl::PpoKernels::kGradChunk;
  const std::size_t np = static_cast<std::size_t>(kernels_->shape().num_params());
  const int chunks = (mb.n + kChunk - 1) / kChunk;
  const Shard mine = shard_of(chunks, comm_.rank(), comm_.size());
  const int c0 = static_cast<int>(mine.begin), c1 = static_cast<int>(mine.begin + mine.count);
  const int s0 = std::min(mb.n, c0 * kChunk), s1 = std::min(mb.n, c1 * kChunk);
  chunk_rows_.resize(std::max<std::size_t>(1, static_cast<std::size_t>(mine.count)) * np);
  const int rows =
      mine.count > 0 ? kernels_->loss_grad_chunks(mb, coefs, c0, c1, chunk_rows_.data(), terms) : 0;
  // The chunks' partial sums added from zero in chunk order (rank order is chunk order), as the
  // one-rank gradient adds them.
  chunk_rows_.resize(static_cast<std::size_t>(rows) * np);
  const std::vector<float> sum = comm_.ordered_sum(chunk_rows_, np);
  std::copy(sum.begin(), sum.end(), grad);
  std::vector<double> my_terms;
  my_terms.reserve(static_cast<std::size_t>(s1 - s0) * 5);
  for (int q = s0; q < s1; ++q) {
    const rl::PpoSampleTerms<float>& t = terms[q];
    for (float x : {t.policy_loss, t.value_loss, t.entropy, t.log_ratio, t.clipped}) {
      my_terms.push_back(x);
    }
  }
  const std::vector<double> all_terms = comm_.all_gather(my_terms);
  if (all_terms.size() != static_cast<std::size_t>(mb.n) * 5) {
    throw Error("PPO minibatch gather: " + std::to_string(all_terms.size() / 5) +
                " samples' terms, expected " + std::to_string(mb.n));
  }
  for (int q = 0; q < mb.n; ++q) {
    const double* v = all_terms.data() + static_cast<std::size_t>(q) * 5;
    terms[q] = rl::PpoSampleTerms<float>{static_cast<float>(v[0]), static_cast<float>(v[1]),
                                         static_cast<float>(v[2]), static_cast<float>(v[3]),
                                         static_cast<float>(v[4])};
  }
}

void PpoTrainer::collect_rollout(UpdateStats& st) {
  const rl::PpoShape& s = kernels_->shape();
  // This rank's rows: rows [first, first + n) of the batch.
  const int n = static_cast<int>(envs_.count) * agents_;
  const int first = static_cast<int>(envs_.begin) * agents_;
  const int od = s.obs_dim, ad = s.action_dim;
  const PhiloxKey key = make_key(cfg_.seed, RngPurpose::kAction);
  std::vector<float> fin_obs_n, trunc_values;
  std::vector<int> trunc_idx;
  std::vector<float> last_obs(static_cast<std::size_t>(n) * od);
  for (int t = 0; t < cfg_.n_steps; ++t) {
    const std::size_t row = static_cast<std::size_t>(t) * n;
    float* obs_t = obs_.data() + row * od;
    const std::vector<float> raw = env_->inputs();
    if (cfg_.normalize_obs) {
      norm_.apply(raw.data(), obs_t, n, od);
    } else {
      std::copy(raw.begin(), raw.end(), obs_t);
    }
    float* act_t = actions_.data() + row * ad;
    kernels_->act(n, obs_t, key, act_step_, false, act_t, log_probs_.data() + row,
                  values_.data() + row);
    for (int i = 0; i < n; ++i) {
      if (!std::isfinite(log_probs_[row + i]) || !std::isfinite(values_[row + i])) {
        throw Error(
            "update " + std::to_string(update_ + 1) + ", rollout step " + std::to_string(t) + ": " +
            row_name(first + i) + ": the policy produced a non-finite output (log-prob " +
            fmt(log_probs_[row + i]) + ", value " + fmt(values_[row + i]) + ") for observation " +
            row_text(raw.data() + static_cast<std::size_t>(i) * od, od));
      }
    }
    env_->step(act_t);
    ++act_step_;
    const std::vector<float> rew = env_->rewards();
    const std::vector<uint8_t> term = env_->terminated();
    const std::vector<uint8_t> trunc = env_->truncated();
    trunc_idx.clear();
    for (int i = 0; i < n; ++i) {
      rewards_[row + i] = rew[i];
      terms_[row + i] = term[i];
      ends_[row + i] = term[i] | trunc[i];
      if (trunc[i] && !term[i]) trunc_idx.push_back(i);
    }
    // A time limit is not a terminal state: bootstrap from V(final observation).
    if (!trunc_idx.empty()) {
      const std::vector<float> fin = env_->final_inputs();
      const int m = static_cast<int>(trunc_idx.size());
      std::vector<float> picked(static_cast<std::size_t>(m) * od);
      for (int k = 0; k < m; ++k) {
        std::copy_n(fin.data() + static_cast<std::size_t>(trunc_idx[k]) * od, od,
                    picked.data() + static_cast<std::size_t>(k) * od);
      }
      fin_obs_n.resize(picked.size());
      if (cfg_.normalize_obs) {
        norm_.apply(picked.data(), fin_obs_n.data(), m, od);
      } else {
        fin_obs_n = picked;
      }
      trunc_values.resize(m);
      kernels_->values(m, fin_obs_n.data(), trunc_values.data());
      for (int k = 0; k < m; ++k) next_values_[row + trunc_idx[k]] = trunc_values[k];
    }
    if (cfg_.normalize_obs) {
      const std::vector<float> o = all_obs(env_->inputs());
      norm_.update(o.data(), rows_, od);
    }
  }
  // V'_t: the next step's value inside an episode, V(final obs) at a truncation (set above), and
  // V(current obs) after the rollout's last step.
  const std::vector<float> raw = env_->inputs();
  if (cfg_.normalize_obs) {
    norm_.apply(raw.data(), last_obs.data(), n, od);
  } else {
    std::copy(raw.begin(), raw.end(), last_obs.begin());
  }
  std::vector<float> last_values(n);
  kernels_->values(n, last_obs.data(), last_values.data());
  for (int t = 0; t < cfg_.n_steps; ++t) {
    const std::size_t row = static_cast<std::size_t>(t) * n;
    for (int i = 0; i < n; ++i) {
      if (ends_[row + i]) {
        if (terms_[row + i]) next_values_[row + i] = 0.0f;  // truncations already hold V(final)
      } else {
        next_values_[row + i] = t + 1 < cfg_.n_steps ? values_[row + n + i] : last_values[i];
      }
    }
  }
  env_steps_ += static_cast<int64_t>(cfg_.n_envs) * cfg_.n_steps;
  gather_rollout();
  // Episode bookkeeping over the whole batch, in (step, instance) order. An instance's episode
  // ends when all its agents' have; its return is the sum of theirs.
  for (int t = 0; t < cfg_.n_steps; ++t) {
    const std::size_t row = static_cast<std::size_t>(t) * rows_;
    for (int i = 0; i < cfg_.n_envs; ++i) {
      const int r0 = i * agents_;
      bool ended = true;
      for (int a = 0; a < agents_; ++a) {
        ep_return_[r0 + a] += rewards_[row + r0 + a];
        ended = ended && ends_[row + r0 + a] != 0;
      }
      if (ended) {
        double team = 0;
        for (int a = 0; a < agents_; ++a) {
          team += ep_return_[r0 + a];
          ep_return_[r0 + a] = 0;
        }
        recent_returns_.push_back(team);
        if (recent_returns_.size() > kRecentEpisodes)
          recent_returns_.erase(recent_returns_.begin());
        ++st.episodes;
      }
    }
  }
}

void PpoTrainer::compute_advantages() {
  const int n = rows_;
  for (int i = 0; i < n; ++i) {
    rl::gae<double>(cfg_.n_steps, n, rewards_.data() + i, values_.data() + i,
                    next_values_.data() + i, ends_.data() + i, terms_.data() + i, cfg_.gamma,
                    cfg_.gae_lambda, adv_.data() + i, returns_.data() + i);
  }
  for (std::size_t k = 0; k < adv_.size(); ++k) {
    if (!std::isfinite(adv_[k]) || !std::isfinite(returns_[k])) {
      throw Error("update " + std::to_string(update_ + 1) + ", rollout step " +
                  std::to_string(k / n) + ": " + row_name(static_cast<int64_t>(k % n)) +
                  ": non-finite advantage " + fmt(adv_[k]) + " (reward " + fmt(rewards_[k]) +
                  ", value " + fmt(values_[k]) + ", next value " + fmt(next_values_[k]) + ")");
    }
  }
}

void PpoTrainer::train_epochs(UpdateStats& st) {
  const rl::PpoShape& s = kernels_->shape();
  const int n_total = rows_ * cfg_.n_steps;
  const int od = s.obs_dim, ad = s.action_dim;
  const int np = s.num_params();
  // sb3 evaluates its schedules at the start of train(), after the rollout was counted.
  const double remaining =
      1.0 - static_cast<double>(env_steps_) / static_cast<double>(cfg_.total_timesteps);
  const double lr =
      cfg_.lr_schedule == "linear" ? cfg_.learning_rate * remaining : cfg_.learning_rate;
  const double clip =
      cfg_.clip_schedule == "linear" ? cfg_.clip_range * remaining : cfg_.clip_range;
  st.learning_rate = lr;
  st.clip_range = clip;

  const int b = cfg_.batch_size;
  std::vector<float> mb_obs(static_cast<std::size_t>(b) * od),
      mb_act(static_cast<std::size_t>(b) * ad);
  std::vector<float> mb_logp(b), mb_adv(b), mb_ret(b), grad_f(np);
  std::vector<rl::PpoSampleTerms<float>> terms(b);
  std::vector<double> grad(np);
  std::vector<int> perm(n_total);
  const PhiloxKey shuffle_key = make_key(cfg_.seed, RngPurpose::kData);
  double sum_pl = 0, sum_vl = 0, sum_ent = 0, sum_kl = 0, sum_clip = 0, sum_norm = 0;
  int64_t samples = 0, minibatches = 0;
  for (int epoch = 0; epoch < cfg_.n_epochs; ++epoch) {
    // Fisher-Yates from the (seed, update, epoch) stream.
    std::iota(perm.begin(), perm.end(), 0);
    RandomStream rng(shuffle_key, static_cast<uint32_t>(update_), static_cast<uint32_t>(epoch), 0u);
    for (int k = n_total - 1; k > 0; --k) {
      const int j = static_cast<int>(rng.below(static_cast<uint32_t>(k + 1)));
      std::swap(perm[k], perm[j]);
    }
    for (int start = 0; start < n_total; start += b) {
      const int m = std::min(b, n_total - start);
      double mean = 0;
      for (int q = 0; q < m; ++q) mean += adv_[perm[start + q]];
      mean /= m;
      double var = 0;
      for (int q = 0; q < m; ++q)
        var += (adv_[perm[start + q]] - mean) * (adv_[perm[start + q]] - mean);
      const double stdev = m > 1 ? std::sqrt(var / (m - 1)) : 0.0;  // torch.std: unbiased
      const bool norm_adv = cfg_.normalize_advantage && m > 1;
      for (int q = 0; q < m; ++q) {
        const int k = perm[start + q];
        std::copy_n(obs_.data() + static_cast<std::size_t>(k) * od, od,
                    mb_obs.data() + static_cast<std::size_t>(q) * od);
        std::copy_n(actions_.data() + static_cast<std::size_t>(k) * ad, ad,
                    mb_act.data() + static_cast<std::size_t>(q) * ad);
        mb_logp[q] = log_probs_[k];
        mb_adv[q] = static_cast<float>(norm_adv ? (adv_[k] - mean) / (stdev + 1e-8) : adv_[k]);
        mb_ret[q] = static_cast<float>(returns_[k]);
      }
      rl::PpoMinibatch mb{
          m, mb_obs.data(), mb_act.data(), mb_logp.data(), mb_adv.data(), mb_ret.data()};
      const rl::PpoCoefs<float> coefs{static_cast<float>(clip), static_cast<float>(cfg_.ent_coef),
                                      static_cast<float>(cfg_.vf_coef),
                                      1.0f / static_cast<float>(m)};
      minibatch_gradient(mb, coefs, grad_f.data(), terms.data());
      double sq = 0;
      for (int i = 0; i < np; ++i) {
        grad[i] = grad_f[i];
        sq += grad[i] * grad[i];
      }
      const double norm = std::sqrt(sq);
      const std::string where =
          "update " + std::to_string(update_ + 1) + ", epoch " + std::to_string(epoch) + ": ";
      for (int q = 0; q < m; ++q) {
        const rl::PpoSampleTerms<float>& tq = terms[q];
        if (!std::isfinite(tq.policy_loss) || !std::isfinite(tq.value_loss) ||
            !std::isfinite(tq.entropy) || !std::isfinite(tq.log_ratio)) {
          const int k = perm[start + q];
          throw Error(where + "the PPO loss is not finite at the sample from " +
                      row_name(k % rows_) + ", rollout step " + std::to_string(k / rows_) +
                      " (policy loss " + fmt(tq.policy_loss) + ", value loss " +
                      fmt(tq.value_loss) + ", log ratio " + fmt(tq.log_ratio) +
                      "); lower learning_rate or check the environment");
        }
        sum_pl += tq.policy_loss;
        sum_vl += tq.value_loss;
        sum_ent += tq.entropy;
        const double log_ratio = tq.log_ratio;
        sum_kl += std::exp(log_ratio) - 1.0 - log_ratio;
        sum_clip += tq.clipped;
      }
      if (!std::isfinite(norm)) {
        throw Error(where + "the gradient of the PPO loss is not finite (norm " + fmt(norm) +
                    "); lower learning_rate or check the environment");
      }
      samples += m;
      ++minibatches;
      sum_norm += norm;
      // torch.nn.utils.clip_grad_norm_.
      const double coef = cfg_.max_grad_norm / (norm + 1e-6);
      if (coef < 1.0) {
        for (double& g : grad) g *= coef;
      }
      opt_.step(params_, grad, lr);
      upload_params();
    }
  }
  st.policy_loss = sum_pl / samples;
  st.value_loss = sum_vl / samples;
  st.entropy = sum_ent / samples;
  st.approx_kl = sum_kl / samples;
  st.clip_fraction = sum_clip / samples;
  st.grad_norm = sum_norm / minibatches;
}

UpdateStats PpoTrainer::step() {
  UpdateStats st;
  collect_rollout(st);
  compute_advantages();
  train_epochs(st);
  ++update_;
  st.update = update_;
  st.env_steps = env_steps_;
  return st;
}

Checkpoint PpoTrainer::to_checkpoint() const {
  Checkpoint c;
  c.header = {{"format", "metasim-ppo"},
              {"algorithm", cfg_.algorithm},
              {"env", cfg_.env},
              {"update", update_},
              {"env_steps", env_steps_},
              {"act_step", act_step_},
              {"optimizer_steps", opt_.steps()},
              {"num_params", params_.size()},
              {"config", to_json(cfg_)}};
  c.arrays["params"] = params_;
  c.arrays["optimizer_m"] = opt_.first_moment();
  c.arrays["optimizer_v"] = opt_.second_moment();
  c.arrays["obs_mean"] = norm_.mean;
  c.arrays["obs_var"] = norm_.var;
  c.arrays["obs_count"] = {norm_.count};
  c.arrays["recent_returns"] = recent_returns_;
  c.arrays["episode_returns"] = ep_return_;
  // The envs mid-episode, so that a resumed run continues exactly where this one stopped: under
  // mpirun the ranks' shares joined into the whole batch (every rank must call this).
  EnvSnapshot env = env_->snapshot();
  if (comm_.size() > 1) {
    std::vector<int64_t> counts;
    for (int r = 0; r < comm_.size(); ++r)
      counts.push_back(shard_of(cfg_.n_envs, r, comm_.size()).count);
    std::vector<EnvSnapshot> parts(counts.size(), env);
    for (const auto& [name, mine] : env.arrays) {
      const std::vector<double> all = comm_.all_gather(mine);
      const std::size_t width = mine.size() / static_cast<std::size_t>(envs_.count);
      std::size_t at = 0;
      for (std::size_t r = 0; r < parts.size(); ++r) {
        const std::size_t len = width * static_cast<std::size_t>(counts[r]);
        parts[r].arrays[name].assign(all.begin() + static_cast<std::ptrdiff_t>(at),
                                     all.begin() + static_cast<std::ptrdiff_t>(at + len));
        at += len;
      }
    }
    env = VectorEnv<float>::join_snapshots(parts, counts);
  }
  c.header["env_seed"] = env.seed;
  c.header["env_steps_taken"] = env.steps_taken;
  for (const auto& [name, values] : env.arrays) c.arrays[kEnvArrayPrefix + name] = values;
  return c;
}

void PpoTrainer::restore(const Checkpoint& c) {
  if (!checkpoint_has_format(c, "metasim-ppo") || !c.header.contains("config")) {
    throw InvalidArgument("checkpoint", "not a PPO checkpoint (no \"format\": \"metasim-ppo\")");
  }
  const PpoConfig saved = resolve_config(c.header.at("config"), {});
  if (saved.algorithm != cfg_.algorithm) {
    throw InvalidArgument("algorithm", "the checkpoint was trained with " + saved.algorithm +
                                           ", not " + cfg_.algorithm);
  }
  if (saved.agent_id != cfg_.agent_id) {
    throw InvalidArgument("agent_id", std::string("the checkpoint's networks were trained ") +
                                          (saved.agent_id ? "with" : "without") +
                                          " agent ids in their inputs");
  }
  if (saved.env != cfg_.env) {
    throw InvalidArgument(
        "env", "the checkpoint was trained on '" + saved.env + "', not '" + cfg_.env + "'");
  }
  // The networks must be the same; which kernels run them (model.kernels) may differ, since both
  // give the same results.
  if (saved.hidden != cfg_.hidden) {
    throw InvalidArgument("model.hidden", "the checkpoint's networks have hidden widths " +
                                              nlohmann::json(saved.hidden).dump() + ", not " +
                                              nlohmann::json(cfg_.hidden).dump());
  }
  if (saved.activation != cfg_.activation) {
    throw InvalidArgument("model.activation", "the checkpoint's networks use " + saved.activation +
                                                  ", not " + cfg_.activation);
  }
  // Everything is checked before anything changes (the env snapshot's arrays by env_->restore).
  const std::vector<double>& p = checkpoint_array(c, "params", params_.size());
  const std::vector<double>& m = checkpoint_array(c, "optimizer_m", params_.size());
  const std::vector<double>& v = checkpoint_array(c, "optimizer_v", params_.size());
  const std::vector<double>& mean = checkpoint_array(c, "obs_mean", norm_.mean.size());
  const std::vector<double>& var = checkpoint_array(c, "obs_var", norm_.var.size());
  const std::vector<double>& count = checkpoint_array(c, "obs_count", 1);
  const std::vector<double>& recent = checkpoint_array(c, "recent_returns");
  const int64_t steps = checkpoint_int(c, "optimizer_steps", 0, kMaxCheckpointCount, 0);
  const int64_t update = checkpoint_int(c, "update", 0, kMaxCheckpointCount, 0);
  const int64_t env_steps = checkpoint_int(c, "env_steps", 0, INT64_MAX, 0);
  const auto act_step =
      static_cast<uint32_t>(checkpoint_int(c, "act_step", 0, UINT32_MAX, int64_t{0}));
  for (double x : var) {
    if (x < 0) throw InvalidArgument("checkpoint: array 'obs_var'", "holds a negative variance");
  }
  if (count.front() < 0) throw InvalidArgument("checkpoint: array 'obs_count'", "is negative");
  const bool has_env = c.header.contains("env_seed");
  EnvSnapshot env;
  std::vector<double> ep;
  if (has_env) {
    env.env = cfg_.env;
    env.seed = checkpoint_uint64(c, "env_seed");
    env.steps_taken = static_cast<uint32_t>(checkpoint_int(c, "env_steps_taken", 0, UINT32_MAX));
    const std::string prefix = kEnvArrayPrefix;
    for (const auto& [name, values] : c.arrays) {
      if (name.compare(0, prefix.size(), prefix) == 0) {
        env.arrays[name.substr(prefix.size())] = checkpoint_array(c, name.c_str());
      }
    }
    ep = checkpoint_array(c, "episode_returns");
    if (ep.size() != ep_return_.size()) {
      throw InvalidArgument("n_envs",
                            "the checkpoint holds " + std::to_string(ep.size() / agents_) +
                                " env instances, the config " + std::to_string(cfg_.n_envs));
    }
    // Under mpirun this rank's share of the whole batch, whatever the rank count that saved it.
    if (comm_.size() > 1) {
      env = VectorEnv<float>::slice_snapshot(env, cfg_.n_envs, envs_.begin, envs_.count);
    }
  }
  params_ = p;
  opt_.restore(m, v, steps);
  norm_.mean = mean;
  norm_.var = var;
  norm_.count = count.front();
  recent_returns_ = recent;
  update_ = update;
  env_steps_ = env_steps;
  act_step_ = act_step;
  if (has_env) {
    env_->restore(env);
    ep_return_ = ep;
  } else {
    // Checkpoints written before the envs were saved: continue with new episodes from a seed
    // tied to the update.
    env_->reset(cfg_.seed + static_cast<uint64_t>(update_));
    std::fill(ep_return_.begin(), ep_return_.end(), 0.0);
  }
  upload_params();
}

}  // namespace metasim::ppo
