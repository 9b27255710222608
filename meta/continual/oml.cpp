// OML and joint pretraining on the incremental sinusoid (see oml.hpp): config schema, data,
// the exact meta-gradient through the online inner loop, the training jobs and the incremental
// evaluation.
#include <metasim/meta/continual/oml.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>
#include <utility>

#include <metasim/host/checkpoint.hpp>
#include <metasim/host/config_schema.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/kernels/core/philox.hpp>
#include <metasim/meta/common/optimizer.hpp>
#include <metasim/meta/common/params_checkpoint.hpp>

namespace metasim::continual {

namespace {

using nlohmann::json;
using Field = config::Field<OmlConfig>;

constexpr double kPi = 3.14159265358979323846;
constexpr uint32_t kTrainPool = 0, kEvalPool = 1;
constexpr const char* kFormat = "metasim-continual 1";

const config::Schema<OmlConfig>& schema() {
  static const config::Schema<OmlConfig> kSchema([] {
    using C = OmlConfig;
    using config::choice_field;
    using config::int_field;
    using config::real_field;
    using config::text_field;
    std::vector<Field> f;
    f.push_back(text_field("description", &C::description, "free text kept with the run"));
    f.push_back(text_field("reference.name", &C::reference_name,
                           "source of a known figure for the run's headline value; empty: none"));
    f.push_back(real_field("reference.value", &C::reference_value, -1e30, 1e30, false, false,
                           "that figure"));
    f.push_back(choice_field("algorithm", &C::algorithm, {"oml", "pretrain"},
                             "oml: meta-train through the online inner loop; pretrain: train the "
                             "whole network on i.i.d. minibatches of the joint distribution"));
    f.push_back(choice_field("task_family", &C::task_family, {"incremental-sinusoid"},
                             "the function stream (y = A sin(x + phase), one-hot slot input)"));
    f.push_back(config::widths_field("model.hidden", &C::hidden, "1 to 8 widths in [1, 4096]",
                                     "the representation's ReLU layers; the head is linear"));
    f.push_back(int_field("slots", &C::slots, 1, 4096, "one-hot input slots (input = slots + 1)"));
    f.push_back(int_field("train_functions", &C::train_functions, 1, 1000000,
                          "functions in the meta-training pool"));
    f.push_back(int_field("meta_batch", &C::meta_batch, 1, 4096,
                          "functions per step, learned one after the other in the inner loop "
                          "(each gets its own slot: at most slots and train_functions)"));
    f.push_back(int_field("inner.minibatches", &C::inner_minibatches, 1, 10000,
                          "inner SGD steps per function"));
    f.push_back(int_field("inner.batch", &C::inner_batch, 1, 100000, "points per inner step"));
    f.push_back(real_field("inner.lr", &C::inner_lr, 0, 10, true, false, "inner SGD rate"));
    f.push_back(real_field("inner.clip", &C::inner_clip, 0, 1e30, false, false,
                           "element-wise clip of the inner gradient to [-clip, clip]; 0: none"));
    f.push_back(int_field("meta_points", &C::meta_points, 1, 100000,
                          "fresh points per function for the meta-loss (pretrain: extra points "
                          "per function and step)"));
    f.push_back(int_field("iterations", &C::iterations, 1, 1000000000LL, "training steps"));
    f.push_back(real_field("outer.lr", &C::outer_lr, 0, 10, true, false, "Adam's rate"));
    f.push_back(int_field("seed", &C::seed, 0, 9007199254740992LL,
                          "seed of the pools, the data and the initialisation (Philox)"));
    f.push_back(choice_field("precision", &C::precision, {"float", "double"},
                             "the representation's arithmetic (the head's is double)"));
    f.push_back(choice_field("backend", &C::backend, {"auto", "cpu"},
                             "where it runs; continual learning runs on the CPU only"));
    f.push_back(int_field("log_every", &C::log_every, 1, 1000000000LL, "steps per metrics line"));
    f.push_back(int_field("checkpoint_every", &C::checkpoint_every, 1, 1000000000LL,
                          "steps per checkpoint"));
    f.push_back(int_field("eval.every", &C::eval_every, 0, 1000000000LL,
                          "steps between incremental evaluations written to the metrics (the "
                          "stream's average error, backward and forward transfer), also after "
                          "the last; 0: none"));
    f.push_back(int_field("eval.runs", &C::eval_runs, 1, 100000,
                          "runs of each of those evaluations (the online learner, default "
                          "protocol)"));
    return f;
  }());
  return kSchema;
}

void check_cross_fields(const OmlConfig& c) {
  if (c.meta_batch > c.slots) {
    throw InvalidArgument("meta_batch", "must be at most slots (" + std::to_string(c.slots) +
                                            "): every function of a step needs its own slot");
  }
  if (c.meta_batch > c.train_functions) {
    throw InvalidArgument("meta_batch", "must be at most train_functions (" +
                                            std::to_string(c.train_functions) + ")");
  }
}

// k distinct values of [0, n) in draw order (a partial Fisher-Yates shuffle).
std::vector<int> draw_distinct(RandomStream& rng, int n, int k) {
  std::vector<int> pool(n);
  std::iota(pool.begin(), pool.end(), 0);
  for (int i = 0; i < k; ++i) {
    const int j = i + static_cast<int>(u32_below(rng.next_u32(), static_cast<uint32_t>(n - i)));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(k);
  return pool;
}

double draw_x(RandomStream& rng) { return rng.uniform<double>(-5.0, 5.0); }

template <typename T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

bool all_finite(const std::vector<double>& v) {
  for (double x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

// The head's prediction for one point.
double head_predict(const double* w, double b, const double* f, int h) {
  double s = b;
  for (int k = 0; k < h; ++k) s += w[k] * f[k];
  return s;
}

}  // namespace

OmlConfig resolve_oml_config(const json& file, const std::vector<std::string>& sets) {
  OmlConfig c = schema().resolve(file, sets);
  check_cross_fields(c);
  return c;
}

json to_json(const OmlConfig& c) { return schema().to_json(c); }

std::string oml_config_reference() {
  return schema().reference("Continual-learning config fields (oml, pretrain):");
}

NetShape oml_shape(const OmlConfig& c) {
  NetShape s;
  s.sizes.push_back(c.slots + 1);
  for (int w : c.hidden) s.sizes.push_back(w);
  s.sizes.push_back(1);
  return s;
}

double SineFunction::operator()(double x) const { return amplitude * std::sin(x + phase); }

SineFunction pool_function(uint64_t seed, uint32_t pool, uint32_t index) {
  RandomStream rng(make_key(seed, RngPurpose::kTaskSample), index, pool, 0u);
  SineFunction f;
  f.amplitude = 5.0 * (rng.uniform<double>() + 0.02);
  f.phase = kPi * rng.uniform<double>();
  return f;
}

void Points::add(int slots, int slot, double xv, double yv) {
  const std::size_t base = x.size();
  x.resize(base + slots + 1, 0.0);
  x[base + slot] = 1.0;
  x[base + slots] = xv;
  y.push_back(yv);
  ++count;
}

OmlBatch oml_batch(const OmlConfig& c, int64_t step) {
  RandomStream rng(make_key(c.seed, RngPurpose::kData), static_cast<uint32_t>(step),
                   static_cast<uint32_t>(step >> 32), 0u);
  OmlBatch b;
  b.functions = draw_distinct(rng, c.train_functions, c.meta_batch);
  const std::vector<int> slots = draw_distinct(rng, c.slots, c.meta_batch);
  for (int i = 0; i < c.meta_batch; ++i) {
    const SineFunction f = pool_function(c.seed, kTrainPool, static_cast<uint32_t>(b.functions[i]));
    for (int p = 0; p < c.inner_minibatches * c.inner_batch; ++p) {
      const double x = draw_x(rng);
      b.inner.add(c.slots, slots[i], x, f(x));
    }
    for (int p = 0; p < c.meta_points; ++p) {
      const double x = draw_x(rng);
      b.meta.add(c.slots, slots[i], x, f(x));
    }
  }
  return b;
}

std::vector<double> initial_params(const NetShape& shape, uint64_t seed) {
  std::vector<double> p(shape.size(), 0.0);
  for (int l = 0; l < shape.layers(); ++l) {
    const int in = shape.sizes[l], out = shape.sizes[l + 1];
    const double std = std::sqrt(2.0 / in);
    double* w = p.data() + shape.weight_offset(l);
    for (int j = 0; j < out; ++j) {
      RandomStream rng(make_key(seed, RngPurpose::kModelInit), static_cast<uint32_t>(l),
                       static_cast<uint32_t>(j), 0u);
      for (int k = 0; k < in; ++k)
        w[static_cast<std::size_t>(j) * in + k] = std * rng.normal<double>();
    }
  }
  return p;
}

template <typename T>
OmlLosses oml_meta_gradient(const OmlConfig& c, const std::vector<double>& params,
                            const OmlBatch& batch, std::vector<double>* grad) {
  const NetShape shape = oml_shape(c);
  const int h = shape.features();
  const int n_inner = batch.inner.count, n_meta = batch.meta.count;
  const int bs = c.inner_batch;
  const int steps = n_inner / bs;
  FeatureNet<T> net(shape);
  net.load(params);
  // Both sets of points in one pass: the inner trajectory first, then the meta-loss points.
  std::vector<double> xs = batch.inner.x;
  xs.insert(xs.end(), batch.meta.x.begin(), batch.meta.x.end());
  const std::vector<T> xt = cast<T>(xs);
  const std::vector<T>& ft = net.forward(xt.data(), n_inner + n_meta);
  const std::vector<double> f(ft.begin(), ft.end());
  const auto feat = [&](int p) { return f.data() + static_cast<std::size_t>(p) * h; };

  // theta[t] = (w, b) before inner step t; residuals and clip masks of every step.
  const std::size_t hp = static_cast<std::size_t>(h) + 1;
  std::vector<double> theta(static_cast<std::size_t>(steps + 1) * hp);
  std::copy(params.begin() + shape.head_offset(), params.end(), theta.begin());
  std::vector<double> resid(n_inner);
  std::vector<unsigned char> mask(static_cast<std::size_t>(steps) * hp);
  const double scale = 2.0 / bs;
  std::vector<double> g(hp);
  for (int t = 0; t < steps; ++t) {
    const double* th = theta.data() + t * hp;
    std::fill(g.begin(), g.end(), 0.0);
    for (int i = t * bs; i < (t + 1) * bs; ++i) {
      const double r = head_predict(th, th[h], feat(i), h) - batch.inner.y[i];
      resid[i] = r;
      for (int k = 0; k < h; ++k) g[k] += r * feat(i)[k];
      g[h] += r;
    }
    double* next = theta.data() + (t + 1) * hp;
    for (std::size_t k = 0; k < hp; ++k) {
      double gk = scale * g[k];
      bool pass = true;
      if (c.inner_clip > 0 && std::abs(gk) >= c.inner_clip) {
        gk = gk > 0 ? c.inner_clip : -c.inner_clip;
        pass = false;
      }
      mask[t * hp + k] = pass;
      next[k] = th[k] - c.inner_lr * gk;
    }
  }

  OmlLosses losses;
  const double* th0 = theta.data();
  const double* thT = theta.data() + steps * hp;
  std::vector<double> meta_resid(n_meta);
  for (int j = 0; j < n_meta; ++j) {
    const double* fj = feat(n_inner + j);
    const double r0 = head_predict(th0, th0[h], fj, h) - batch.meta.y[j];
    const double r = head_predict(thT, thT[h], fj, h) - batch.meta.y[j];
    losses.before += r0 * r0;
    losses.after += r * r;
    meta_resid[j] = r;
  }
  losses.before /= n_meta;
  losses.after /= n_meta;
  if (grad == nullptr) return losses;

  // Reverse through the inner loop: tb = d(meta-loss)/d(theta[t]), fbar = d/d(features).
  grad->assign(shape.size(), 0.0);
  std::vector<double> fbar(static_cast<std::size_t>(n_inner + n_meta) * h, 0.0);
  std::vector<double> tb(hp, 0.0);
  for (int j = 0; j < n_meta; ++j) {
    const double d = 2.0 / n_meta * meta_resid[j];
    const double* fj = feat(n_inner + j);
    double* fb = fbar.data() + static_cast<std::size_t>(n_inner + j) * h;
    for (int k = 0; k < h; ++k) {
      tb[k] += d * fj[k];
      fb[k] = d * thT[k];
    }
    tb[h] += d;
  }
  std::vector<double> v(hp);
  for (int t = steps - 1; t >= 0; --t) {
    const double* th = theta.data() + t * hp;
    for (std::size_t k = 0; k < hp; ++k) v[k] = mask[t * hp + k] ? tb[k] : 0.0;
    for (int i = t * bs; i < (t + 1) * bs; ++i) {
      const double* fi = feat(i);
      const double s = head_predict(v.data(), v[h], fi, h);
      const double a = c.inner_lr * scale;
      double* fb = fbar.data() + static_cast<std::size_t>(i) * h;
      for (int k = 0; k < h; ++k) {
        tb[k] -= a * s * fi[k];
        fb[k] = -a * (th[k] * s + resid[i] * v[k]);
      }
      tb[h] -= a * s;
    }
  }
  std::copy(tb.begin(), tb.end(), grad->begin() + shape.head_offset());
  const std::vector<T> fbar_t = cast<T>(fbar);
  net.backward(fbar_t.data(), *grad);
  return losses;
}

template <typename T>
double joint_loss_gradient(const NetShape& shape, const std::vector<double>& params,
                           const Points& points, std::vector<double>* grad) {
  const int h = shape.features(), n = points.count;
  FeatureNet<T> net(shape);
  net.load(params);
  const std::vector<T> xt = cast<T>(points.x);
  const std::vector<T>& ft = net.forward(xt.data(), n);
  const double* w = params.data() + shape.head_offset();
  double loss = 0;
  std::vector<double> resid(n);
  for (int p = 0; p < n; ++p) {
    double s = w[h];
    for (int k = 0; k < h; ++k)
      s += w[k] * static_cast<double>(ft[static_cast<std::size_t>(p) * h + k]);
    resid[p] = s - points.y[p];
    loss += resid[p] * resid[p];
  }
  loss /= n;
  if (grad == nullptr) return loss;
  grad->assign(shape.size(), 0.0);
  std::vector<T> fbar(static_cast<std::size_t>(n) * h);
  double* gh = grad->data() + shape.head_offset();
  for (int p = 0; p < n; ++p) {
    const double d = 2.0 / n * resid[p];
    for (int k = 0; k < h; ++k) {
      gh[k] += d * static_cast<double>(ft[static_cast<std::size_t>(p) * h + k]);
      fbar[static_cast<std::size_t>(p) * h + k] = static_cast<T>(d * w[k]);
    }
    gh[h] += d;
  }
  net.backward(fbar.data(), *grad);
  return loss;
}

template OmlLosses oml_meta_gradient<float>(const OmlConfig&, const std::vector<double>&,
                                            const OmlBatch&, std::vector<double>*);
template OmlLosses oml_meta_gradient<double>(const OmlConfig&, const std::vector<double>&,
                                             const OmlBatch&, std::vector<double>*);
template double joint_loss_gradient<float>(const NetShape&, const std::vector<double>&,
                                           const Points&, std::vector<double>*);
template double joint_loss_gradient<double>(const NetShape&, const std::vector<double>&,
                                            const Points&, std::vector<double>*);

namespace {

// ---------------------------------------------------------------------------------------------
// Training under the run loop.

class ContinualJob final : public TrainingJob {
 public:
  explicit ContinualJob(OmlConfig c)
      : c_(std::move(c)),
        shape_(oml_shape(c_)),
        params_(initial_params(shape_, c_.seed)),
        opt_(meta::OptimizerSettings{"adam", c_.outer_lr}, params_.size()) {}

  std::string algorithm() const override { return c_.algorithm; }
  std::string target() const override { return c_.task_family; }
  std::string backend_name() const override { return "cpu"; }
  const char* sample_unit() const override { return "tasks"; }
  json config_json() const override { return to_json(c_); }
  RunCadence cadence() const override { return {c_.iterations, c_.log_every, c_.checkpoint_every}; }
  int64_t iteration() const override { return iteration_; }
  int64_t samples_done() const override { return iteration_ * c_.meta_batch; }

  StepReport step() override {
    const OmlBatch batch = oml_batch(c_, iteration_);
    std::vector<double> grad;
    StepReport r;
    if (c_.algorithm == "oml") {
      const OmlLosses l = c_.precision == "double"
                              ? oml_meta_gradient<double>(c_, params_, batch, &grad)
                              : oml_meta_gradient<float>(c_, params_, batch, &grad);
      check_finite(l.after, grad, batch);
      r.window = {{"meta_loss", l.after}, {"loss_before", l.before}};
      r.latest = {{"inner_steps", c_.meta_batch * c_.inner_minibatches}};
      r.progress =
          "meta-loss " + std::to_string(l.after) + " (before " + std::to_string(l.before) + ")";
    } else {
      Points all = batch.inner;
      all.x.insert(all.x.end(), batch.meta.x.begin(), batch.meta.x.end());
      all.y.insert(all.y.end(), batch.meta.y.begin(), batch.meta.y.end());
      all.count += batch.meta.count;
      const double loss = c_.precision == "double"
                              ? joint_loss_gradient<double>(shape_, params_, all, &grad)
                              : joint_loss_gradient<float>(shape_, params_, all, &grad);
      check_finite(loss, grad, batch);
      r.window = {{"loss", loss}};
      r.progress = "loss " + std::to_string(loss);
    }
    opt_.step(params_, grad, c_.outer_lr);
    ++iteration_;
    r.iteration = iteration_;
    r.samples = c_.meta_batch;
    return r;
  }

  Checkpoint to_checkpoint() const override {
    return meta::params_checkpoint(kFormat, to_json(c_), iteration_, params_, opt_);
  }

  void restore(const Checkpoint& k) override {
    iteration_ = meta::restore_params_checkpoint(k, kFormat, "a continual-learning", params_, opt_);
  }

  void after_step(const StepReport& /*report*/, const std::string& /*run_dir*/, bool last,
                  json& line) override {
    if (c_.eval_every == 0 || (iteration_ % c_.eval_every != 0 && !last)) return;
    IncrementalEval e;
    e.runs = c_.eval_runs;
    e.functions = std::min(e.functions, c_.slots);
    e.seed = c_.seed;
    const json r = evaluate_incremental(c_, params_, e);
    line["stream_average_error"] = r["average_error"];
    line["stream_backward_transfer"] = r["backward_transfer"];
    line["stream_forward_transfer"] = r["forward_transfer"];
  }

  json finish(const std::string& /*run_dir*/) override {
    return {{"model", "incremental-sinusoid " + describe_shape()}};
  }

 private:
  std::string describe_shape() const {
    std::string s;
    for (std::size_t i = 0; i < shape_.sizes.size(); ++i) {
      if (i > 0) s += '-';
      s += std::to_string(shape_.sizes[i]);
    }
    s += " relu, linear head";
    return s;
  }

  // A non-finite loss or gradient stops the run naming the step and the first function (its
  // index in the training pool) whose meta-loss points give a non-finite prediction.
  void check_finite(double loss, const std::vector<double>& grad, const OmlBatch& batch) const {
    if (std::isfinite(loss) && all_finite(grad)) return;
    int culprit = batch.functions.empty() ? -1 : batch.functions.front();
    const std::vector<double> f = [&] {
      FeatureNet<double> net(shape_);
      net.load(params_);
      return net.forward(batch.meta.x.data(), batch.meta.count);
    }();
    const int h = shape_.features();
    const double* w = params_.data() + shape_.head_offset();
    for (int j = 0; j < batch.meta.count; ++j) {
      if (!std::isfinite(head_predict(w, w[h], f.data() + static_cast<std::size_t>(j) * h, h))) {
        culprit = batch.functions[j / c_.meta_points];
        break;
      }
    }
    throw Error("iteration " + std::to_string(iteration_) +
                ": the loss or its gradient is not finite (task " + std::to_string(culprit) +
                " of the training pool); lower inner.lr or outer.lr");
  }

  OmlConfig c_;
  NetShape shape_;
  std::vector<double> params_;
  meta::OuterOptimizer opt_;
  int64_t iteration_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The incremental evaluation.

}  // namespace

StreamData incremental_data(int slots, const IncrementalEval& e, int run) {
  RandomStream rng(make_key(e.seed, RngPurpose::kData), static_cast<uint32_t>(run), 1u, 0u);
  const std::vector<int> chosen = draw_distinct(rng, 1000, e.functions);
  StreamData d;
  d.train.resize(e.functions);
  d.heldout.resize(e.functions);
  for (int j = 0; j < e.functions; ++j) {
    const SineFunction f = pool_function(e.seed, kEvalPool, static_cast<uint32_t>(chosen[j]));
    for (int p = 0; p < e.minibatches * e.batch; ++p) {
      const double x = draw_x(rng);
      d.train[j].add(slots, j, x, f(x));
    }
    for (int p = 0; p < e.heldout; ++p) {
      const double x = draw_x(rng);
      d.heldout[j].add(slots, j, x, f(x));
    }
  }
  return d;
}

namespace {

// Features (double) of a set of points through the representation.
template <typename T>
std::vector<double> features_of(FeatureNet<T>& net, const Points& p) {
  const std::vector<T> x = cast<T>(p.x);
  const std::vector<T>& f = net.forward(x.data(), p.count);
  return std::vector<double>(f.begin(), f.end());
}

double head_mse(const std::vector<double>& head, const std::vector<double>& f, const Points& p,
                int h) {
  double s = 0;
  for (int i = 0; i < p.count; ++i) {
    const double r =
        head_predict(head.data(), head[h], f.data() + static_cast<std::size_t>(i) * h, h) - p.y[i];
    s += r * r;
  }
  return s / p.count;
}

// One SGD step of the head on points [begin, begin + n) of (f, y).
void head_sgd(std::vector<double>& head, const double* f, const double* y, int n, int h,
              double lr) {
  std::vector<double> g(h + 1, 0.0);
  for (int i = 0; i < n; ++i) {
    const double* fi = f + static_cast<std::size_t>(i) * h;
    const double r = head_predict(head.data(), head[h], fi, h) - y[i];
    for (int k = 0; k < h; ++k) g[k] += r * fi[k];
    g[h] += r;
  }
  for (int k = 0; k <= h; ++k) head[k] -= lr * 2.0 / n * g[k];
}

// R (functions x functions, row i: after learning 0..i) and b (before anything) of one run.
template <typename T>
void run_errors(const OmlConfig& c, const std::vector<double>& params, const IncrementalEval& e,
                int run, std::vector<double>& R, std::vector<double>& b) {
  const NetShape shape = oml_shape(c);
  const int h = shape.features(), nf = e.functions;
  const StreamData d = incremental_data(c.slots, e, run);
  R.assign(static_cast<std::size_t>(nf) * nf, 0.0);
  b.assign(nf, 0.0);
  if (e.learner == "scratch") {
    // Every layer trained online from a fresh initialisation (a seed of its own per run).
    std::vector<double> p =
        initial_params(shape, e.seed ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(run + 1)));
    const auto errors = [&](std::vector<double>& out) {
      for (int j = 0; j < nf; ++j) out[j] = joint_loss_gradient<T>(shape, p, d.heldout[j], nullptr);
    };
    errors(b);
    std::vector<double> grad, row(nf);
    for (int i = 0; i < nf; ++i) {
      for (int m = 0; m < e.minibatches; ++m) {
        Points mb;
        mb.count = e.batch;
        const std::size_t in = static_cast<std::size_t>(c.slots) + 1;
        mb.x.assign(d.train[i].x.begin() + m * e.batch * in,
                    d.train[i].x.begin() + (m + 1) * e.batch * in);
        mb.y.assign(d.train[i].y.begin() + m * e.batch, d.train[i].y.begin() + (m + 1) * e.batch);
        joint_loss_gradient<T>(shape, p, mb, &grad);
        for (std::size_t k = 0; k < p.size(); ++k) p[k] -= e.lr * grad[k];
      }
      errors(row);
      std::copy(row.begin(), row.end(), R.begin() + static_cast<std::size_t>(i) * nf);
    }
    return;
  }
  // The representation is frozen: features once per point.
  FeatureNet<T> net(shape);
  net.load(params);
  std::vector<std::vector<double>> ftrain(nf), fheld(nf);
  for (int j = 0; j < nf; ++j) {
    ftrain[j] = features_of(net, d.train[j]);
    fheld[j] = features_of(net, d.heldout[j]);
  }
  const std::vector<double> head0(params.begin() + shape.head_offset(), params.end());
  std::vector<double> head = head0;
  for (int j = 0; j < nf; ++j) b[j] = head_mse(head0, fheld[j], d.heldout[j], h);
  RandomStream order_rng(make_key(e.seed, RngPurpose::kData), static_cast<uint32_t>(run), 2u, 0u);
  for (int i = 0; i < nf; ++i) {
    if (e.learner == "online") {
      for (int m = 0; m < e.minibatches; ++m) {
        head_sgd(head, ftrain[i].data() + static_cast<std::size_t>(m) * e.batch * h,
                 d.train[i].y.data() + m * e.batch, e.batch, h, e.lr);
      }
    } else {
      // The oracle: minibatches of all data seen so far, shuffled anew each pass.
      head = head0;
      const int total = (i + 1) * e.minibatches * e.batch;
      std::vector<double> fall, yall;
      for (int j = 0; j <= i; ++j) {
        fall.insert(fall.end(), ftrain[j].begin(), ftrain[j].end());
        yall.insert(yall.end(), d.train[j].y.begin(), d.train[j].y.end());
      }
      std::vector<double> fb(static_cast<std::size_t>(e.batch) * h), yb(e.batch);
      for (int epoch = 0; epoch < e.epochs; ++epoch) {
        const std::vector<int> perm = draw_distinct(order_rng, total, total);
        for (int m = 0; m + e.batch <= total; m += e.batch) {
          for (int q = 0; q < e.batch; ++q) {
            const int src = perm[m + q];
            std::copy(fall.begin() + static_cast<std::size_t>(src) * h,
                      fall.begin() + static_cast<std::size_t>(src + 1) * h,
                      fb.begin() + static_cast<std::size_t>(q) * h);
            yb[q] = yall[src];
          }
          head_sgd(head, fb.data(), yb.data(), e.batch, h, e.lr);
        }
      }
    }
    for (int j = 0; j < nf; ++j) {
      R[static_cast<std::size_t>(i) * nf + j] = head_mse(head, fheld[j], d.heldout[j], h);
    }
  }
}

struct MeanErr {
  std::vector<double> sum, sq;
  int n = 0;
  explicit MeanErr(std::size_t size) : sum(size, 0.0), sq(size, 0.0) {}
  void add(const std::vector<double>& x) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      sum[i] += x[i];
      sq[i] += x[i] * x[i];
    }
    ++n;
  }
  double mean(std::size_t i) const { return sum[i] / n; }
  double stderr_of(std::size_t i) const {
    if (n < 2) return 0.0;
    const double m = mean(i);
    return std::sqrt(std::max(0.0, (sq[i] - n * m * m) / (n - 1)) / n);
  }
  json means() const {
    json a = json::array();
    for (std::size_t i = 0; i < sum.size(); ++i) a.push_back(mean(i));
    return a;
  }
  json stderrs() const {
    json a = json::array();
    for (std::size_t i = 0; i < sum.size(); ++i) a.push_back(stderr_of(i));
    return a;
  }
};

void check_eval(const OmlConfig& c, const IncrementalEval& e) {
  if (e.learner != "online" && e.learner != "iid" && e.learner != "scratch") {
    throw InvalidArgument("learner", "must be online, iid or scratch, got '" + e.learner + "'");
  }
  const auto in = [](const char* field, long long v, long long lo, long long hi) {
    if (v < lo || v > hi) {
      throw InvalidArgument(field, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                       "], got " + std::to_string(v));
    }
  };
  in("runs", e.runs, 1, 100000);
  in("tasks", e.functions, 1, std::min(c.slots, 1000));
  in("steps", e.minibatches, 1, 100000);
  in("shots", e.batch, 1, 100000);
  in("query", e.heldout, 1, 1000000);
  in("epochs", e.epochs, 1, 10000);
  if (!(e.lr > 0 && e.lr <= 10)) {
    throw InvalidArgument("lr", "must be in (0, 10], got " + std::to_string(e.lr));
  }
}

}  // namespace

json evaluate_incremental(const OmlConfig& c, const std::vector<double>& params,
                          const IncrementalEval& e) {
  check_eval(c, e);
  const auto start = std::chrono::steady_clock::now();
  const int nf = e.functions;
  MeanErr curve(nf), final_row(nf), transfer(3), matrix(static_cast<std::size_t>(nf) * nf),
      before(nf);
  std::vector<double> R, b;
  for (int run = 0; run < e.runs; ++run) {
    if (c.precision == "double") {
      run_errors<double>(c, params, e, run, R, b);
    } else {
      run_errors<float>(c, params, e, run, R, b);
    }
    std::vector<double> mse(nf), last(nf);
    for (int i = 0; i < nf; ++i) {
      double s = 0;
      for (int j = 0; j <= i; ++j) s += R[static_cast<std::size_t>(i) * nf + j];
      mse[i] = s / (i + 1);
      last[i] = R[static_cast<std::size_t>(nf - 1) * nf + i];
    }
    double bwt = 0, fwt = 0;
    for (int j = 0; j + 1 < nf; ++j) bwt += last[j] - R[static_cast<std::size_t>(j) * nf + j];
    for (int j = 1; j < nf; ++j) fwt += R[static_cast<std::size_t>(j - 1) * nf + j] - b[j];
    if (nf > 1) {
      bwt /= nf - 1;
      fwt /= nf - 1;
    }
    for (double x : mse) {
      if (!std::isfinite(x)) {
        throw Error("evaluation run " + std::to_string(run) +
                    ": the error is not finite (the learner diverged); lower --lr");
      }
    }
    matrix.add(R);
    before.add(b);
    curve.add(mse);
    final_row.add(last);
    transfer.add({mse[nf - 1], bwt, fwt});
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {{"kind", "continual"},
          {"learner", e.learner},
          {"runs", e.runs},
          {"functions", nf},
          {"minibatches", e.minibatches},
          {"batch", e.batch},
          {"heldout", e.heldout},
          {"lr", e.lr},
          {"epochs", e.learner == "iid" ? json(e.epochs) : json(nullptr)},
          {"mse_after_functions", curve.means()},
          {"mse_after_functions_stderr", curve.stderrs()},
          {"final_mse_per_function", final_row.means()},
          {"error_matrix", matrix.means()},
          {"error_before", before.means()},
          {"average_error", transfer.mean(0)},
          {"average_error_stderr", transfer.stderr_of(0)},
          {"backward_transfer", transfer.mean(1)},
          {"backward_transfer_stderr", transfer.stderr_of(1)},
          {"forward_transfer", transfer.mean(2)},
          {"forward_transfer_stderr", transfer.stderr_of(2)},
          {"seed", e.seed},
          {"seconds", seconds},
          {"score",
           {{"name", "mse after " + std::to_string(nf) + " functions"},
            {"value", transfer.mean(0)},
            {"higher_is_better", false}}}};
}

std::vector<AlgorithmEntry> continual_algorithms() {
  std::vector<AlgorithmEntry> out;
  const std::pair<const char*, const char*> names[] = {
      {"oml",
       "OML: a representation meta-trained for online learning of its head (Javed & White "
       "2019)"},
      {"pretrain", "the same network trained on the joint distribution (OML's baseline)"}};
  for (const auto& [name, summary] : names) {
    AlgorithmEntry& e = out.emplace_back();
    e.name = name;
    e.kind = "continual";
    e.summary = summary;
    e.check_config = [](const json& config, const std::vector<std::string>& sets) {
      return to_json(resolve_oml_config(config, sets));
    };
    e.make_job = [](const json& config, const std::vector<std::string>& sets) {
      return std::unique_ptr<TrainingJob>(new ContinualJob(resolve_oml_config(config, sets)));
    };
    e.config_reference = oml_config_reference;
    e.eval_fields = {"tasks", "steps", "shots", "query", "lr", "runs", "learner", "epochs"};
    e.evaluate = [](const std::string& run_dir, const EvalArgs& a) {
      const Checkpoint k =
          load_checkpoint((std::filesystem::path(run_dir) / "checkpoint").string());
      if (!checkpoint_has_format(k, kFormat)) {
        throw InvalidArgument("checkpoint", "is not a continual-learning checkpoint");
      }
      const OmlConfig c = resolve_oml_config(k.header.at("config"), {});
      const std::vector<double>& params = checkpoint_array(k, "params", oml_shape(c).size());
      IncrementalEval e;
      e.functions = a.tasks.value_or(e.functions);
      e.minibatches = a.steps.value_or(e.minibatches);
      e.batch = a.shots.value_or(e.batch);
      e.heldout = a.query.value_or(e.heldout);
      e.runs = a.runs.value_or(e.runs);
      e.learner = a.learner.value_or(e.learner);
      e.epochs = a.epochs.value_or(e.epochs);
      if (a.lr.size() > 1) throw InvalidArgument("lr", "takes one rate for continual runs");
      if (!a.lr.empty()) e.lr = a.lr.front();
      // Evaluation functions come from their own pool; the default seed is the run's.
      e.seed = a.seed.value_or(c.seed);
      json r = evaluate_incremental(c, params, e);
      r["algorithm"] = c.algorithm;
      r["target"] = c.task_family;
      r["checkpoint"] = "latest";
      r["iteration"] = checkpoint_int(k, "iteration", 0, kMaxCheckpointCount);
      r["backend"] = "cpu";
      return r;
    };
  }
  return out;
}

}  // namespace metasim::continual
