// The `metasim` tool's entry point: builds the subcommands, parses argv and maps errors to exit
// statuses. Bad input exits with status 2 and a message naming the field; other failures with 1.
#include <metasim/tools/cli.hpp>

#include <charconv>
#include <cstdio>
#include <new>
#include <string>
#include <system_error>
#include <exception>

#include <metasim/host/communicator.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/tools/commands.hpp>

namespace metasim::cli {

namespace {

// CLI11 saturates an integer that does not fit its type (99999999999999999999 becomes
// 9223372036854775807); every integer option's text is checked here first, so that it is refused
// with the range instead.
void check_integer_texts(CLI::App& app) {
  for (CLI::Option* o : app.get_options()) {
    const std::string type = o->get_type_name();
    if (type != "INT" && type != "UINT") continue;
    const bool is_unsigned = type == "UINT";
    o->check(CLI::Validator(
        [is_unsigned](std::string& text) -> std::string {
          const char* end = text.data() + text.size();
          std::from_chars_result r{};
          if (is_unsigned) {
            unsigned long long v = 0;
            r = std::from_chars(text.data(), end, v);
          } else {
            long long v = 0;
            r = std::from_chars(text.data(), end, v);
          }
          if (r.ec == std::errc::result_out_of_range) {
            return "'" + text + "' is out of range (" +
                   (is_unsigned ? std::string("0 to 18446744073709551615")
                                : std::string("-9223372036854775808 to 9223372036854775807")) +
                   ")";
          }
          if (r.ec != std::errc() || r.ptr != end) return "'" + text + "' is not an integer";
          return {};
        },
        "", "integer"));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    check_integer_texts(*sub);
  }
}

// "metasim" or, under mpirun, "metasim (rank 1 of 3)", for the messages of a failing rank.
std::string who() {
  const Communicator* c = started_communicator();
  if (c == nullptr || c->size() == 1) return "metasim";
  return "metasim (rank " + std::to_string(c->rank()) + " of " + std::to_string(c->size()) + ")";
}

int run_command(int argc, char** argv) {
  CLI::App app{"metasim: batched environments and meta-learning on CPU and CUDA"};
  app.require_subcommand(1);
  add_rollout_command(app);
  add_replay_command(app);
  add_demo_command(app);
  add_info_command(app);
  add_train_command(app);
  add_eval_command(app);
  add_bench_command(app);
  add_plot_command(app);
  check_integer_texts(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A command line that cannot be parsed is bad input like any other: status 2.
    std::fprintf(stderr, "%s: invalid input: %s\nRun with --help for more information.\n",
                 who().c_str(), e.what());
    return 2;
  } catch (const InvalidArgument& e) {
    std::fprintf(stderr, "%s: invalid input: %s\n", who().c_str(), e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "%s: error: out of memory: the run needs more memory than the machine "
                 "could give; choose smaller sizes\n",
                 who().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", who().c_str(), e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int run(int argc, char** argv) {
  const int status = run_command(argc, argv);
  // A rank that fails ends every rank (MPI_Abort), so that none waits for it in a collective.
  Communicator* c = started_communicator();
  if (status != 0 && c != nullptr && c->size() > 1) c->abort(status);
  return status;
}

}  // namespace metasim::cli
