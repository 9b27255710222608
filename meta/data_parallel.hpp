// Data parallelism for the supervised meta-batch: a MetaEngine that runs this rank's share of
// every batch and combines the ranks' results in a fixed order (see data_parallel.cpp).
#pragma once

#include <memory>

#include <metasim/host/communicator.hpp>
#include <metasim/meta/engine.hpp>

namespace metasim::meta {

// Wraps `inner` so that run() splits each batch over comm's ranks and returns what one process
// running the whole batch would: the same losses and flags, and on the CPU the same meta-gradient
// bit for bit (the ranks hold whole summation groups, gathered and added in group order). On CUDA
// each rank's sum is one group, so the gradient agrees within the reduction's rounding.
// comm must outlive the engine.
std::unique_ptr<MetaEngine> make_data_parallel_engine(std::unique_ptr<MetaEngine> inner,
                                                      Communicator& comm);

// Tasks [begin, begin + count) of a num_tasks batch that `rank` of `size` runs: whole groups of
// sum_group_size(num_tasks) tasks, split as evenly as shard_of splits them.
Shard task_shard(int num_tasks, int rank, int size);

}  // namespace metasim::meta
