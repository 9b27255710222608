// metasim's host API in one include: backends, batched environments and their registry, rollouts,
// replays, checkpoints, the three trainers and the registration of users' envs and task families.
// Kernels and launch templates have their own headers.
#pragma once

#include <metasim/host/backend.hpp>
#include <metasim/host/checkpoint.hpp>
#include <metasim/host/env_registry.hpp>
#include <metasim/host/register_env.hpp>
#include <metasim/host/replay.hpp>
#include <metasim/host/rollout.hpp>
#include <metasim/host/vector_env.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/common/run_loop.hpp>
#include <metasim/meta/ppo/ppo.hpp>
#include <metasim/meta/register_task_family.hpp>
#include <metasim/meta/rl/meta_rl.hpp>
#include <metasim/meta/trainer.hpp>
