// Data parallelism over MPI ranks, run as a user runs it (mpirun -np N metasim train): N ranks
// give the parameters, optimiser state and metrics one process gives, bit for bit, for the
// supervised and meta-RL trainers, and a run resumed with another rank count continues the same.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <metasim/host/checkpoint.hpp>

#include "tensorboard_support.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using metasim::test_support::bit_equal;
using metasim::test_support::run_cli;

// One thread per rank: two or three ranks share the two cores of a CI machine. The results do
// not depend on it (the CPU backend is bit-identical for any thread count).
// Under the sanitizers (scripts/test-sanitized) the ranks run with AddressSanitizer and UBSan but
// without LeakSanitizer's exit check: its stop-the-world tracer crashes (SIGSEGV in the tracer,
// not a leak report) at the exit of Open MPI ranks, at the check's usual place and when it is run
// before MPI_Finalize alike. The trainers' code the ranks run is leak-checked in the one-process
// runs of the same tests and in the rest of the suite. Open MPI's own allocations are suppressed
// (tests/sanitizer) should the check be turned back on; elsewhere these variables do nothing.
// `wrapper` runs mpirun (e.g. "timeout 120 ").
std::string mpirun(int ranks, const std::string& wrapper = "") {
  return "LSAN_OPTIONS=suppressions=" + std::string(METASIM_SOURCE_DIR) +
         "/tests/sanitizer/openmpi-lsan.supp "
         "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0:detect_leaks=0 "
         "OMPI_MCA_mca_base_component_disable_dlclose=1 " +
         wrapper + "mpirun --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np " +
         std::to_string(ranks) + " ";
}

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
#if !METASIM_TEST_HAS_MPI
    GTEST_SKIP() << "metasim was built without MPI (METASIM_ENABLE_MPI=OFF): no ranks to test";
#endif
    dir_ = fs::temp_directory_path() /
           ("metasim_dp_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Trains `args` with `ranks` ranks (0: without mpirun) into dir_/name; returns the run dir.
  std::string train(const std::string& name, int ranks, const std::string& args) {
    const std::string out = (dir_ / name).string();
    const metasim::test_support::CliRun r =
        run_cli("train --quiet --out " + out + " " + args, ranks > 0 ? mpirun(ranks) : "");
    EXPECT_EQ(r.status, 0) << r.output;
    // The ranks formed one run (not N one-rank runs racing for the directory).
    std::ifstream f(fs::path(out) / "summary.json");
    const nlohmann::json summary = nlohmann::json::parse(f, nullptr, false);
    EXPECT_EQ(summary.value("ranks", 1), ranks > 0 ? ranks : 1) << out;
    return out;
  }

  fs::path dir_;
};

metasim::Checkpoint checkpoint_of(const std::string& run) {
  return metasim::load_checkpoint((fs::path(run) / "checkpoint").string());
}

// Every array of the two checkpoints has the same bits, and so has every metrics line but its
// clock fields.
void expect_same_run(const std::string& a, const std::string& b) {
  const metasim::Checkpoint ca = checkpoint_of(a), cb = checkpoint_of(b);
  ASSERT_EQ(ca.arrays.size(), cb.arrays.size());
  ASSERT_FALSE(ca.arrays.empty());
  for (const auto& [name, values] : ca.arrays) {
    ASSERT_TRUE(cb.arrays.count(name)) << name;
    EXPECT_TRUE(bit_equal(values, cb.arrays.at(name))) << name << ": " << a << " vs " << b;
  }
  // Counters, config and the metrics window's sums.
  EXPECT_EQ(ca.header, cb.header);
  std::ifstream fa(fs::path(a) / "metrics.jsonl"), fb(fs::path(b) / "metrics.jsonl");
  std::string la, lb;
  int lines = 0;
  while (std::getline(fa, la)) {
    ASSERT_TRUE(static_cast<bool>(std::getline(fb, lb))) << "fewer metrics lines in " << b;
    nlohmann::json ja = nlohmann::json::parse(la), jb = nlohmann::json::parse(lb);
    for (const char* clock : {"wall_s", "samples_per_s"}) {
      ja.erase(clock);
      jb.erase(clock);
    }
    EXPECT_EQ(ja, jb) << "metrics line " << lines;
    ++lines;
  }
  EXPECT_FALSE(static_cast<bool>(std::getline(fb, lb))) << "more metrics lines in " << b;
  EXPECT_GT(lines, 0);
}

