// VectorEnv: a batch of environment instances stepped together on the CPU or CUDA backend.
// Each instance has its own task parameters; auto-reset and episode statistics are built in.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <metasim/host/backend.hpp>
#include <metasim/host/env_registry.hpp>

namespace metasim {

// Where a caller's buffer lives.
enum class MemorySpace { kHost, kDevice };

struct EpisodeStats {
  int64_t episodes = 0;      // finished episodes, all instances
  double mean_return = 0.0;  // over finished episodes
  double mean_length = 0.0;
  double min_last_return = 0.0;  // over instances that finished at least one episode
  double max_last_return = 0.0;
};

// Everything that decides a batch's future: the seed and step counter that address its random
// numbers, and every per-instance array (states, task parameters, current observations, time-limit
// counters, episode statistics) in the backend's layout. The values are held as doubles, which
// represent every float, int32 and uint8 exactly, so a snapshot fits a Checkpoint's arrays.
struct EnvSnapshot {
  std::string env;  // the env's registered name
  uint64_t seed = 0;
  uint32_t steps_taken = 0;
  std::map<std::string, std::vector<double>> arrays;
};

// Usage:
//   VectorEnv<float> env("CartPole-v1", 4096, Backend::kCuda);
//   env.reset(/*seed=*/1);
//   env.step(actions);           // host or device int32 actions, one per instance
//   auto obs = env.obs();        // host copy, [num_envs][obs_dim]
// After an instance's episode ends it is reset within the same step (Gymnasium's "same-step"
// autoreset): obs() holds the new episode's first observation, final_obs() the old one's last.
template <typename Real>
class VectorEnv {
 public:
  // first_instance: the random-number address of instance 0. A share of a larger batch (a
  // rank's envs under mpirun) passes its first instance's index in the whole batch, so that its
  // instances draw what they draw in the whole batch.
  VectorEnv(std::string_view env_name, int64_t num_envs, Backend backend = Backend::kCpu,
            int64_t first_instance = 0);
  ~VectorEnv();
  VectorEnv(VectorEnv&&) noexcept;
  VectorEnv& operator=(VectorEnv&&) noexcept;
  VectorEnv(const VectorEnv&) = delete;
  VectorEnv& operator=(const VectorEnv&) = delete;

  const EnvSpec& spec() const;
  int64_t num_envs() const;
  int64_t first_instance() const;
  Backend backend() const;
  // Steps taken since the last reset(); part of every random-number address.
  uint32_t steps_taken() const;

  // Starts a new episode in every instance; instance i's start state depends only on (seed, i).
  void reset(uint64_t seed);
  // Discrete envs: one action in [0, num_actions) per instance.
  void step(std::span<const int32_t> actions, MemorySpace where = MemorySpace::kHost);
  // Continuous envs: num_envs * action_dim values, row-major; the env clips them to its Box where
  // it should, as Gymnasium's envs do.
  void step(std::span<const Real> actions, MemorySpace where = MemorySpace::kHost);
  // `steps` steps (>= 1) of uniformly random actions drawn on the backend from the (seed,
  // instance, step) stream, in one pass over the batch: each block of instances runs every step
  // while it is in cache (one thread per instance on CUDA). Bit-identical to `steps` calls with 1.
  // Observations, rewards and flags are then those of the last step; episode statistics count
  // every step.
  void step_random(uint32_t steps = 1);

  // Views in backend memory (device pointers on CUDA): valid until the next call.
  const Real* obs_data() const;
  const Real* final_obs_data() const;
  const Real* reward_data() const;
  const uint8_t* terminated_data() const;
  const uint8_t* truncated_data() const;

  // Host copies.
  std::vector<Real> obs() const;        // [num_envs][obs_dim]
  std::vector<Real> final_obs() const;  // [num_envs][obs_dim], meaningful where an episode ended
  std::vector<Real> rewards() const;
  std::vector<uint8_t> terminated() const;
  std::vector<uint8_t> truncated() const;

  // Per-instance state and task parameters, host memory, row-major [num_envs][dim] in the order
  // of spec().state_names / spec().param_names. set_states starts a new episode in every instance.
  void set_states(std::span<const Real> states);
  std::vector<Real> states() const;
  void set_params(std::span<const Real> params);
  std::vector<Real> params() const;

  // restore(snapshot()) continues every episode bit for bit as if nothing had happened, on
  // either backend; a snapshot of another env or batch size is refused with an error naming the
  // array that does not fit.
  EnvSnapshot snapshot() const;
  void restore(const EnvSnapshot& snapshot);
  // The snapshot of consecutive shares of one batch (in instance order, counts[k] instances
  // each) as one snapshot of the whole batch, and instances [begin, begin + count) of a snapshot
  // of num_envs instances as a snapshot of their own: a checkpoint holds the whole batch whatever
  // the number of ranks that stepped it.
  static EnvSnapshot join_snapshots(const std::vector<EnvSnapshot>& parts,
                                    const std::vector<int64_t>& counts);
  static EnvSnapshot slice_snapshot(const EnvSnapshot& whole, int64_t num_envs, int64_t begin,
                                    int64_t count);

  EpisodeStats episode_stats() const;
  // Waits for all queued work of this env's backend.
  void synchronize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

extern template class VectorEnv<float>;
extern template class VectorEnv<double>;

}  // namespace metasim
