// CUDA backend of PPO's launches, as templates over the model: one thread per env instance
// (acting, values) and per minibatch sample (gradients), over the same HD code as the CPU backend
// (kernels/rl/ppo.hpp). The per-sample gradients are summed per parameter in sample order, so
// results are reproducible. Compiled for the built-in envs in ppo_launch_cuda.cu and for a user's
// env in the .cu file that calls register_ppo_cuda<Env>() (kernels/rl/register_ppo.cuh).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <vector>

#include <metasim/kernels/core/cuda_check.hpp>
#include <metasim/kernels/core/device_buffer.hpp>
#include <metasim/kernels/rl/ppo_launch.hpp>

namespace metasim::rl {

namespace cuda_detail {

inline constexpr int kThreads = 128;

inline unsigned grid_for(long long n) {
  return static_cast<unsigned>((n + kThreads - 1) / kThreads);
}

template <class Model>
__global__ void act_kernel(const float* params, int n, const float* obs, PhiloxKey key,
                           uint32_t step, uint32_t first, bool deterministic, float* action,
                           float* log_prob, float* value) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  RandomStream rng(key, 0u, first + static_cast<uint32_t>(i), step);
  Model::act(params, obs + static_cast<std::size_t>(i) * Model::kObsDim, rng, deterministic,
             action + static_cast<std::size_t>(i) * Model::kActionDim, log_prob + i, value + i);
}

template <class Model>
__global__ void value_kernel(const float* params, int n, const float* obs, float* value) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) value[i] = Model::value_of(params, obs + static_cast<std::size_t>(i) * Model::kObsDim);
}

// Row s of sample_grads (zeroed before) receives sample s's weighted gradient.
template <class Model>
__global__ void sample_grad_kernel(const float* params, PpoMinibatch mb, PpoCoefs<float> coefs,
                                   float* sample_grads, PpoSampleTerms<float>* terms) {
  const int s = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (s >= mb.n) return;
  terms[s] =
      Model::accumulate_sample_grad(params, mb.obs + static_cast<std::size_t>(s) * Model::kObsDim,
                                    mb.action + static_cast<std::size_t>(s) * Model::kActionDim,
                                    mb.old_log_prob[s], mb.advantage[s], mb.ret[s], coefs,
                                    sample_grads + static_cast<std::size_t>(s) * Model::kNumParams);
}

// grad[i] = sum over samples of sample_grads[s][i], in sample order (coalesced across i).
template <typename T>
__global__ void reduce_rows_kernel(const T* sample_grads, int n, int cols, T* grad) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= cols) return;
  T s = T(0);
  for (int k = 0; k < n; ++k) s += sample_grads[static_cast<std::size_t>(k) * cols + i];
  grad[i] = s;
}

// The generic model's kernels (kernels/rl/ppo_generic.hpp): the model by value, and each thread's
// scratch row in global memory.
template <class G>
__global__ void generic_act_kernel(G g, const float* params, int n, const float* obs, PhiloxKey key,
                                   uint32_t step, uint32_t first, bool deterministic, float* action,
                                   float* log_prob, float* value, float* scratch) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  RandomStream rng(key, 0u, first + static_cast<uint32_t>(i), step);
  g.act(params, obs + static_cast<std::size_t>(i) * G::kObsDim, rng, deterministic,
        action + static_cast<std::size_t>(i) * G::kActionDim, log_prob + i, value + i,
        scratch + static_cast<std::size_t>(i) * g.scratch_size(), g.direct());
}

template <class G>
__global__ void generic_value_kernel(G g, const float* params, int n, const float* obs,
                                     float* value, float* scratch) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  value[i] = g.value_of(params, obs + static_cast<std::size_t>(i) * G::kObsDim,
                        scratch + static_cast<std::size_t>(i) * g.scratch_size(), g.direct());
}

template <class G>
__global__ void generic_sample_grad_kernel(G g, const float* params, PpoMinibatch mb,
                                           PpoCoefs<float> coefs, float* sample_grads,
                                           PpoSampleTerms<float>* terms, float* scratch) {
  const int s = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (s >= mb.n) return;
  terms[s] = g.accumulate_sample_grad(
      params, mb.obs + static_cast<std::size_t>(s) * G::kObsDim,
      mb.action + static_cast<std::size_t>(s) * G::kActionDim, mb.old_log_prob[s], mb.advantage[s],
      mb.ret[s], coefs, sample_grads + static_cast<std::size_t>(s) * g.num_params(),
      scratch + static_cast<std::size_t>(s) * g.scratch_size(), g.direct());
}

