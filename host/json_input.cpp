// Bounded JSON reading (see json_input.hpp): nlohmann's parser reads iteratively; the callback
// refuses a container that would open past kMaxJsonDepth, so the value is never built that deep.
#include <metasim/host/json_input.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <metasim/kernels/core/error.hpp>

namespace metasim {

namespace {

using nlohmann::json;

struct TooDeep {};

std::string mib(std::size_t bytes) {
  std::ostringstream os;
  os << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB";
  return os.str();
}

// nlohmann's messages start with "[json.exception.<kind>.<id>] "; the rest says what and where.
std::string without_tag(const char* what) {
  const std::string s = what;
  const std::size_t close = s.find("] ");
  return s.rfind("[json.exception.", 0) == 0 && close != std::string::npos ? s.substr(close + 2)
                                                                           : s;
}

}  // namespace

namespace {

// Parses text; nullopt for a syntax error when words_allowed, an InvalidArgument otherwise.
std::optional<json> parse_bounded(std::string_view text, const std::string& field,
                                  std::size_t max_bytes, bool words_allowed) {
  if (text.size() > max_bytes) {
    throw InvalidArgument(field, "is " + mib(text.size()) + " of JSON; at most " + mib(max_bytes) +
                                     " is read");
  }
  const json::parser_callback_t depth_limit = [](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start ||
         event == json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      throw TooDeep{};
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), depth_limit);
  } catch (const TooDeep&) {
    throw InvalidArgument(field, "nests arrays or objects more than " +
                                     std::to_string(kMaxJsonDepth) + " levels deep");
  } catch (const json::out_of_range& e) {
    throw InvalidArgument(field, "holds a number beyond a double's range (about 1.8e308): " +
                                     without_tag(e.what()));
  } catch (const json::exception& e) {
    if (words_allowed) return std::nullopt;
    throw InvalidArgument(field, "is not valid JSON: " + without_tag(e.what()));
  }
}

}  // namespace

json parse_json_input(std::string_view text, const std::string& field, std::size_t max_bytes) {
  return *parse_bounded(text, field, max_bytes, false);
}

std::optional<json> parse_json_value_or_word(std::string_view text, const std::string& field,
                                             std::size_t max_bytes) {
  return parse_bounded(text, field, max_bytes, true);
}

json read_json_input(const std::string& path, const std::string& field, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InvalidArgument(field, "cannot open '" + path + "': " + std::strerror(errno));
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) throw InvalidArgument(field, "cannot read '" + path + "' (not a regular file?)");
  if (static_cast<std::size_t>(size) > max_bytes) {
    throw InvalidArgument(field, "'" + path + "' is " + mib(static_cast<std::size_t>(size)) +
                                     "; at most " + mib(max_bytes) + " of JSON is read");
  }
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), size)) {
    throw InvalidArgument(field, "cannot read '" + path + "'");
  }
  try {
    return parse_json_input(text, field, max_bytes);
  } catch (const InvalidArgument& e) {
    // "<field>: <problem>" becomes "<field>: '<path>' <problem>".
    const std::string what = e.what();
    throw InvalidArgument(field, "'" + path + "' " + what.substr(field.size() + 2));
  }
}

std::string json_excerpt(const json& v, std::size_t max_chars) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

}  // namespace metasim
