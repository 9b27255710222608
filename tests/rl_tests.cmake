# Meta-RL tests (included from tests/CMakeLists.txt): estimators and baseline against plain
# references, exact meta-gradient and TRPO products against finite differences and dense solves,
# training, configs, checkpoints, and CPU vs CUDA rollouts.
list(APPEND METASIM_TEST_SOURCES
  rl_estimators_test.cpp
  rl_meta_gradient_test.cpp
  rl_sampler_test.cpp
  rl_trainer_test.cpp
  rl_cuda_parity_test.cpp)
