// Every built-in environment, and one X-macro that lists them for dispatch and instantiation.
// Adding an environment: include its header here and add one line to METASIM_FOR_EACH_ENV.
#pragma once

#include <metasim/envs/acrobot.hpp>
#include <metasim/envs/cartpole.hpp>
#include <metasim/envs/mountain_car.hpp>
#include <metasim/envs/mountain_car_continuous.hpp>
#include <metasim/envs/pendulum.hpp>
#include <metasim/envs/point_nav.hpp>

// X(Id, Template): Id is the EnvId enumerator, Template the env's class template.
#define METASIM_FOR_EACH_ENV(X)                                     \
  X(kCartPole, ::metasim::envs::CartPole)                           \
  X(kPendulum, ::metasim::envs::Pendulum)                           \
  X(kMountainCar, ::metasim::envs::MountainCar)                     \
  X(kMountainCarContinuous, ::metasim::envs::MountainCarContinuous) \
  X(kAcrobot, ::metasim::envs::Acrobot)                             \
  X(kPointNav, ::metasim::envs::PointNav)
