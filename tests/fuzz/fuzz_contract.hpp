// The contract every fuzz target checks on metasim's loaders: bad input is reported as a
// metasim::InvalidArgument or metasim::Error written for people; anything else aborts the target.
#pragma once

#include <cxxabi.h>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <typeinfo>

#include <metasim/kernels/core/error.hpp>

namespace metasim_fuzz {

// Text that only reaches a message when a library's exception leaked through unwrapped:
// nlohmann's "[json.exception.type_error.302] ...", libstdc++'s "basic_string::substr", ...
inline constexpr std::string_view kRawFragments[] = {"json.exception", "std::", "basic_string",
                                                     "bad_alloc", "vector::"};

// What the input itself says, since messages quote it ("last read: '...'", "got ..."): the raw
// bytes, the same escaped as a JSON string (how json_excerpt shows a word: a control byte before
// "ad_alloc" reads "\bad_alloc") and, computed only when needed, the input's JSON with its
// escapes decoded. A fragment the input holds is a quote, not a leak; without this the fuzzer,
// which sees the comparisons below, soon writes "bad_alloc" into a value and reports itself.
// "std::" and "vector::" also count as quoted when the input holds "std:" or "vector:", since
// messages put ": " after a field the input named ("vector:: unknown field").
struct Echo {
  std::string_view raw;
  std::function<std::string()> decoded;  // may be empty

  bool holds(std::string_view fragment) const;
};

// Parses text as the loaders do but never throws and never builds more than the loaders'
// nesting limit, for Echo::decoded; null when it is not JSON.
inline nlohmann::json parse_quietly(std::string_view text) {
  const nlohmann::json::parser_callback_t shallow = [](int depth, nlohmann::json::parse_event_t,
                                                       nlohmann::json&) { return depth <= 64; };
  nlohmann::json v = nlohmann::json::parse(text.begin(), text.end(), shallow, false);
  return v.is_discarded() ? nlohmann::json() : v;
}

inline std::string dump_quietly(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline bool Echo::holds(std::string_view fragment) const {
  const auto quotes = [&](std::string_view f) {
    return raw.find(f) != std::string_view::npos ||
           dump_quietly(nlohmann::json(std::string(raw))).find(f) != std::string::npos ||
           (decoded && decoded().find(f) != std::string::npos);
  };
  return quotes(fragment) ||
         (fragment.ends_with("::") && quotes(fragment.substr(0, fragment.size() - 1)));
}

// A finding: libFuzzer saves the input that led here when the process aborts.
[[noreturn]] inline void finding(std::string_view step, std::string_view what,
                                 std::string_view message) {
  std::fprintf(stderr, "\n== metasim fuzz finding in %.*s: %.*s\n== message: %.*s\n",
               static_cast<int>(step.size()), step.data(), static_cast<int>(what.size()),
               what.data(), static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
  std::abort();
}

inline std::string type_name(const std::type_info& t) {
  int status = 0;
  const std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? name.get() : t.name();
}

inline void check_message(std::string_view step, std::string_view type, const char* what,
                          const Echo& echo) {
  const std::string_view message = what;
  for (const std::string_view raw : kRawFragments) {
    if (message.find(raw) != std::string_view::npos && !echo.holds(raw)) {
      finding(
          step,
          std::string(type) + " whose message holds raw library text '" + std::string(raw) + "'",
          message);
    }
  }
}

// Runs fn(); true when it returned, false when it refused the input as the contract allows.
// `step` names the call in a finding's report.
template <typename Fn>
bool holds_contract(std::string_view step, const Echo& echo, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const metasim::InvalidArgument& e) {
    check_message(step, "metasim::InvalidArgument", e.what(), echo);
  } catch (const metasim::Error& e) {
    check_message(step, "metasim::Error", e.what(), echo);
  } catch (const std::exception& e) {
    finding(step, "an exception of type " + type_name(typeid(e)) + " escaped", e.what());
  } catch (...) {
    finding(step, "an exception that is not a std::exception escaped", "(none)");
  }
  return false;
}

}  // namespace metasim_fuzz
