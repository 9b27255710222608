# Extra `metasim` subcommands (included from the top-level CMakeLists.txt).
# train and eval dispatch on the config's algorithm to supervised meta-learning (meta/), meta-RL
# (meta/rl/) or PPO (meta/ppo/); bench maml drives the supervised meta-learning engine.
list(APPEND METASIM_CLI_SOURCES tools/cmd_train.cpp tools/cmd_eval.cpp tools/cmd_bench.cpp
                                tools/families.cpp)
