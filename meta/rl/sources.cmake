# Meta-RL sources of the metasim library (included from the top-level CMakeLists.txt): the fused
# stages live in kernels/{cpu,cuda}/rl_launch_*, the host side (engine, config, TRPO, trainer) here.
list(APPEND METASIM_SOURCES
  meta/rl/rl_config.cpp
  meta/rl/rl_engine.cpp
  meta/rl/trpo.cpp
  meta/rl/meta_rl.cpp
  kernels/cpu/rl_launch_cpu.cpp)
if(METASIM_ENABLE_CUDA)
  list(APPEND METASIM_SOURCES kernels/cuda/rl_launch_cuda.cu)
endif()
