// process_communicator(): MPI's world (host buffers, fixed rank order) or a single rank.
// MPI's headers stay in this file, so that users of the library never see them.
#include <metasim/host/communicator.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <metasim/host/backend.hpp>
#include <metasim/kernels/core/error.hpp>

#if METASIM_HAS_MPI
#include <mpi.h>
#endif

namespace metasim {

namespace {

// acc[i] += rows[r * cols + i] for every row r, in order.
void add_rows(std::vector<float>& acc, const std::vector<float>& rows, std::size_t cols) {
  if (cols == 0 || rows.size() % cols != 0) {
    throw Error("ordered_sum: " + std::to_string(rows.size()) + " values are not rows of " +
                std::to_string(cols));
  }
  for (std::size_t r = 0; r < rows.size() / cols; ++r) {
    const float* row = rows.data() + r * cols;
    for (std::size_t i = 0; i < cols; ++i) acc[i] += row[i];
  }
}

class SingleRank final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::vector<double> all_gather(const std::vector<double>& mine) override { return mine; }
  std::vector<int64_t> all_gather(const std::vector<int64_t>& mine) override { return mine; }
  std::vector<float> ordered_sum(const std::vector<float>& rows, std::size_t cols) override {
    std::vector<float> acc(cols, 0.0f);
    add_rows(acc, rows, cols);
    return acc;
  }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
  std::string describe() const override { return "1 rank"; }
};

#if METASIM_HAS_MPI

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string("MPI: ") + what + " failed: " + std::string(text, len));
}

// Seconds a rank may wait in one collective before it decides that another rank has stopped or
// hangs (METASIM_MPI_TIMEOUT; 0 waits for ever). Rank 0 alone runs validation, evaluation and the
// checkpoint writes while the others wait for its next step, so the default is generous.
int collective_timeout_s() {
  const char* text = std::getenv("METASIM_MPI_TIMEOUT");
  if (text == nullptr || *text == '\0') return 600;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (*end != '\0' || v < 0 || v > 86400 * 365) {
    throw InvalidArgument(
        "METASIM_MPI_TIMEOUT",
        "must be a whole number of seconds in [0, 31536000], got '" + std::string(text) + "'");
  }
  return static_cast<int>(v);
}

class MpiWorld final : public Communicator {
  static constexpr int kOrderedSumTag = 17;

