// `metasim plot`: learning curves of one or more run directories from their metrics.jsonl. Runs
// whose configs differ only in the seed form a group, drawn as the mean over its runs with a band
// of one standard error; each group has its own colour and legend entry. --table prints the final
// values per group as a Markdown table instead. The picture is SVG written here (or PNG, converted
// from it with librsvg's rsvg-convert).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/json_input.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/tools/commands.hpp>

extern char** environ;

namespace metasim::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Run {
  std::string dir, algorithm, sample_unit;
  json config;                                          // config.json
  std::map<int64_t, std::pair<double, double>> points;  // iteration -> (x, metric)
};

struct Group {
  std::string label, algorithm;
  std::vector<const Run*> runs;
  // Iterations every run of the group logged the metric at: x and y means, y's standard error.
  std::vector<double> x, mean, se;
};

// The value of `name` in a metrics line ("a/b" reaches into nested objects).
bool metric_value(const json& line, const std::string& name, double& out) {
  const json* v = &line;
  std::size_t at = 0;
  while (true) {
    const std::size_t slash = name.find('/', at);
    const std::string key = name.substr(at, slash == std::string::npos ? slash : slash - at);
    if (!v->is_object() || !v->contains(key)) return false;
    v = &(*v)[key];
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
  if (!v->is_number()) return false;
  out = v->get<double>();
  return true;
}

void metric_names(const json& j, const std::string& prefix, std::set<std::string>& out) {
  for (const auto& [k, v] : j.items()) {
    const std::string name = prefix.empty() ? k : prefix + "/" + k;
    if (v.is_object()) metric_names(v, name, out);
    if (v.is_number()) out.insert(name);
  }
}

// The metrics key the --x choice reads, checked against the run's sample unit.
std::string x_key(const std::string& x, const Run& r) {
  if (x == "iterations") return "iteration";
  if (x == "seconds") return "wall_s";
  if (x == "samples" || x == r.sample_unit) return "samples";
  throw InvalidArgument("x", "'" + x + "' is not a sample unit of run '" + r.dir + "' (it counts " +
                                 r.sample_unit + "); use iterations, seconds, samples or " +
                                 r.sample_unit);
}

Run load_run(const std::string& dir, const std::string& metric, const std::string& x) {
  Run r;
  r.dir = dir;
  const fs::path p(dir);
  if (!fs::is_directory(p)) throw InvalidArgument("runs", "'" + dir + "' is not a directory");
  const fs::path metrics = p / "metrics.jsonl";
  std::ifstream in(metrics);
  if (!in) {
    throw InvalidArgument("runs", "'" + dir +
                                      "' has no metrics.jsonl (is it a run directory "
                                      "written by `metasim train`?)");
  }
  r.config = fs::exists(p / "config.json") ? read_json_input((p / "config.json").string(), "runs")
                                           : json::object();
  r.algorithm = r.config.value("algorithm", std::string("maml"));
  // The sample unit is in summary.json once the run has finished; a run still going counts
  // env steps if it trains on an env.
  if (fs::exists(p / "summary.json")) {
    r.sample_unit = read_json_input((p / "summary.json").string(), "runs").value("sample_unit", "");
  }
  if (r.sample_unit.empty()) r.sample_unit = r.config.contains("env") ? "env_steps" : "tasks";
  std::set<std::string> names;
  std::string line;
  int64_t lines = 0;
  std::string xk;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception&) {
      throw InvalidArgument(
          "runs", "'" + metrics.string() + "' line " + std::to_string(lines + 1) + " is not JSON");
    }
    ++lines;
    metric_names(j, "", names);
    double y = 0, xv = 0;
    if (xk.empty()) xk = x_key(x, r);
    if (metric_value(j, metric, y) && metric_value(j, xk, xv) && j.contains("iteration")) {
      r.points[j["iteration"].get<int64_t>()] = {xv, y};
    }
  }
  if (lines == 0) throw InvalidArgument("runs", "'" + dir + "' has no metrics yet");
  if (r.points.empty()) {
    std::string avail;
    for (const std::string& n : names) avail += (avail.empty() ? "" : ", ") + n;
    throw InvalidArgument(
        "metric", "'" + metric + "' is not in the metrics of '" + dir + "'; available: " + avail);
  }
  return r;
}

