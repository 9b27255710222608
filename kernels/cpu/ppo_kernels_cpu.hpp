// CPU backend of PPO's launches, as templates over the model: OpenMP over instances (acting) and
// over fixed chunks of a minibatch (gradients), calling the per-sample HD code of
// kernels/rl/ppo.hpp. Compiled for the built-in envs in ppo_launch_cpu.cpp and for a user's env
// where it calls register_ppo<Env>() (kernels/rl/register_ppo.hpp).
#pragma once

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include <metasim/kernels/rl/ppo_launch.hpp>
#include <metasim/kernels/rl/transposed_mlp.hpp>

namespace metasim::rl {

namespace cpu_detail {

// Samples whose gradients one worker sums into one staging row, in sample order. The chunk size
// is fixed, so which samples share a partial sum (and the order the partial sums are added in)
// never depends on the thread count: the gradient is bit-identical for any number of threads.
inline constexpr int kChunk = PpoKernels::kGradChunk;
// Below this many instances a parallel region costs more than it saves.
inline constexpr int kMinParallelActs = 1024;

// How many threads the minibatch gradient uses: all of OpenMP's, or one. A minibatch is about a
// millisecond of work, so each call ends in a barrier; on cores shared with other jobs a thread
// that lost its time slice holds the others there (libgomp's default spin-wait makes it worse),
// and one thread can then be ten times faster than two. The results are bit-identical either
// way, so the choice is made by timing: every kProbePeriod calls, kProbeCalls calls run with each
// count and the faster one is kept until the next probe. (The minibatches of one rollout are the
// same size, so the probe compares like with like.)
class ThreadChooser {
 public:
  static constexpr int kProbePeriod = 1024;
  static constexpr int kProbeCalls = 3;

  // Threads for the next call. One thread is timed first: right after calls with several threads,
  // libgomp's idle workers still spin and would slow a single-thread call down.
  int next() const {
    const int max_threads = omp_get_max_threads();
    if (max_threads <= 1) return 1;
    const int phase = static_cast<int>(calls_ % kProbePeriod);
    if (phase < kProbeCalls) return 1;
    if (phase < 2 * kProbeCalls) return max_threads;
    return use_many_ ? max_threads : 1;
  }

  // The call that just ran (with next()'s count) took `seconds`.
  void record(double seconds) {
    const int phase = static_cast<int>(calls_ % kProbePeriod);
    if (phase < kProbeCalls) one_s_ = (phase == 0 ? 0.0 : one_s_) + seconds;
    if (phase >= kProbeCalls && phase < 2 * kProbeCalls) {
      many_s_ = (phase == kProbeCalls ? 0.0 : many_s_) + seconds;
      if (phase == 2 * kProbeCalls - 1) {
        use_many_ = many_s_ < one_s_;
        recent_s_ = many_s_ / kProbeCalls;
      }
    } else if (phase >= 2 * kProbeCalls && use_many_) {
      // Other jobs may start after the probe: fall back to one thread as soon as the threaded
      // calls get slower than the probe's single-thread ones.
      recent_s_ = 0.75 * recent_s_ + 0.25 * seconds;
      if (recent_s_ > 1.25 * one_s_ / kProbeCalls) use_many_ = false;
    }
    ++calls_;
  }

 private:
  long long calls_ = 0;
  double one_s_ = 0, many_s_ = 0, recent_s_ = 0;
  bool use_many_ = true;
};

// grad[num_params] = the sum over samples [0, n) of their weighted gradients:
// sample(s, row, thread) adds sample s's into row (in sample order within a chunk of kChunk
// samples); the chunks' rows are then summed in chunk order, so the result does not depend on the
// thread count. staging grows to chunks * num_params.
template <class Sample>
void chunked_gradient(int n, int num_params, int threads, std::vector<float>& staging, float* grad,
                      const Sample& sample) {
  const int chunks = (n + kChunk - 1) / kChunk;
  staging.resize(static_cast<std::size_t>(chunks) * num_params);
  float* rows = staging.data();
  // One parallel region: chunks, then (after the implicit barrier) partial sums in chunk order.
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int thread = omp_get_thread_num();
#pragma omp for schedule(static)
    for (int ch = 0; ch < chunks; ++ch) {
      float* g = rows + static_cast<std::size_t>(ch) * num_params;
      std::fill(g, g + num_params, 0.0f);
      const int end = std::min(n, (ch + 1) * kChunk);
      for (int s = ch * kChunk; s < end; ++s) sample(s, g, thread);
    }
#pragma omp for schedule(static)
    for (int i = 0; i < num_params; ++i) {
      float sum = 0.0f;
      for (int ch = 0; ch < chunks; ++ch)
        sum += rows[static_cast<std::size_t>(ch) * num_params + i];
      grad[i] = sum;
    }
  }
}

// rows[(ch - c0) * num_params ...] = chunk ch's partial sum for ch in [c0, c1), each computed as
// chunked_gradient computes it (zeroed, then its samples added in sample order).
template <class Sample>
void chunk_rows(int n, int c0, int c1, int num_params, int threads, float* rows,
                const Sample& sample) {
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int thread = omp_get_thread_num();
#pragma omp for schedule(static)
    for (int ch = c0; ch < c1; ++ch) {
      float* g = rows + static_cast<std::size_t>(ch - c0) * num_params;
      std::fill(g, g + num_params, 0.0f);
      const int end = std::min(n, (ch + 1) * kChunk);
      for (int s = ch * kChunk; s < end; ++s) sample(s, g, thread);
    }
  }
}

}  // namespace cpu_detail

