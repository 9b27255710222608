// The metasim command-line tool's subcommands; each file registers one on the CLI11 app.
// A subcommand's callback throws metasim::InvalidArgument / metasim::Error; main() reports them.
#pragma once

#include <CLI/CLI.hpp>

namespace metasim::cli {

void add_rollout_command(CLI::App& app);
void add_replay_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_plot_command(CLI::App& app);

}  // namespace metasim::cli