// The config without what does not change the training (the seed, the description, the
// reference figure): runs that share the rest are one group.
json without_seed(const json& config) {
  json c = config;
  for (const char* k : {"seed", "description", "reference"}) c.erase(k);
  return c;
}

std::string group_key(const json& config) { return without_seed(config).dump(); }

void flat(const json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  for (const auto& [k, v] : j.items()) {
    const std::string name = prefix.empty() ? k : prefix + "." + k;
    if (v.is_object()) {
      flat(v, name, out);
    } else {
      out[name] = v.dump();
    }
  }
}

// Labels: the config's description, else the algorithm and the fields where the groups differ.
void label_groups(std::vector<Group>& groups) {
  std::vector<std::map<std::string, std::string>> fields(groups.size());
  std::set<std::string> keys;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    flat(without_seed(groups[g].runs.front()->config), "", fields[g]);
    for (const auto& kv : fields[g]) keys.insert(kv.first);
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (!groups[g].label.empty()) continue;
    const json& c = groups[g].runs.front()->config;
    if (c.contains("description") && c["description"].is_string() &&
        !c["description"].get<std::string>().empty()) {
      groups[g].label = c["description"].get<std::string>();
      continue;
    }
    std::string diff;
    for (const std::string& k : keys) {
      if (k == "algorithm") continue;
      bool differs = false;
      for (const auto& other : fields) {
        differs = differs || other.count(k) != fields[g].count(k) ||
                  (other.count(k) && other.at(k) != fields[g].at(k));
      }
      if (!differs) continue;
      std::string v = fields[g].count(k) ? fields[g].at(k) : "-";
      v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
      diff += (diff.empty() ? "" : ", ") + k + "=" + v;
    }
    groups[g].label = groups[g].algorithm + (diff.empty() ? "" : " (" + diff + ")");
  }
}

void aggregate(Group& g) {
  const std::map<int64_t, std::pair<double, double>>& first = g.runs.front()->points;
  for (const auto& [it, unused] : first) {
    (void)unused;
    double xs = 0, ys = 0;
    std::vector<double> y;
    bool all = true;
    for (const Run* r : g.runs) {
      const auto f = r->points.find(it);
      if (f == r->points.end()) {
        all = false;
        break;
      }
      xs += f->second.first;
      ys += f->second.second;
      y.push_back(f->second.second);
    }
    if (!all) continue;
    const double n = static_cast<double>(y.size());
    const double m = ys / n;
    double ss = 0;
    for (double v : y) ss += (v - m) * (v - m);
    g.x.push_back(xs / n);
    g.mean.push_back(m);
    g.se.push_back(y.size() > 1 ? std::sqrt(ss / (n - 1)) / std::sqrt(n) : 0.0);
  }
  if (g.x.empty()) {
    throw InvalidArgument(
        "runs", "the runs of group '" + g.label + "' logged the metric at no common iteration");
  }
}

// 1, 2 or 5 times a power of ten: about `count` ticks over [lo, hi].
std::vector<double> ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / count;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double f : {1.0, 2.0, 5.0, 10.0}) {
    step = f * mag;
    if (step >= raw) break;
  }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  return t;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// A tick label: thousands and millions as k and M (1.5M rather than 1.5e+06 beside 500000).
