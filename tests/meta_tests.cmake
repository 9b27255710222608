# Meta-learning tests (included from tests/CMakeLists.txt): gradients vs finite differences, fused
# vs reference, task families, training/config/checkpoints, CLI, and CPU vs CUDA parity.
list(APPEND METASIM_TEST_SOURCES
  meta_gradient_test.cpp
  meta_reference_test.cpp
  meta_task_family_test.cpp
  meta_trainer_test.cpp
  meta_cli_test.cpp
  meta_cuda_parity_test.cpp
  serial_lanes_test.cpp)
