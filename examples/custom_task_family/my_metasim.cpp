// A `metasim` tool that knows the example's family: `train` and `eval` work on
// task_family=projectile as on the built-in sinusoid, e.g.
//   my_metasim train --config maml-projectile.json --out runs/projectile
//   my_metasim eval --run runs/projectile
#include <metasim/tools/cli.hpp>

#include "projectile.hpp"

int main(int argc, char** argv) {
  projectile::register_projectile();
  return metasim::cli::run(argc, argv);
}