template <class Model>
class CpuPpoKernels final : public PpoKernels {
 public:
  using PolicyT = TransposedMlp<typename Model::PolicyNet>;
  using ValueT = TransposedMlp<typename Model::Value>;

  CpuPpoKernels()
      : shape_(ppo_shape<Model>()),
        params_(Model::kNumParams, 0.0f),
        policy_t_(Model::PolicyNet::kNumParams, 0.0f),
        value_t_(Model::kValueParams, 0.0f) {}

  const PpoShape& shape() const override { return shape_; }
  const char* backend_name() const override { return "cpu"; }

  void set_params(const float* params) override {
    std::copy(params, params + Model::kNumParams, params_.begin());
    PolicyT::transpose(params, policy_t_.data());
    ValueT::transpose(params + Model::kPolicyParams, value_t_.data());
  }

  void act(int n, const float* obs, PhiloxKey key, uint32_t step, bool deterministic, float* action,
           float* log_prob, float* value) override {
    const float* p = params_.data();
    const TransposedPpoForward<Model> fwd{policy_t_.data(), value_t_.data()};
#pragma omp parallel for schedule(static) if (n >= cpu_detail::kMinParallelActs)
    for (int i = 0; i < n; ++i) {
      RandomStream rng(key, 0u, first_instance_ + static_cast<uint32_t>(i), step);
      Model::act(p, obs + static_cast<std::size_t>(i) * Model::kObsDim, rng, deterministic,
                 action + static_cast<std::size_t>(i) * Model::kActionDim,
                 log_prob != nullptr ? log_prob + i : nullptr,
                 value != nullptr ? value + i : nullptr, fwd);
    }
  }

  void values(int n, const float* obs, float* value) override {
    const float* p = params_.data();
    const TransposedPpoForward<Model> fwd{policy_t_.data(), value_t_.data()};
#pragma omp parallel for schedule(static) if (n >= cpu_detail::kMinParallelActs)
    for (int i = 0; i < n; ++i) {
      value[i] = Model::value_of(p, obs + static_cast<std::size_t>(i) * Model::kObsDim, fwd);
    }
  }

