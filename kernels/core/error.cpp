// Error types and the small range checks used at the API and CLI boundary.
// Every message has the form "<field>: <what is wrong and what is allowed>".
#include <metasim/kernels/core/error.hpp>

#include <cmath>
#include <sstream>

namespace metasim {

InvalidArgument::InvalidArgument(std::string_view field, std::string_view problem)
    : std::invalid_argument(std::string(field) + ": " + std::string(problem)), field_(field) {}

void require_in_range(std::string_view field, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi)) {  // also rejects NaN
    std::ostringstream os;
    os << "must be in [" << lo << ", " << hi << "], got " << value;
    throw InvalidArgument(field, os.str());
  }
}

void require_positive(std::string_view field, long long value) {
  if (value < 1) {
    throw InvalidArgument(field, "must be at least 1, got " + std::to_string(value));
  }
}

void require_registry_name(std::string_view field, std::string_view what, std::string_view name) {
  if (name.empty()) {
    throw InvalidArgument(field, std::string("a ") + std::string(what) +
                                     "'s name (kName) must not be empty");
  }
  for (const char c : name) {
    if (c <= ' ' || c == '"' || c == '\\' || c > '~') {
      throw InvalidArgument(field, std::string(what) + " name '" + std::string(name) +
                                       "' may hold printable ASCII characters other than space, "
                                       "quote and backslash only");
    }
  }
}

}  // namespace metasim