std::string tick_text(double v, double largest) {
  if (largest >= 1e6) return fmt(v / 1e6) + (v == 0 ? "" : "M");
  if (largest >= 1e4) return fmt(v / 1e3) + (v == 0 ? "" : "k");
  return fmt(v);
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

std::string svg(const std::vector<Group>& groups, const std::string& metric,
                const std::string& x_label) {
  // Colour-blind-safe palette (Okabe-Ito).
  static const char* kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                   "#E69F00", "#56B4E9", "#000000", "#F0E442"};
  constexpr double W = 720, H = 450, L = 80, R = 20, T = 20, B = 60;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const Group& g : groups) {
    for (std::size_t i = 0; i < g.x.size(); ++i) {
      x0 = std::min(x0, g.x[i]);
      x1 = std::max(x1, g.x[i]);
      y0 = std::min(y0, g.mean[i] - g.se[i]);
      y1 = std::max(y1, g.mean[i] + g.se[i]);
    }
  }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) {
    y0 -= 0.5 * std::max(1.0, std::abs(y0));
    y1 += 0.5 * std::max(1.0, std::abs(y1));
  }
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;
  const auto px = [&](double v) { return L + (v - x0) / (x1 - x0) * (W - L - R); };
  const auto py = [&](double v) { return H - B - (v - y0) / (y1 - y0) * (H - T - B); };
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  // Axes, grid and tick labels.
  o << "<g class=\"axes\" stroke=\"#888\" stroke-width=\"1\">\n";
  const double x_abs = std::max(std::abs(x0), std::abs(x1));
  const double y_abs = std::max(std::abs(y0), std::abs(y1));
  for (double t : ticks(x0, x1, 6)) {
    o << "<line x1=\"" << px(t) << "\" y1=\"" << T << "\" x2=\"" << px(t) << "\" y2=\"" << H - B
      << "\" stroke=\"#eee\"/>\n<text class=\"tick\" x=\"" << px(t) << "\" y=\"" << H - B + 16
      << "\" text-anchor=\"middle\" stroke=\"none\" fill=\"#333\">" << tick_text(t, x_abs)
      << "</text>\n";
  }
  for (double t : ticks(y0, y1, 6)) {
    o << "<line x1=\"" << L << "\" y1=\"" << py(t) << "\" x2=\"" << W - R << "\" y2=\"" << py(t)
      << "\" stroke=\"#eee\"/>\n<text class=\"tick\" x=\"" << L - 6 << "\" y=\"" << py(t) + 4
      << "\" text-anchor=\"end\" stroke=\"none\" fill=\"#333\">" << tick_text(t, y_abs)
      << "</text>\n";
  }
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\""
    << H - T - B << "\" fill=\"none\"/>\n</g>\n";
  o << "<text class=\"x-label\" x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 18
    << "\" text-anchor=\"middle\">" << escape(x_label) << "</text>\n";
  o << "<text class=\"y-label\" transform=\"translate(18," << (T + H - B) / 2
    << ") rotate(-90)\" text-anchor=\"middle\">" << escape(metric) << "</text>\n";
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const Group& gr = groups[g];
    const char* c = kColours[g % 8];
    if (gr.runs.size() > 1) {
      o << "<path class=\"band\" fill=\"" << c << "\" fill-opacity=\"0.2\" stroke=\"none\" d=\"";
      for (std::size_t i = 0; i < gr.x.size(); ++i) {
        o << (i ? " L" : "M") << px(gr.x[i]) << "," << py(gr.mean[i] + gr.se[i]);
      }
      for (std::size_t i = gr.x.size(); i-- > 0;) {
        o << " L" << px(gr.x[i]) << "," << py(gr.mean[i] - gr.se[i]);
      }
      o << " Z\"/>\n";
    }
    o << "<path class=\"series\" fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\" d=\"";
    for (std::size_t i = 0; i < gr.x.size(); ++i) {
      o << (i ? " L" : "M") << px(gr.x[i]) << "," << py(gr.mean[i]);
    }
    o << "\"><title>" << escape(gr.label) << "</title></path>\n";
  }
  // The legend goes in the corner of the plot its box covers the fewest points in.
  std::size_t longest = 0;
  for (const Group& g : groups) longest = std::max(longest, g.label.size() + 8);
  const double lw = 44 + 7 * static_cast<double>(longest);
  const double lh = 18 * static_cast<double>(groups.size()) + 6;
  double lx = L + 4, ly = T + 2;
  std::size_t fewest = SIZE_MAX;
  for (const auto& [cx, cy] :
       {std::pair{L + 4, T + 2}, std::pair{W - R - 4 - lw, T + 2}, std::pair{L + 4, H - B - 2 - lh},
        std::pair{W - R - 4 - lw, H - B - 2 - lh}}) {
    std::size_t covered = 0;
    for (const Group& g : groups) {
      for (std::size_t i = 0; i < g.x.size(); ++i) {
        const double x = px(g.x[i]), y = py(g.mean[i]);
        covered += x >= cx && x <= cx + lw && y >= cy && y <= cy + lh;
      }
    }
    if (covered < fewest) {
      fewest = covered;
      lx = cx;
      ly = cy;
    }
  }
  o << "<g class=\"legend\">\n<rect x=\"" << lx << "\" y=\"" << ly << "\" width=\"" << lw
    << "\" height=\"" << lh << "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n";
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const double y = ly + 12 + 18 * static_cast<double>(g);
    o << "<line x1=\"" << lx + 6 << "\" y1=\"" << y - 4 << "\" x2=\"" << lx + 30 << "\" y2=\""
      << y - 4 << "\" stroke=\"" << kColours[g % 8] << "\" stroke-width=\"2\"/>\n"
      << "<text class=\"legend-entry\" x=\"" << lx + 36 << "\" y=\"" << y << "\">"
      << escape(groups[g].label) << " (n=" << groups[g].runs.size() << ")</text>\n";
  }
  o << "</g>\n</svg>\n";
  return o.str();
}

