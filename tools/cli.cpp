// The `metasim` tool's entry point: builds the subcommands, parses argv and maps errors to exit
// statuses. Bad input exits with status 2 and a message naming the field; other failures with 1.
#include <metasim/tools/cli.hpp>

#include <cstdio>
#include <exception>

#include <metasim/kernels/core/error.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

int run(int argc, char** argv) {
  CLI::App app{"metasim: batched environments and meta-learning on CPU and CUDA"};
  app.require_subcommand(1);
  add_rollout_command(app);
  add_replay_command(app);
  add_demo_command(app);
  add_info_command(app);
  add_train_command(app);
  add_eval_command(app);
  add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const InvalidArgument& e) {
    std::fprintf(stderr, "metasim: invalid input: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "metasim: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace metasim::cli