  void loss_grad(const PpoMinibatch& mb, const PpoCoefs<float>& coefs, float* grad,
                 PpoSampleTerms<float>* terms) override {
    const float* p = params_.data();
    const TransposedPpoForward<Model> fwd{policy_t_.data(), value_t_.data()};
    const int threads = threads_.next();
    const auto t0 = std::chrono::steady_clock::now();
    cpu_detail::chunked_gradient(
        mb.n, Model::kNumParams, threads, staging_, grad, [&](int s, float* g, int) {
          terms[s] = Model::accumulate_sample_grad(
              p, mb.obs + static_cast<std::size_t>(s) * Model::kObsDim,
              mb.action + static_cast<std::size_t>(s) * Model::kActionDim, mb.old_log_prob[s],
              mb.advantage[s], mb.ret[s], coefs, g, fwd);
        });
    threads_.record(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  int loss_grad_chunks(const PpoMinibatch& mb, const PpoCoefs<float>& coefs, int c0, int c1,
                       float* rows, PpoSampleTerms<float>* terms) override {
    const float* p = params_.data();
    const TransposedPpoForward<Model> fwd{policy_t_.data(), value_t_.data()};
    cpu_detail::chunk_rows(mb.n, c0, c1, Model::kNumParams, threads_.next(), rows,
                           [&](int s, float* g, int) {
                             terms[s] = Model::accumulate_sample_grad(
                                 p, mb.obs + static_cast<std::size_t>(s) * Model::kObsDim,
                                 mb.action + static_cast<std::size_t>(s) * Model::kActionDim,
                                 mb.old_log_prob[s], mb.advantage[s], mb.ret[s], coefs, g, fwd);
                           });
    return c1 - c0;
  }

 private:
  PpoShape shape_;
  std::vector<float> params_;
  std::vector<float> policy_t_, value_t_;  // transposed weights for the forward passes
  std::vector<float> staging_;
  cpu_detail::ThreadChooser threads_;
};

template <class Model>
std::unique_ptr<PpoKernels> new_cpu_ppo_kernels() {
  return std::make_unique<CpuPpoKernels<Model>>();
}

// The generic model (kernels/rl/ppo_generic.hpp) on the CPU: the same parallel structure and
// reduction order as CpuPpoKernels, each thread with its own scratch row.
template <class G>
class CpuGenericPpoKernels final : public PpoKernels {
 public:
  explicit CpuGenericPpoKernels(const G& g)
      : g_(g),
        shape_(generic_ppo_shape(g)),
        params_(static_cast<std::size_t>(g.num_params()), 0.0f),
        policy_t_(static_cast<std::size_t>(g.pi.num_params()), 0.0f),
        value_t_(static_cast<std::size_t>(g.value_params), 0.0f),
        scratch_(static_cast<std::size_t>(omp_get_max_threads()) * g.scratch_size()) {}

  const PpoShape& shape() const override { return shape_; }
  const char* backend_name() const override { return "cpu"; }

  void set_params(const float* params) override {
    std::copy(params, params + g_.num_params(), params_.begin());
    TransposedDynamicMlp<typename G::Activation>::transpose(g_.pi, params, policy_t_.data());
    TransposedDynamicMlp<typename G::Activation>::transpose(g_.v, params + g_.policy_params,
                                                            value_t_.data());
  }

  void act(int n, const float* obs, PhiloxKey key, uint32_t step, bool deterministic, float* action,
           float* log_prob, float* value) override {
    const auto fwd = forward();
#pragma omp parallel for schedule(static) if (n >= cpu_detail::kMinParallelActs)
    for (int i = 0; i < n; ++i) {
      RandomStream rng(key, 0u, first_instance_ + static_cast<uint32_t>(i), step);
      g_.act(params_.data(), obs + static_cast<std::size_t>(i) * G::kObsDim, rng, deterministic,
             action + static_cast<std::size_t>(i) * G::kActionDim,
             log_prob != nullptr ? log_prob + i : nullptr, value != nullptr ? value + i : nullptr,
             scratch_row(omp_get_thread_num()), fwd);
    }
  }

  void values(int n, const float* obs, float* value) override {
    const auto fwd = forward();
#pragma omp parallel for schedule(static) if (n >= cpu_detail::kMinParallelActs)
    for (int i = 0; i < n; ++i) {
      value[i] = g_.value_of(params_.data(), obs + static_cast<std::size_t>(i) * G::kObsDim,
                             scratch_row(omp_get_thread_num()), fwd);
    }
  }

  void loss_grad(const PpoMinibatch& mb, const PpoCoefs<float>& coefs, float* grad,
                 PpoSampleTerms<float>* terms) override {
    const float* p = params_.data();
    const auto fwd = forward();
    const int threads = threads_.next();
    const auto t0 = std::chrono::steady_clock::now();
    cpu_detail::chunked_gradient(
        mb.n, g_.num_params(), threads, staging_, grad, [&](int s, float* g, int thread) {
          terms[s] = g_.accumulate_sample_grad(
              p, mb.obs + static_cast<std::size_t>(s) * G::kObsDim,
              mb.action + static_cast<std::size_t>(s) * G::kActionDim, mb.old_log_prob[s],
              mb.advantage[s], mb.ret[s], coefs, g, scratch_row(thread), fwd);
        });
    threads_.record(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  int loss_grad_chunks(const PpoMinibatch& mb, const PpoCoefs<float>& coefs, int c0, int c1,
                       float* rows, PpoSampleTerms<float>* terms) override {
    const float* p = params_.data();
    const auto fwd = forward();
    cpu_detail::chunk_rows(
        mb.n, c0, c1, g_.num_params(), threads_.next(), rows, [&](int s, float* g, int thread) {
          terms[s] = g_.accumulate_sample_grad(
              p, mb.obs + static_cast<std::size_t>(s) * G::kObsDim,
              mb.action + static_cast<std::size_t>(s) * G::kActionDim, mb.old_log_prob[s],
              mb.advantage[s], mb.ret[s], coefs, g, scratch_row(thread), fwd);
        });
    return c1 - c0;
  }

 private:
  float* scratch_row(int thread) {
    return scratch_.data() + static_cast<std::size_t>(thread) * g_.scratch_size();
  }
  TransposedGenericPpoForward<G> forward() const {
    return {&g_, policy_t_.data(), value_t_.data()};
  }

  G g_;
  PpoShape shape_;
  std::vector<float> params_;
  std::vector<float> policy_t_, value_t_;  // transposed weights for the forward passes
  std::vector<float> scratch_;             // one row per OpenMP thread
  std::vector<float> staging_;
  cpu_detail::ThreadChooser threads_;
};

template <bool kDisc, int kObs, int kOut>
std::unique_ptr<PpoKernels> new_cpu_generic_ppo_kernels(const std::vector<int>& hidden, bool relu) {
  if (relu) {
    using G = GenericPpo<kDisc, kObs, kOut, Relu>;
    return std::make_unique<CpuGenericPpoKernels<G>>(G::make(hidden));
  }
  using G = GenericPpo<kDisc, kObs, kOut, Tanh>;
  return std::make_unique<CpuGenericPpoKernels<G>>(G::make(hidden));
}

}  // namespace metasim::rl
