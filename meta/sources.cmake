# Meta-learning sources of the metasim library (included from the top-level CMakeLists.txt).
# The fused kernels live in kernels/{cpu,cuda}/meta_launch_*; the host side (engine, Trainer) here.
list(APPEND METASIM_SOURCES
  meta/algorithm.cpp
  meta/config.cpp
  meta/optimizer.cpp
  meta/engine.cpp
  meta/trainer.cpp
  host/checkpoint.cpp
  kernels/cpu/meta_launch_cpu.cpp)
if(METASIM_ENABLE_CUDA)
  list(APPEND METASIM_SOURCES kernels/cuda/meta_launch_cuda.cu)
endif()
