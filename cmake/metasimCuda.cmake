# metasim_enable_cuda(): for a project that compiles its own .cu files against metasim (a user's
# env's CUDA launchers): enables CUDA with C++20 and, unless the project chose, metasim's default
# architecture (METASIM_CUDA_ARCHITECTURES). metasim's own build uses it too. A macro, so the settings land in the caller's directory scope.
macro(metasim_enable_cuda)
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "metasim_enable_cuda: no CUDA compiler (nvcc) found; put it on PATH or set "
                        "CMAKE_CUDA_COMPILER")
  endif()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND METASIM_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES ${METASIM_CUDA_ARCHITECTURES})
  endif()
  enable_language(CUDA)
  # CMake 3.25 predates nvcc's C++20 support: tell it the flag.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
endmacro()