// A device array that only grows.
template <typename T>
void ensure(DeviceBuffer<T>& b, std::size_t n) {
  if (b.size() < n) b = DeviceBuffer<T>(n);
}

}  // namespace cuda_detail

// What CudaPpoKernels launches for a compiled model: its static kernels, no scratch.
template <class Model>
struct CompiledPpoLaunch {
  static constexpr int kObsDim = Model::kObsDim;
  static constexpr int kActionDim = Model::kActionDim;
  PpoShape shape() const { return ppo_shape<Model>(); }
  int num_params() const { return Model::kNumParams; }
  int scratch_size() const { return 0; }  // per instance or sample
  void act(unsigned grid, const float* params, int n, const float* obs, PhiloxKey key,
           uint32_t step, uint32_t first, bool deterministic, float* action, float* log_prob,
           float* value, float*) const {
    cuda_detail::act_kernel<Model><<<grid, cuda_detail::kThreads>>>(
        params, n, obs, key, step, first, deterministic, action, log_prob, value);
  }
  void values(unsigned grid, const float* params, int n, const float* obs, float* value,
              float*) const {
    cuda_detail::value_kernel<Model><<<grid, cuda_detail::kThreads>>>(params, n, obs, value);
  }
  void sample_grads(unsigned grid, const float* params, const PpoMinibatch& mb,
                    const PpoCoefs<float>& coefs, float* sample_grads, PpoSampleTerms<float>* terms,
                    float*) const {
    cuda_detail::sample_grad_kernel<Model>
        <<<grid, cuda_detail::kThreads>>>(params, mb, coefs, sample_grads, terms);
  }
};

// The same for the generic model (kernels/rl/ppo_generic.hpp): the model by value, and a scratch
// row per instance or sample in device memory.
template <class G>
struct GenericPpoLaunch {
  static constexpr int kObsDim = G::kObsDim;
  static constexpr int kActionDim = G::kActionDim;
  G g;
  PpoShape shape() const { return generic_ppo_shape(g); }
  int num_params() const { return g.num_params(); }
  int scratch_size() const { return g.scratch_size(); }
  void act(unsigned grid, const float* params, int n, const float* obs, PhiloxKey key,
           uint32_t step, uint32_t first, bool deterministic, float* action, float* log_prob,
           float* value, float* scratch) const {
    cuda_detail::generic_act_kernel<G><<<grid, cuda_detail::kThreads>>>(
        g, params, n, obs, key, step, first, deterministic, action, log_prob, value, scratch);
  }
  void values(unsigned grid, const float* params, int n, const float* obs, float* value,
              float* scratch) const {
    cuda_detail::generic_value_kernel<G>
        <<<grid, cuda_detail::kThreads>>>(g, params, n, obs, value, scratch);
  }
  void sample_grads(unsigned grid, const float* params, const PpoMinibatch& mb,
                    const PpoCoefs<float>& coefs, float* sample_grads, PpoSampleTerms<float>* terms,
                    float* scratch) const {
    cuda_detail::generic_sample_grad_kernel<G>
        <<<grid, cuda_detail::kThreads>>>(g, params, mb, coefs, sample_grads, terms, scratch);
  }
};

// PPO's launches on CUDA for either model (Launch: CompiledPpoLaunch or GenericPpoLaunch): the
// host arrays copied in, one kernel, the results copied back.
template <class Launch>
class CudaPpoKernels final : public PpoKernels {
 public:
  explicit CudaPpoKernels(const Launch& launch)
      : launch_(launch),
        shape_(launch.shape()),
        params_(static_cast<std::size_t>(launch.num_params())) {}

  const PpoShape& shape() const override { return shape_; }
  const char* backend_name() const override { return "cuda"; }

  void set_params(const float* params) override {
    params_.copy_from_host(params, static_cast<std::size_t>(launch_.num_params()));
  }

  void act(int n, const float* obs, PhiloxKey key, uint32_t step, bool deterministic, float* action,
           float* log_prob, float* value) override {
    if (n <= 0) return;
    const std::size_t nn = static_cast<std::size_t>(n);
    cuda_detail::ensure(obs_, nn * Launch::kObsDim);
    cuda_detail::ensure(action_, nn * Launch::kActionDim);
    cuda_detail::ensure(log_prob_, nn);
    cuda_detail::ensure(value_, nn);
    cuda_detail::ensure(scratch_, nn * launch_.scratch_size());
    obs_.copy_from_host(obs, nn * Launch::kObsDim);
    launch_.act(cuda_detail::grid_for(n), params_.data(), n, obs_.data(), key, step,
                this->first_instance_, deterministic, action_.data(), log_prob_.data(),
                value_.data(), scratch_.data());
    METASIM_CHECK_LAUNCH();
    action_.copy_to_host(action, nn * Launch::kActionDim);
    if (log_prob != nullptr) log_prob_.copy_to_host(log_prob, nn);
    if (value != nullptr) value_.copy_to_host(value, nn);
  }

