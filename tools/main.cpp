// The `metasim` command-line tool with the built-in environments and task families.
// A user's own tool registers theirs first, then calls metasim::cli::run the same way.
#include <metasim/tools/cli.hpp>

int main(int argc, char** argv) { return metasim::cli::run(argc, argv); }
