# Extra `metasim` subcommands (included from the top-level CMakeLists.txt).
# train, eval and bench maml drive the meta-learning Trainer in meta/.
list(APPEND METASIM_CLI_SOURCES tools/cmd_train.cpp tools/cmd_eval.cpp tools/cmd_bench.cpp)