// MAML (second order, two inner steps, float) at a meta-batch of 25 (groups of one task) and
// Meta-SGD at 200 in double (groups of three tasks, 67 groups: ranks hold 34/33 and 23/22/22).
TEST_F(DataParallel, Supervised_RanksGiveOneProcessBits) {
  const std::string maml =
      "--set algorithm=maml --set meta_batch=25 --set inner.steps=2 --set iterations=4 "
      "--set log_every=2 --set precision=float --set backend=cpu";
  const std::string one = train("maml1", 0, maml);
  expect_same_run(one, train("maml2", 2, maml));
  expect_same_run(one, train("maml3", 3, maml));
  const std::string metasgd =
      "--set algorithm=metasgd --set meta_batch=200 --set iterations=3 --set log_every=1 "
      "--set precision=double --set backend=cpu --set model.hidden=[16,16]";
  const std::string one_sgd = train("sgd1", 0, metasgd);
  expect_same_run(one_sgd, train("sgd2", 2, metasgd));
  expect_same_run(one_sgd, train("sgd3", 3, metasgd));
}

// MAML-TRPO (gradients, Hessian-vector products and the line search over gathered tasks) and
// first-order MAML-RL with Adam, on 2D navigation with the transitions budget.
TEST_F(DataParallel, MetaRl_RanksGiveOneProcessBits) {
  const std::string trpo =
      "--config " + std::string(METASIM_SOURCE_DIR) +
      "/configs/maml-rl-nav2d.json --set meta_batch=5 --set trajectories=4 --set horizon=20 "
      "--set iterations=2 --set validate.every=0 --set policy.hidden=[16,16]";
  const std::string one = train("trpo1", 0, trpo);
  expect_same_run(one, train("trpo2", 2, trpo));
  expect_same_run(one, train("trpo3", 3, trpo));
  const std::string fo = "--config " + std::string(METASIM_SOURCE_DIR) +
                         "/configs/fomaml-rl-nav2d.json --set meta_batch=4 --set trajectories=3 "
                         "--set horizon=16 --set iterations=2 --set validate.every=0";
  const std::string one_fo = train("fo1", 0, fo);
  expect_same_run(one_fo, train("fo3", 3, fo));
}

// PPO: the ranks step their shares of the envs (8 envs: 4/4 and 3/3/2), the rollout is gathered
// and every rank runs the same update; CartPole (discrete) and Pendulum (continuous, with the
// observation normaliser fed by every rank's observations). The checkpoints hold the whole batch
// of envs mid-episode, joined from the ranks' shares.
TEST_F(DataParallel, Ppo_RanksGiveOneProcessBits) {
  const std::string cartpole = "--config " + std::string(METASIM_SOURCE_DIR) +
                               "/configs/ppo-cartpole.json --set total_timesteps=768 "
                               "--set n_epochs=2 --set log_every=1 --set eval.episodes=2";
  const std::string one = train("cp1", 0, cartpole);
  expect_same_run(one, train("cp2", 2, cartpole));
  expect_same_run(one, train("cp3", 3, cartpole));
  const std::string pendulum = "--config " + std::string(METASIM_SOURCE_DIR) +
                               "/configs/ppo-pendulum.json --set n_envs=5 --set n_steps=16 "
                               "--set total_timesteps=160 --set n_epochs=2 --set batch_size=40 "
                               "--set normalize_obs=true --set log_every=1 --set eval.episodes=2";
  const std::string one_p = train("pd1", 0, pendulum);
  expect_same_run(one_p, train("pd2", 2, pendulum));
  expect_same_run(one_p, train("pd3", 3, pendulum));
}

// MAPPO on simple_spread: a rank steps whole instances (5 instances: 3/2 and 2/2/1, three agents
// each) and the gathered rollout holds the agents' rows in the one-process order; the checkpoint
// ends mid-episode (25-step episodes, 10-step rollouts).
TEST_F(DataParallel, Mappo_RanksGiveOneProcessBits) {
  const std::string mappo = "--config " + std::string(METASIM_SOURCE_DIR) +
                            "/configs/mappo-simple-spread.json --set n_envs=5 --set n_steps=10 "
                            "--set total_timesteps=150 --set n_epochs=2 --set batch_size=60 "
                            "--set normalize_obs=true --set log_every=1 --set eval.episodes=2";
  const std::string one = train("ma1", 0, mappo);
  // Rank 0 alone writes the TensorBoard events, which hold the run's metrics.
  const std::string tb = (dir_ / "ma2_tb").string();
  expect_same_run(one, train("ma2", 2, mappo + " --tensorboard " + tb));
  EXPECT_GT(metasim::test_support::expect_tensorboard_matches_metrics(tb, (dir_ / "ma2").string(),
                                                                      "env_steps"),
            10u);
  expect_same_run(one, train("ma3", 3, mappo));
}

