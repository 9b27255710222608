// Entry point of the `metasim` command-line tool: parses the subcommand and reports errors.
// Bad input exits with status 2 and a message naming the field; other failures exit with 1.
#include <cstdio>
#include <exception>

#include "host/error.hpp"
#include "tools/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"metasim: batched environments and meta-learning on CPU and CUDA"};
  app.require_subcommand(1);
  metasim::cli::add_rollout_command(app);
  metasim::cli::add_replay_command(app);
  metasim::cli::add_demo_command(app);
  metasim::cli::add_info_command(app);
  metasim::cli::add_train_command(app);
  metasim::cli::add_eval_command(app);
  metasim::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const metasim::InvalidArgument& e) {
    std::fprintf(stderr, "metasim: invalid input: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "metasim: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
