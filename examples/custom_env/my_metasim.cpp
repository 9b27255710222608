// A `metasim` tool that knows the example's env and task family: every subcommand (rollout, train,
// eval, ...) works on "PointMass1D-v0" and the meta-RL family "pointmass" as on a built-in, e.g.
//   my_metasim rollout --env PointMass1D-v0 --num-envs 4096 --steps 1000
//   my_metasim train --config ppo-point-mass.json --out runs/pm
//   my_metasim train --config maml-rl-point-mass.json --out runs/pm-meta
//   my_metasim train --config rl2-point-mass.json --out runs/pm-rl2
#include <metasim/tools/cli.hpp>

#include "point_mass.hpp"

int main(int argc, char** argv) {
  point_mass::register_point_mass();
  return metasim::cli::run(argc, argv);
}