// A run checkpointed by two ranks and resumed by three (and one by three resumed alone)
// continues exactly as an uninterrupted one-process run.
TEST_F(DataParallel, Resume_WithAnotherRankCount) {
  const std::string base =
      "--set algorithm=maml --set meta_batch=30 --set log_every=1 "
      "--set backend=cpu --set precision=float";
  const std::string whole = train("whole", 0, base + " --set iterations=6");
  const std::string split = train("split", 2, base + " --set iterations=3");
  const metasim::test_support::CliRun r =
      run_cli("train --quiet --resume --out " + split + " --set iterations=6", mpirun(3));
  ASSERT_EQ(r.status, 0) << r.output;
  expect_same_run(whole, split);
  // PPO resumes its envs mid-episode from the joined snapshot, cut into three shares.
  const std::string ppo =
      "--config " + std::string(METASIM_SOURCE_DIR) +
      "/configs/ppo-cartpole.json --set n_epochs=2 --set log_every=1 "
      "--set checkpoint_every=1 --set eval.episodes=2 --set lr_schedule=constant "
      "--set clip_schedule=constant";
  const std::string ppo_whole = train("ppo_whole", 0, ppo + " --set total_timesteps=1024");
  const std::string ppo_split = train("ppo_split", 2, ppo + " --set total_timesteps=512");
  const metasim::test_support::CliRun rp = run_cli(
      "train --quiet --resume --out " + ppo_split + " --set total_timesteps=1024", mpirun(3));
  ASSERT_EQ(rp.status, 0) << rp.output;
  expect_same_run(ppo_whole, ppo_split);
}

// `metasim info` says the build runs over MPI ranks (a build without MPI would run N separate
// one-rank processes under mpirun).
TEST_F(DataParallel, Info_SaysRanksRunOverMpi) {
  const metasim::test_support::CliRun r = run_cli("info");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("ranks        : MPI ("), std::string::npos) << r.output;
}

// Bad splits are refused by name before anything is written; a rank that fails ends every rank.
TEST_F(DataParallel, Errors_NameTheFieldAndStopEveryRank) {
  const std::string out = (dir_ / "small").string();
  const metasim::test_support::CliRun r =
      run_cli("train --quiet --out " + out + " --set meta_batch=2 --set iterations=1", mpirun(3));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("meta_batch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 ranks"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(fs::path(out) / "checkpoint"));
}

// Runs `script` in bash from the file `path`; its output and exit status.
metasim::test_support::CliRun shell(const std::string& script, const fs::path& path) {
  {
    std::ofstream f(path);
    f << script;
  }
  metasim::test_support::CliRun r{-1, ""};
  FILE* p = popen(("bash " + path.string() + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t got = 0;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, got);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Starts a long 2-rank run, waits for its first checkpoints, sends `signal` to one rank, and
// prints the status mpirun ended with (124: still running after 120 s) and its output.
std::string signal_one_rank(const std::string& out, const std::string& signal, int timeout_s) {
  const std::string m = METASIM_CLI_PATH;
  return "out=" + out + "\n(" + mpirun(2, "timeout 120 ") +
         "-x METASIM_MPI_TIMEOUT=" + std::to_string(timeout_s) + " " + m + " train --quiet --out " +
         out +
         " --set meta_batch=64 --set iterations=100000000 --set checkpoint_every=5 "
         "--set log_every=5 --set backend=cpu > $out.log 2>&1; echo $? > $out.rc) &\n"
         "for i in $(seq 300); do [ -s $out/metrics.jsonl ] && break; sleep 0.1; done\n"
         "sleep 0.5\n"
         "pkill -" +
         signal + " -n -f \"^" + m +
         " train --quiet --out $out\"\n"
         "wait\n"
         "pkill -KILL -f \"^" +
         m +
         " train --quiet --out $out\"\n"
         "echo \"status $(cat $out.rc)\"\ncat $out.log\n";
}

// A rank killed mid-run ends every rank (no hang) and leaves a checkpoint that loads.
TEST_F(DataParallel, RankKilled_EndsEveryRankAndKeepsTheCheckpoint) {
  const std::string out = (dir_ / "killed").string();
  const metasim::test_support::CliRun r =
      shell(signal_one_rank(out, "KILL", 600), dir_ / "kill.sh");
  EXPECT_EQ(r.output.find("status 0"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("status 124"), std::string::npos) << "mpirun hung:\n" << r.output;
  EXPECT_NE(r.output.find("status "), std::string::npos) << r.output;
  const metasim::Checkpoint c = checkpoint_of(out);
  EXPECT_GT(c.header.at("iteration").get<int64_t>(), 0);
}

// A rank that stops (SIGSTOP: it neither exits nor answers) is detected by the others'
// collective timeout, which ends the run with a message naming METASIM_MPI_TIMEOUT.
TEST_F(DataParallel, RankHangs_CollectiveTimeoutEndsTheRun) {
  const std::string out = (dir_ / "stopped").string();
  const metasim::test_support::CliRun r = shell(signal_one_rank(out, "STOP", 3), dir_ / "stop.sh");
  EXPECT_EQ(r.output.find("status 0"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("status 124"), std::string::npos) << "mpirun hung:\n" << r.output;
  EXPECT_NE(r.output.find("METASIM_MPI_TIMEOUT"), std::string::npos) << r.output;
  const metasim::Checkpoint c = checkpoint_of(out);
  EXPECT_GT(c.header.at("iteration").get<int64_t>(), 0);
}

}  // namespace
