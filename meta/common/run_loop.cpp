// The training loop shared by every algorithm (see run_loop.hpp).
#include <metasim/meta/common/run_loop.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <metasim/host/atomic_file.hpp>
#include <metasim/host/communicator.hpp>
#include <metasim/host/json_input.hpp>
#include <metasim/host/run_support.hpp>
#include <metasim/host/tensorboard.hpp>
#include <metasim/kernels/core/error.hpp>

namespace metasim {

namespace {

using nlohmann::json;

// Sums of the window scalars since the previous metrics line.
struct Window {
  json sums = json::object();
  int64_t steps = 0;
  int64_t samples_at_start = 0;
  RunClock::time_point t0 = RunClock::now();

  void add(const json& values) {
    for (const auto& [k, v] : values.items()) {
      sums[k] = sums.value(k, 0.0) + v.get<double>();
    }
    ++steps;
  }
  json means() const {
    json m = json::object();
    for (const auto& [k, v] : sums.items()) m[k] = v.get<double>() / static_cast<double>(steps);
    return m;
  }
  void reset(int64_t samples) {
    sums = json::object();
    steps = 0;
    samples_at_start = samples;
    t0 = RunClock::now();
  }
  // The window's sums travel with the checkpoint, so that a resumed run's next metrics line
  // averages the same iterations as it would have without the interruption.
  void save(Checkpoint& c) const { c.header["run_window"] = {{"sums", sums}, {"steps", steps}}; }
  void restore(const Checkpoint& c, int64_t samples) {
    reset(samples);
    if (!c.header.contains("run_window")) return;  // written before windows were saved
    const json& w = c.header["run_window"];
    bool ok = w.is_object() && w.contains("sums") && w["sums"].is_object() && w.contains("steps") &&
              w["steps"].is_number_unsigned() && w["steps"].get<uint64_t>() < (uint64_t{1} << 53);
    if (ok) {
      for (const auto& [k, v] : w["sums"].items()) {
        ok = ok && v.is_number() && std::isfinite(v.get<double>());
      }
    }
    if (!ok) {
      throw InvalidArgument(
          "checkpoint: run_window",
          "must be {\"sums\": {name: finite number}, \"steps\": count}, got " + json_excerpt(w));
    }
    sums = w["sums"];
    steps = w["steps"].get<int64_t>();
  }
};

void draw_progress(const TrainingJob& job, const StepReport& r, int64_t total, int64_t start_it,
                   int64_t start_samples, double wall, bool last) {
  const double it_rate = static_cast<double>(r.iteration - start_it) / wall;
  const double sample_rate = static_cast<double>(job.samples_done() - start_samples) / wall;
  std::string unit = job.sample_unit();
  for (char& ch : unit) ch = ch == '_' ? ' ' : ch;
  std::fprintf(stderr, "\r[train] %s %s  it %lld/%lld  %s  %.3g %s/s  ETA %s   ",
               job.algorithm().c_str(), job.target().c_str(), static_cast<long long>(r.iteration),
               static_cast<long long>(total), r.progress.c_str(), sample_rate, unit.c_str(),
               format_duration(static_cast<double>(total - r.iteration) / it_rate).c_str());
  if (last) std::fputc('\n', stderr);
  std::fflush(stderr);
}

// The first metrics line of run_dir (the run's start, over resumes); empty when there is none.
json first_metrics_line(const std::string& run_dir) {
  std::ifstream in(std::filesystem::path(run_dir) / "metrics.jsonl");
  std::string line;
  if (!in || !std::getline(in, line)) return json::object();
  try {
    return json::parse(line);
  } catch (const json::exception&) {
    return json::object();
  }
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

}  // namespace

json run_headline(const json& summary, const json& first_line, const json& config) {
  const json& m = summary.value("metrics", json::object());
  json h = json::object();
  const auto num = [](const json& j, const char* k) { return j.contains(k) && j[k].is_number(); };
  // PPO's baseline: the first metrics line's return, near the untrained policy's.
  const auto first_return = [&] {
    if (!num(first_line, "ep_return_mean")) return;
    h["baseline"] = {{"name", "at iteration " + std::to_string(first_line.value("iteration", 0LL))},
                     {"value", first_line["ep_return_mean"]}};
  };
  const char* stream_measure = nullptr;
  if (summary.contains("stream")) {
    if (num(summary["stream"], "average_error")) stream_measure = "error";
    if (num(summary["stream"], "average_return")) stream_measure = "return";
  }
  if (stream_measure != nullptr) {
    // A task stream: the error (return) over every stage's tasks after the last stage, against
    // the same tasks before training.
    const json& s = summary["stream"];
    const std::string measure = stream_measure;
    h = {{"name", "task stream: mean held-out " + measure + " over all stages after the last"},
         {"value", s["average_" + measure]}};
    const json before = s.value(measure + "_before", json::array());
    if (before.is_array() && !before.empty()) {
      double b = 0;
      for (const json& x : before) b += x.get<double>();
      h["baseline"] = {{"name", "before training"},
                       {"value", b / static_cast<double>(before.size())}};
    }
  } else if (summary.contains("evaluation") && num(summary["evaluation"], "mean_return")) {
    const json& e = summary["evaluation"];
    h = {{"name", "mean return over " + std::to_string(e.value("episodes", 0LL)) + " " +
                      (e.value("stochastic", false) ? "sampled" : "deterministic") +
                      " evaluation episodes"},
         {"value", e["mean_return"]}};
    first_return();
  } else if (num(m, "meta_loss")) {
    // A job whose inner loop is not config["inner"]["steps"] long reports its length.
    const int steps = num(m, "inner_steps") ? m["inner_steps"].get<int>()
                      : config.contains("inner") && config["inner"].is_object()
                          ? config["inner"].value("steps", 1)
                          : 1;
    h = {{"name", "query loss after " + std::to_string(steps) + " adaptation step" +
                      (steps == 1 ? "" : "s")},
         {"value", m["meta_loss"]}};
    if (num(m, "loss_before")) {
      h["baseline"] = {{"name", "before adaptation"}, {"value", m["loss_before"]}};
    }
  } else if (num(m, "return_after")) {
    h = {{"name", "training return after adaptation"}, {"value", m["return_after"]}};
    if (num(m, "return_before")) {
      h["baseline"] = {{"name", "before adaptation"}, {"value", m["return_before"]}};
    }
  } else if (num(m, "ep_return_mean")) {
    h = {{"name", "mean return of the last training episodes"}, {"value", m["ep_return_mean"]}};
    first_return();
  } else if (num(m, "trial_return")) {
    // RL²: the batch's mean total reward per trial, against the first metrics line's.
    h = {{"name", "mean total reward per trial of the last batch"}, {"value", m["trial_return"]}};
    if (num(first_line, "trial_return")) {
      h["baseline"] = {
          {"name", "at iteration " + std::to_string(first_line.value("iteration", 0LL))},
          {"value", first_line["trial_return"]}};
    }
  } else {
    return h;
  }
  if (config.contains("reference") && config["reference"].is_object() &&
      num(config["reference"], "value") && !config["reference"].value("name", "").empty()) {
    h["reference"] = config["reference"];
  }
  std::string text = h["name"].get<std::string>() + " " + number(h["value"].get<double>());
  std::string in_brackets;
  for (const char* k : {"baseline", "reference"}) {
    if (!h.contains(k)) continue;
    in_brackets += (in_brackets.empty() ? "" : ", ") + h[k].value("name", std::string(k)) + " " +
                   number(h[k]["value"].get<double>());
  }
  if (!in_brackets.empty()) text += " (" + in_brackets + ")";
  h["text"] = text;
  return h;
}

json checkpoint_config_json(const std::string& run_dir) {
  const Checkpoint c = load_checkpoint((std::filesystem::path(run_dir) / "checkpoint").string());
  if (!c.header.contains("config") || !c.header["config"].is_object()) {
    throw InvalidArgument("checkpoint", "the checkpoint in '" + run_dir + "' holds no config");
  }
  return c.header["config"];
}

json run_training(TrainingJob& job, const std::string& run_dir, const RunOptions& o) {
  namespace fs = std::filesystem;
  const std::string ckpt_path = (fs::path(run_dir) / "checkpoint").string();
  // Under mpirun every rank steps the job (the trainers split their work over the ranks and
  // combine it, so every rank holds the same state) and rank 0 alone writes run_dir, which the
  // other ranks read only to resume: it must be on a file system every rank sees.
  Communicator& comm = process_communicator();
  const bool writer = comm.rank() == 0;
  // Everything that can refuse the run is checked before anything in run_dir changes.
  if (writer) require_new_run_or_resume(run_dir, o.resume);
  Window window;
  if (o.resume) {
    const Checkpoint c = load_checkpoint(ckpt_path);
    job.restore(c);
    // A job checks its own state; the counters the loop runs on are checked here for every job.
    if (job.iteration() < 0 || job.iteration() > kMaxCheckpointCount || job.samples_done() < 0) {
      throw InvalidArgument("checkpoint '" + ckpt_path + "'",
                            "iteration " + std::to_string(job.iteration()) + " or samples " +
                                std::to_string(job.samples_done()) + " is out of range");
    }
    window.restore(c, job.samples_done());
  }
  job.on_start(run_dir, o.resume);
  // The event file comes before run_dir changes, so that a directory TensorBoard cannot use
  // refuses the run with nothing written.
  std::optional<TensorBoardWriter> tensorboard;
  if (writer && !o.tensorboard_dir.empty()) {
    std::optional<TensorBoardWriter::Resume> from;
    if (o.resume) from = TensorBoardWriter::Resume{job.iteration(), job.samples_done()};
    tensorboard.emplace(o.tensorboard_dir, job.sample_unit(), from);
  }
  // No rank writes before every rank has read what it resumes from.
  comm.barrier();
  // Every rank builds the checkpoint (a job may gather its state from the ranks); rank 0 saves it.
  auto checkpoint = [&] {
    Checkpoint c = job.to_checkpoint();
    if (!writer) return;
    window.save(c);
    save_checkpoint(ckpt_path, c);
  };
  if (!o.resume) window.reset(job.samples_done());
  // Everything a resume reads has been checked by now, so the stale temporaries can go.
  if (writer) make_run_directory(run_dir);
  // The checkpoint comes first: a run killed at any moment after it can be resumed, and one
  // killed before it leaves at most a temporary file, which a new run into the directory
  // removes.
  if (!o.resume) checkpoint();
  std::optional<MetricsLog> metrics;
  if (writer) {
    metrics.emplace(open_run_directory(run_dir, job.config_json(), o.resume, job.iteration()));
  }

  const RunCadence cad = job.cadence();
  const int64_t start_it = job.iteration();
  const int64_t start_samples = job.samples_done();
  const RunClock::time_point t0 = RunClock::now();
  RunClock::time_point last_draw = t0;
  json last_line = json::object();
  while (job.iteration() < cad.iterations) {
    if (o.before_step) o.before_step(job);
    const StepReport r = job.step();
    window.add(r.window);
    const bool last = r.iteration >= cad.iterations;
    json line = json::object();
    if (r.iteration % cad.log_every == 0 || last) {
      const double dt = seconds_since(window.t0);
      const int64_t samples = job.samples_done();
      line = {{"iteration", r.iteration},
              {"samples", samples},
              {"samples_per_s",
               dt > 0 ? static_cast<double>(samples - window.samples_at_start) / dt : 0.0}};
      line.update(window.means());
      line.update(r.latest);
      window.reset(samples);
    }
    // What a job adds at its own cadence (validation, best models) is output only: rank 0's.
    if (writer) job.after_step(r, run_dir, last, line);
    if (!line.empty() && writer) {
      line["iteration"] = r.iteration;
      line["wall_s"] = seconds_since(t0);
      metrics->append(line);
      if (tensorboard) tensorboard->write_metrics(line);
      last_line = line;
    }
    if (r.iteration % cad.checkpoint_every == 0 || last) checkpoint();
    if (o.progress && writer && (seconds_since(last_draw) > 0.2 || last)) {
      last_draw = RunClock::now();
      draw_progress(job, r, cad.iterations, start_it, start_samples, seconds_since(t0), last);
    }
  }
  const double wall = seconds_since(t0);
  json summary = {{"algorithm", job.algorithm()},
                  {"target", job.target()},
                  {"backend", job.backend_name()},
                  {"iterations", job.iteration()},
                  {"samples", job.samples_done()},
                  {"sample_unit", job.sample_unit()},
                  {"samples_per_s",
                   wall > 0 ? static_cast<double>(job.samples_done() - start_samples) / wall : 0.0},
                  {"wall_s", wall},
                  {"metrics", last_line}};
  if (comm.size() > 1) summary["ranks"] = comm.size();
  if (!writer) return summary;
  summary.update(job.finish(run_dir));
  const json headline = run_headline(summary, first_metrics_line(run_dir), job.config_json());
  if (!headline.empty()) summary["headline"] = headline;
  write_file_atomically((fs::path(run_dir) / "summary.json").string(), summary.dump(2) + "\n");
  return summary;
}

}  // namespace metasim
