// Error types raised at the library's boundary (config, CLI, API), never inside kernels.
// Messages name the offending field and what is allowed, so a user can fix the input.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace metasim {

// Any failure metasim reports; the CLI prints what() and exits non-zero.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A value outside its allowed range, or of the wrong shape: `field` names the input.
class InvalidArgument : public std::invalid_argument {
 public:
  InvalidArgument(std::string_view field, std::string_view problem);
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Throws InvalidArgument("field", "must be in [lo, hi], got v") unless lo <= v <= hi.
void require_in_range(std::string_view field, double value, double lo, double hi);
// Throws unless value >= 1.
void require_positive(std::string_view field, long long value);
// The names registries accept (envs, task families): non-empty, printable ASCII other than space,
// quote and backslash, so that they stand in configs and JSON as they are. Throws
// InvalidArgument(field, ...) naming `what` ("env", "task family", ...) otherwise.
void require_registry_name(std::string_view field, std::string_view what, std::string_view name);

}  // namespace metasim
