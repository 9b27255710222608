// The ranks of a data-parallel run: MPI when the process was started by mpirun or srun (and
// metasim was built with MPI), otherwise one rank. Trainers split their work over the ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace metasim {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The rank's index among the ranks on its node (one GPU per local rank).
  virtual int local_rank() const = 0;
  // Every rank's values, concatenated in rank order, on every rank (the counts may differ).
  virtual std::vector<double> all_gather(const std::vector<double>& mine) = 0;
  virtual std::vector<int64_t> all_gather(const std::vector<int64_t>& mine) = 0;
  // On every rank: the element-wise sum of all ranks' rows ([k][cols] each, k may differ and be 0),
  // added in float from zero, rank after rank and row after row: ((0 + row_0) + row_1) + ...,
  // exactly the additions one process makes over all the rows. The running sum travels along the
  // ranks (one row per rank is sent, not every row), then the last rank's result is broadcast.
  virtual std::vector<float> ordered_sum(const std::vector<float>& rows, std::size_t cols) = 0;
  virtual void barrier() = 0;
  // Ends the processes of every rank with `code` (MPI_Abort), so that no rank is left waiting in
  // a collective for one that failed.
  [[noreturn]] virtual void abort(int code) = 0;
  // "1 rank" or "MPI, 3 ranks".
  virtual std::string describe() const = 0;
};

// Whether this build can run over MPI ranks, and the MPI library's own description of itself
// ("" when not built).
bool mpi_built();
std::string mpi_library_version();

// The process's communicator, made on the first call: MPI's world when a launcher (mpirun,
// mpiexec, srun) started the process, one rank otherwise. METASIM_MPI=0 forces one rank, and
// METASIM_MPI=1 MPI even without a launcher's variables. MPI is finalised at exit. Under MPI each
// rank makes GPU local_rank % (GPUs on the node) its CUDA device.

Communicator& process_communicator();
// The communicator if process_communicator() has made one, else null (error paths use it
// without starting MPI).
Communicator* started_communicator();

// A contiguous share of `count` items: ranks below count % size hold one more.
struct Shard {
  int64_t begin = 0;
  int64_t count = 0;
};
Shard shard_of(int64_t count, int rank, int size);

}  // namespace metasim
