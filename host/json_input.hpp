// Reading JSON that a user or another program wrote (configs, --set values, traces, checkpoint
// headers) with bounded nesting and size, so that no input can crash or exhaust the process.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace metasim {

// Deepest nesting accepted anywhere (the configs need 3 levels, traces 4); deeper input is refused
// while it is read, before it is built, so nothing recurses over it later.
inline constexpr int kMaxJsonDepth = 64;
// Largest JSON file read: configs are a few KB; reference traces a few MB.
inline constexpr std::size_t kMaxJsonBytes = std::size_t{256} << 20;

// Parses `text`; any failure (syntax, nesting deeper than kMaxJsonDepth, a number beyond a
// double's range, more than max_bytes) is an InvalidArgument naming `field` and saying what is
// wrong and what is allowed.
nlohmann::json parse_json_input(std::string_view text, const std::string& field,
                                std::size_t max_bytes = kMaxJsonBytes);

// As parse_json_input, but text that is not JSON at all gives nullopt instead of an error (a
// `--set key=word` value is then taken as the word); nesting, range and size are still errors.
std::optional<nlohmann::json> parse_json_value_or_word(std::string_view text,
                                                       const std::string& field,
                                                       std::size_t max_bytes = kMaxJsonBytes);

// Reads and parses the file at `path` (errors name `field` and the path); a missing or unreadable
// file is an InvalidArgument too.
nlohmann::json read_json_input(const std::string& path, const std::string& field,
                               std::size_t max_bytes = kMaxJsonBytes);

// A value as error messages show it: its JSON text, cut to about max_chars with "...".
std::string json_excerpt(const nlohmann::json& v, std::size_t max_chars = 80);

}  // namespace metasim
