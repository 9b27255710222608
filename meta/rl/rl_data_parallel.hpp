// Data parallelism for meta-RL: an RlEngine that samples and adapts this rank's share of the
// meta-batch's tasks and gathers the per-task results, so that every mean is the one-process mean.
#pragma once

#include <memory>

#include <metasim/host/communicator.hpp>
#include <metasim/meta/rl/rl_engine.hpp>

namespace metasim::rl {

// Wraps `inner`: configure(shape) keeps this rank's contiguous share of shape.num_tasks tasks
// (shard_of), sample_and_adapt addresses them by their global task index, and every result is
// gathered in task order before it is reduced the way one process reduces it (task_mean for
// gradients and Hessian-vector products, task order for the line search), so N ranks give the
// same bits as one on either backend. comm must outlive the engine.
std::unique_ptr<RlEngine> make_data_parallel_rl_engine(std::unique_ptr<RlEngine> inner,
                                                       Communicator& comm);

}  // namespace metasim::rl