 public:
  MpiWorld() : timeout_s_(collective_timeout_s()) {
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // Errors come back as return codes, so that they become exceptions naming the call; the run
    // then ends every rank through abort().
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node = MPI_COMM_NULL;
    check_mpi(
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_free(&node);
    if (size_ > 1) use_device_of_local_rank(local_rank_);
    if (size_ > 1 && timeout_s_ > 0) watchdog_ = std::thread([this] { watch(); });
  }
  ~MpiWorld() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::vector<double> all_gather(const std::vector<double>& mine) override {
    return gather<double>(mine, MPI_DOUBLE);
  }
  std::vector<int64_t> all_gather(const std::vector<int64_t>& mine) override {
    return gather<int64_t>(mine, MPI_INT64_T);
  }
  std::vector<float> ordered_sum(const std::vector<float>& rows, std::size_t cols) override {
    if (cols > static_cast<std::size_t>(INT32_MAX)) throw Error("ordered_sum: rows too long");
    const int n = static_cast<int>(cols);
    std::vector<float> acc(cols, 0.0f);
    {
      const Waiting w(*this, "MPI_Recv");
      if (rank_ > 0) {
        check_mpi(MPI_Recv(acc.data(), n, MPI_FLOAT, rank_ - 1, kOrderedSumTag, MPI_COMM_WORLD,
                           MPI_STATUS_IGNORE),
                  "MPI_Recv");
      }
    }
    add_rows(acc, rows, cols);
    if (rank_ + 1 < size_) {
      const Waiting w(*this, "MPI_Send");
      check_mpi(MPI_Send(acc.data(), n, MPI_FLOAT, rank_ + 1, kOrderedSumTag, MPI_COMM_WORLD),
                "MPI_Send");
    }
    const Waiting w(*this, "MPI_Bcast");
    check_mpi(MPI_Bcast(acc.data(), n, MPI_FLOAT, size_ - 1, MPI_COMM_WORLD), "MPI_Bcast");
    return acc;
  }

  void barrier() override {
    const Waiting w(*this, "MPI_Barrier");
    check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest.
  }
  std::string describe() const override { return "MPI, " + std::to_string(size_) + " ranks"; }

 private:
  template <typename V>
  std::vector<V> gather(const std::vector<V>& mine, MPI_Datatype type) {
    if (mine.size() > static_cast<std::size_t>(INT32_MAX)) {
      throw Error("MPI all-gather of more than 2^31 values from one rank");
    }
    const Waiting w(*this, "MPI_Allgatherv");
    const int n = static_cast<int>(mine.size());
    std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(counts.size());
    check_mpi(MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD),
              "MPI_Allgather");
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      if (total > INT32_MAX) throw Error("MPI all-gather of more than 2^31 values");
      offsets[r] = static_cast<int>(total);
      total += counts[r];
    }
    if (total > INT32_MAX) throw Error("MPI all-gather of more than 2^31 values");
    std::vector<V> all(static_cast<std::size_t>(total));
    check_mpi(MPI_Allgatherv(mine.data(), n, type, all.data(), counts.data(), offsets.data(), type,
                             MPI_COMM_WORLD),
              "MPI_Allgatherv");
    return all;
  }

  // Marks the time a collective began, for the watchdog.
  struct Waiting {
    Waiting(MpiWorld& w, const char* what) : world(w) {
      world.what_.store(what);
      world.since_ns_.store(now_ns());
    }
    ~Waiting() { world.since_ns_.store(0); }
    MpiWorld& world;
  };

  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // A rank whose peer died is ended by the launcher; one whose peer hangs (stopped, deadlocked,
  // a lost node) would wait for ever. The watchdog ends this process when a collective has
  // waited timeout_s_ seconds, and the launcher then ends the others; the last checkpoint, written
  // atomically, stays valid. MPI may not be called from this thread (MPI_THREAD_FUNNELED).
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; })) {
      const int64_t since = since_ns_.load();
      if (since == 0 || now_ns() - since < int64_t{timeout_s_} * 1000000000) continue;
      std::fprintf(stderr,
                   "metasim (rank %d of %d): error: %s has waited %d s for the other ranks "
                   "(METASIM_MPI_TIMEOUT): a rank has stopped or hangs; ending this rank, and "
                   "the launcher ends the others (the last checkpoint is kept)\n",
                   rank_, size_, what_.load(), timeout_s_);
      std::fflush(stderr);
      std::_Exit(3);
    }
  }

  int rank_ = 0, size_ = 1, local_rank_ = 0;
  int timeout_s_ = 0;
  std::atomic<int64_t> since_ns_{0};
  std::atomic<const char*> what_{""};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread watchdog_;
};

// Variables that mpirun/mpiexec (Open MPI, MPICH, Intel MPI) or Slurm's srun with PMI/PMIx set
// in the processes they start.
bool started_by_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

#endif  // METASIM_HAS_MPI

bool use_mpi() {
  const char* forced = std::getenv("METASIM_MPI");
  if (forced != nullptr && std::strcmp(forced, "0") == 0) return false;
#if METASIM_HAS_MPI
  return (forced != nullptr && std::strcmp(forced, "1") == 0) || started_by_launcher();
#else
  if (forced != nullptr && std::strcmp(forced, "1") == 0) {
    throw Error(
        "METASIM_MPI=1, but this build of metasim has no MPI (configure with "
        "METASIM_ENABLE_MPI=ON and an MPI library installed)");
  }
  return false;
#endif
}

std::once_flag g_once;
std::unique_ptr<Communicator> g_world;  // the process's ranks; made once, finalised at exit

}  // namespace

bool mpi_built() { return METASIM_HAS_MPI != 0; }

std::string mpi_library_version() {
#if METASIM_HAS_MPI
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) return "MPI";
  std::string v(text, static_cast<std::size_t>(len));
  const std::size_t end = v.find_first_of(",\n");
  return end == std::string::npos ? v : v.substr(0, end);
#else
  return "";
#endif
}

Communicator& process_communicator() {
  std::call_once(g_once, [] {
#if METASIM_HAS_MPI
    if (use_mpi()) {
      g_world = std::make_unique<MpiWorld>();
      return;
    }
#else
    (void)use_mpi();
#endif
    g_world = std::make_unique<SingleRank>();
  });
  return *g_world;
}

Communicator* started_communicator() { return g_world.get(); }

Shard shard_of(int64_t count, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size || count < 0) {
    throw Error("shard_of: rank " + std::to_string(rank) + " of " + std::to_string(size));
  }
  const int64_t base = count / size, extra = count % size;
  Shard s;
  s.begin = rank * base + (rank < extra ? rank : extra);
  s.count = base + (rank < extra ? 1 : 0);
  return s;
}

}  // namespace metasim
