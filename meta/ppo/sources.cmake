# PPO sources of the metasim library (included from the top-level CMakeLists.txt): the batched
# launches in kernels/{cpu,cuda}/ppo_launch_*, the trainer and commands here.
list(APPEND METASIM_SOURCES
  meta/ppo/ppo_config.cpp
  meta/ppo/ppo_trainer.cpp
  meta/ppo/ppo.cpp
  kernels/cpu/ppo_launch_cpu.cpp)
if(METASIM_ENABLE_CUDA)
  list(APPEND METASIM_SOURCES kernels/cuda/ppo_launch_cuda.cu)
endif()