  void values(int n, const float* obs, float* value) override {
    if (n <= 0) return;
    const std::size_t nn = static_cast<std::size_t>(n);
    cuda_detail::ensure(obs_, nn * Launch::kObsDim);
    cuda_detail::ensure(value_, nn);
    cuda_detail::ensure(scratch_, nn * launch_.scratch_size());
    obs_.copy_from_host(obs, nn * Launch::kObsDim);
    launch_.values(cuda_detail::grid_for(n), params_.data(), n, obs_.data(), value_.data(),
                   scratch_.data());
    METASIM_CHECK_LAUNCH();
    value_.copy_to_host(value, nn);
  }

  void loss_grad(const PpoMinibatch& mb, const PpoCoefs<float>& coefs, float* grad,
                 PpoSampleTerms<float>* terms) override {
    const int kP = launch_.num_params();
    const std::size_t n = static_cast<std::size_t>(mb.n);
    if (n == 0) return;
    cuda_detail::ensure(obs_, n * Launch::kObsDim);
    cuda_detail::ensure(action_, n * Launch::kActionDim);
    cuda_detail::ensure(log_prob_, n);
    cuda_detail::ensure(adv_, n);
    cuda_detail::ensure(ret_, n);
    cuda_detail::ensure(terms_, n);
    cuda_detail::ensure(sample_grads_, n * kP);
    cuda_detail::ensure(grad_, static_cast<std::size_t>(kP));
    cuda_detail::ensure(scratch_, n * launch_.scratch_size());
    obs_.copy_from_host(mb.obs, n * Launch::kObsDim);
    action_.copy_from_host(mb.action, n * Launch::kActionDim);
    log_prob_.copy_from_host(mb.old_log_prob, n);
    adv_.copy_from_host(mb.advantage, n);
    ret_.copy_from_host(mb.ret, n);
    detail::device_memset_zero(sample_grads_.data(), n * kP * sizeof(float));
    const PpoMinibatch d{mb.n,        obs_.data(), action_.data(), log_prob_.data(),
                         adv_.data(), ret_.data()};
    launch_.sample_grads(cuda_detail::grid_for(mb.n), params_.data(), d, coefs,
                         sample_grads_.data(), terms_.data(), scratch_.data());
    METASIM_CHECK_LAUNCH();
    cuda_detail::reduce_rows_kernel<float><<<cuda_detail::grid_for(kP), cuda_detail::kThreads>>>(
        sample_grads_.data(), mb.n, kP, grad_.data());
    METASIM_CHECK_LAUNCH();
    grad_.copy_to_host(grad, static_cast<std::size_t>(kP));
    terms_.copy_to_host(terms, n);
  }

 private:
  Launch launch_;
  PpoShape shape_;
  DeviceBuffer<float> params_;
  DeviceBuffer<float> obs_, action_, log_prob_, value_, adv_, ret_, sample_grads_, grad_, scratch_;
  DeviceBuffer<PpoSampleTerms<float>> terms_;
};

template <class Model>
std::unique_ptr<PpoKernels> new_cuda_ppo_kernels() {
  return std::make_unique<CudaPpoKernels<CompiledPpoLaunch<Model>>>(CompiledPpoLaunch<Model>{});
}

template <bool kDisc, int kObs, int kOut>
std::unique_ptr<PpoKernels> new_cuda_generic_ppo_kernels(const std::vector<int>& hidden,
                                                         bool relu) {
  if (relu) {
    using G = GenericPpo<kDisc, kObs, kOut, Relu>;
    return std::make_unique<CudaPpoKernels<GenericPpoLaunch<G>>>(
        GenericPpoLaunch<G>{G::make(hidden)});
  }
  using G = GenericPpo<kDisc, kObs, kOut, Tanh>;
  return std::make_unique<CudaPpoKernels<GenericPpoLaunch<G>>>(
      GenericPpoLaunch<G>{G::make(hidden)});
}

}  // namespace metasim::rl
