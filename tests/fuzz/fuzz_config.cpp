// libFuzzer target: a config file's text through parse_json_input and check_config, the path
// `metasim train --config` takes before it allocates anything. Built and run by scripts/fuzz.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include <metasim/host/json_input.hpp>
#include <metasim/meta/algorithms.hpp>

#include "fuzz_contract.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json config;
  metasim_fuzz::Echo echo{text, {}};
  if (!metasim_fuzz::holds_contract("parse_json_input", echo,
                                    [&] { config = metasim::parse_json_input(text, "config"); })) {
    return 0;
  }
  echo.decoded = [&] { return metasim_fuzz::dump_quietly(config); };
  metasim_fuzz::holds_contract("check_config", echo, [&] { metasim::check_config(config, {}); });
  return 0;
}
