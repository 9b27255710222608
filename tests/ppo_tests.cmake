# PPO tests (included from tests/CMakeLists.txt): loss gradients vs finite differences, config
# errors, training improvement, non-finite handling, determinism, commands and the CLI, CUDA parity.
list(APPEND METASIM_TEST_SOURCES
  ppo_gradient_test.cpp
  ppo_trainer_test.cpp
  ppo_cli_test.cpp
  ppo_cuda_test.cpp)