std::string table(const std::vector<Group>& groups, const std::string& metric,
                  const std::string& x_label) {
  std::string t = "| runs | n | " + metric + " (final, mean ± s.e.) | " + x_label + " |\n" +
                  "|---|---|---|---|\n";
  for (const Group& g : groups) {
    std::vector<double> y;
    double xs = 0;
    for (const Run* r : g.runs) {
      y.push_back(r->points.rbegin()->second.second);
      xs += r->points.rbegin()->second.first;
    }
    const double n = static_cast<double>(y.size());
    double m = 0, ss = 0;
    for (double v : y) m += v / n;
    for (double v : y) ss += (v - m) * (v - m);
    char cell[96];
    if (y.size() > 1) {
      std::snprintf(cell, sizeof cell, "%.4g ± %.2g", m, std::sqrt(ss / (n - 1)) / std::sqrt(n));
    } else {
      std::snprintf(cell, sizeof cell, "%.4g", m);
    }
    t += "| " + g.label + " | " + std::to_string(g.runs.size()) + " | " + cell + " | " +
         fmt(xs / n) + " |\n";
  }
  return t;
}

}  // namespace

void add_plot_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> runs, labels;
    std::string metric, x = "iterations", out;
    bool table = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Learning curves of run directories (mean and standard error over seeds)");
  cmd->add_option("runs", opt->runs, "run directories (written by metasim train)")->required();
  cmd->add_option("--metric", opt->metric, "the metrics.jsonl key to draw (nested: a/b)")
      ->required();
  cmd->add_option("--x", opt->x,
                  "x axis: iterations (default), env_steps or tasks (the run's samples), "
                  "seconds");
  cmd->add_option("--label", opt->labels,
                  "a legend label per run, in the order of the runs; runs with the same label "
                  "form one group (default: runs whose configs differ only in seed)");
  cmd->add_option("--out", opt->out, "the picture to write: FILE.svg or FILE.png");
  cmd->add_flag("--table", opt->table,
                "print the final values per group as a Markdown table instead of drawing");
  cmd->callback([opt] {
    if (!opt->table && opt->out.empty()) {
      throw InvalidArgument("out", "a picture file is required (--out FILE.svg|.png), or --table");
    }
    const std::string ext = fs::path(opt->out).extension().string();
    if (!opt->table && ext != ".svg" && ext != ".png") {
      throw InvalidArgument("out", "must end in .svg or .png, got '" + opt->out + "'");
    }
    const std::set<std::string> xs = {"iterations", "seconds", "samples", "env_steps", "tasks"};
    if (!xs.count(opt->x)) {
      throw InvalidArgument("x",
                            "must be one of iterations, env_steps, tasks, samples, seconds; "
                            "got '" +
                                opt->x + "'");
    }
    if (!opt->labels.empty() && opt->labels.size() != opt->runs.size()) {
      throw InvalidArgument("label", "give one label per run (" + std::to_string(opt->runs.size()) +
                                         " runs, " + std::to_string(opt->labels.size()) +
                                         " labels)");
    }
    std::vector<std::unique_ptr<Run>> runs;
    for (const std::string& d : opt->runs) {
      runs.push_back(std::make_unique<Run>(load_run(d, opt->metric, opt->x)));
    }
    std::vector<Group> groups;
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      const std::string key =
          opt->labels.empty() ? group_key(runs[i]->config) : "label:" + opt->labels[i];
      auto [it, fresh] = index.emplace(key, groups.size());
      if (fresh) {
        Group g;
        g.algorithm = runs[i]->algorithm;
        if (!opt->labels.empty()) g.label = opt->labels[i];
        groups.push_back(g);
      }
      Group& g = groups[it->second];
      if (g.algorithm != runs[i]->algorithm) {
        throw InvalidArgument("label", "runs of different algorithms in one group ('" +
                                           g.runs.front()->dir + "' is " + g.algorithm + ", '" +
                                           runs[i]->dir + "' is " + runs[i]->algorithm + ")");
      }
      g.runs.push_back(runs[i].get());
    }
    label_groups(groups);
    for (Group& g : groups) aggregate(g);
    std::string x_label = opt->x;
    if (opt->x == "samples") x_label = runs.front()->sample_unit;
    for (char& c : x_label) c = c == '_' ? ' ' : c;
    if (opt->table) {
      std::fputs(table(groups, opt->metric, x_label).c_str(), stdout);
      return;
    }
    const std::string picture = svg(groups, opt->metric, x_label);
    const fs::path parent = fs::absolute(opt->out).parent_path();
    if (!fs::is_directory(parent)) {
      throw InvalidArgument("out", "the folder of '" + opt->out + "' does not exist");
    }
    if (ext == ".svg") {
      try {
        write_file_atomically(opt->out, picture);
      } catch (const Error& e) {
        throw InvalidArgument("out", e.what());
      }
    } else {
      // PNG: the SVG drawn by rsvg-convert into a temporary file, renamed into place.
      const std::string tmp_svg = opt->out + ".tmp.svg", tmp_png = opt->out + ".tmp.png";
      try {
        write_file_atomically(tmp_svg, picture);
      } catch (const Error& e) {
        throw InvalidArgument("out", e.what());
      }
      std::vector<std::string> args = {"rsvg-convert", "--format=png", "--output", tmp_png,
                                       tmp_svg};
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      pid_t pid = 0;
      int status = -1;
      if (posix_spawnp(&pid, "rsvg-convert", nullptr, nullptr, argv.data(), environ) == 0) {
        if (waitpid(pid, &status, 0) != pid) status = -1;
      }
      std::error_code ec;
      fs::remove(tmp_svg, ec);
      if (status != 0) {
        fs::remove(tmp_png, ec);
        throw InvalidArgument("out",
                              "a PNG needs librsvg's rsvg-convert (Debian: librsvg2-bin), "
                              "which failed or is missing; write .svg instead");
      }
      fs::rename(tmp_png, opt->out, ec);
      if (ec) throw InvalidArgument("out", "cannot write '" + opt->out + "': " + ec.message());
    }
    std::printf("plotted %zu group(s) of %zu run(s) into %s\n", groups.size(), runs.size(),
                opt->out.c_str());
  });
}

}  // namespace metasim::cli
