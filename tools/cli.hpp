// The `metasim` command-line tool as a library call, so a user's own binary can register its
// environments and task families first and then offer every subcommand on them.
#pragma once

namespace metasim::cli {

// Parses argv as the `metasim` tool does and runs the subcommand. Returns the exit status: 0 on
// success, 2 for bad input (the message names the field), 1 for other failures.
int run(int argc, char** argv);

}  // namespace metasim::cli
