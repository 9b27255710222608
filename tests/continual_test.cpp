// OML and joint pretraining on the incremental sinusoid: the losses against a plain per-point
// reference, every gradient entry against central finite differences, precision and thread-count
// invariance, training, resume, the incremental evaluation against a hand-run learner, and the
// errors for bad input.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <metasim/host/checkpoint.hpp>
#include <metasim/kernels/core/error.hpp>
#include <metasim/meta/algorithms.hpp>
#include <metasim/meta/continual/oml.hpp>

#include "test_support.hpp"

namespace metasim::continual {
namespace {

using test_support::read_jsonl;
using test_support::temp_dir;

OmlConfig small_config() {
  OmlConfig c;
  c.hidden = {7, 6};
  c.slots = 4;
  c.train_functions = 9;
  c.meta_batch = 3;
  c.inner_minibatches = 2;
  c.inner_batch = 3;
  c.meta_points = 4;
  c.inner_lr = 0.05;  // large enough that the second-order terms matter
  c.inner_clip = 0;
  c.precision = "double";
  c.seed = 7;
  return c;
}

// Parameters away from the initialisation's zero biases, so that no ReLU sits on its kink.
std::vector<double> test_params(const OmlConfig& c) {
  std::vector<double> p = initial_params(oml_shape(c), 3);
  for (std::size_t i = 0; i < p.size(); ++i)
    p[i] += 0.05 * std::sin(1.7 * static_cast<double>(i) + 0.3);
  return p;
}

// The network's prediction for one point by plain loops (no batching, no transposes).
double reference_predict(const NetShape& s, const std::vector<double>& p, const double* x) {
  std::vector<double> a(x, x + s.input());
  for (int l = 0; l < s.layers(); ++l) {
    const int in = s.sizes[l], out = s.sizes[l + 1];
    std::vector<double> z(out);
    for (int j = 0; j < out; ++j) {
      double v = p[s.bias_offset(l) + j];
      for (int k = 0; k < in; ++k)
        v += p[s.weight_offset(l) + static_cast<std::size_t>(j) * in + k] * a[k];
      z[j] = l + 1 < s.layers() ? std::max(v, 0.0) : v;
    }
    a = z;
  }
  return a[0];
}

// One SGD step on the head's parameters only from n points (x: n rows of inputs), the gradient
// from the plain per-point prediction (each head parameter's slope by a unit step, exact for the
// linear head), clipped to [-clip, clip] when clip > 0.
void reference_head_step(const NetShape& s, std::vector<double>& p, const double* x,
                         const double* y, int n, double lr, double clip) {
  const std::size_t in = static_cast<std::size_t>(s.input());
  const std::size_t head = s.head_offset();
  std::vector<double> g(p.size() - head, 0.0);
  for (int i = 0; i < n; ++i) {
    const double* xi = x + i * in;
    const double r = reference_predict(s, p, xi) - y[i];
    for (std::size_t k = 0; k < g.size(); ++k) {
      std::vector<double> q = p;
      q[head + k] += 1.0;
      g[k] += 2.0 / n * r * (reference_predict(s, q, xi) - reference_predict(s, p, xi));
    }
  }
  for (std::size_t k = 0; k < g.size(); ++k) {
    const double gk = clip > 0 ? std::max(-clip, std::min(clip, g[k])) : g[k];
    p[head + k] -= lr * gk;
  }
}

// The meta-loss by the definition: SGD on the head's parameters only, minibatch after minibatch,
// each step's gradient from the plain per-point prediction (by finite differences of the head's
// linear map, exact for a linear function), clipped, then the MSE on the meta points.
OmlLosses reference_losses(const OmlConfig& c, std::vector<double> p, const OmlBatch& b) {
  const NetShape s = oml_shape(c);
  const std::size_t in = static_cast<std::size_t>(s.input());
  const auto meta_mse = [&] {
    double sum = 0;
    for (int j = 0; j < b.meta.count; ++j) {
      const double r = reference_predict(s, p, b.meta.x.data() + j * in) - b.meta.y[j];
      sum += r * r;
    }
    return sum / b.meta.count;
  };
  OmlLosses l;
  l.before = meta_mse();
  for (int t = 0; t < b.inner.count / c.inner_batch; ++t) {
    reference_head_step(s, p, b.inner.x.data() + t * c.inner_batch * in,
                        b.inner.y.data() + t * c.inner_batch, c.inner_batch, c.inner_lr,
                        c.inner_clip);
  }
  l.after = meta_mse();
  return l;
}

TEST(Oml, LossesMatchThePlainReference) {
  {
    // The clip of the second case below is active: it changes the result.
    OmlConfig c = small_config();
    const std::vector<double> p = test_params(c);
    const OmlBatch b = oml_batch(c, 3);
    const double unclipped = oml_meta_gradient<double>(c, p, b, nullptr).after;
    c.inner_clip = 0.5;
    EXPECT_GT(std::abs(oml_meta_gradient<double>(c, p, b, nullptr).after - unclipped), 1e-3);
  }
  for (double clip : {0.0, 0.5}) {
    OmlConfig c = small_config();
    c.inner_clip = clip;
    const std::vector<double> p = test_params(c);
    const OmlBatch b = oml_batch(c, 3);
    const OmlLosses got = oml_meta_gradient<double>(c, p, b, nullptr);
    const OmlLosses want = reference_losses(c, p, b);
    EXPECT_NEAR(got.before, want.before, 1e-10 * want.before) << "clip " << clip;
    EXPECT_NEAR(got.after, want.after, 1e-10 * want.after) << "clip " << clip;
    EXPECT_LT(got.after, got.before) << "the inner loop should fit the functions";
  }
}

// Central differences of f at every parameter, compared with the analytic gradient.
template <class F>
void expect_gradient_matches(const std::vector<double>& p, const std::vector<double>& grad, F f,
                             const std::string& what) {
  ASSERT_EQ(grad.size(), p.size());
  double scale = 0;
  for (double g : grad) scale = std::max(scale, std::abs(g));
  ASSERT_GT(scale, 0.0);
  const double h = 1e-6;
  int checked = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    std::vector<double> up = p, down = p;
    up[i] += h;
    down[i] -= h;
    const double fd = (f(up) - f(down)) / (2 * h);
    EXPECT_NEAR(grad[i], fd, 1e-6 * scale + 1e-6 * std::abs(fd)) << what << ", parameter " << i;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(p.size()));
}

TEST(Oml, MetaGradientMatchesFiniteDifferences) {
  for (double clip : {0.0, 0.5}) {
    OmlConfig c = small_config();
    c.inner_clip = clip;
    const std::vector<double> p = test_params(c);
    const OmlBatch b = oml_batch(c, 5);
    std::vector<double> grad;
    oml_meta_gradient<double>(c, p, b, &grad);
    expect_gradient_matches(
        p, grad,
        [&](const std::vector<double>& q) {
          return oml_meta_gradient<double>(c, q, b, nullptr).after;
        },
        "meta-gradient (clip " + std::to_string(clip) + ")");
  }
}

// The reference implementation's inner loop run by PyTorch autograd (create_graph, its own
// element-wise clip) on the same parameters and points: tests/data/oml/ records it.
TEST(Oml, MetaGradientMatchesPyTorchAutograd) {
  std::ifstream in(std::string(METASIM_TEST_DATA_DIR) + "/oml/torch_meta_gradient.json");
  ASSERT_TRUE(in) << "tests/data/oml/torch_meta_gradient.json is missing";
  const nlohmann::json t = nlohmann::json::parse(in);
  OmlConfig c;
  c.slots = t["slots"];
  c.hidden = t["hidden"].get<std::vector<int>>();
  c.meta_batch = t["meta_batch"];
  c.inner_minibatches = t["minibatches"];
  c.inner_batch = t["batch"];
  c.meta_points = t["meta_points"];
  c.inner_lr = t["lr"];
  c.inner_clip = t["clip"];
  c.precision = "double";
  OmlBatch b;
  b.inner.x = t["inner_x"].get<std::vector<double>>();
  b.inner.y = t["inner_y"].get<std::vector<double>>();
  b.inner.count = static_cast<int>(b.inner.y.size());
  b.meta.x = t["meta_x"].get<std::vector<double>>();
  b.meta.y = t["meta_y"].get<std::vector<double>>();
  b.meta.count = static_cast<int>(b.meta.y.size());
  b.functions = {0, 1, 2};
  const std::vector<double> p = t["params"].get<std::vector<double>>();
  const std::vector<double> want = t["gradient"].get<std::vector<double>>();
  std::vector<double> grad;
  const OmlLosses l = oml_meta_gradient<double>(c, p, b, &grad);
  EXPECT_NEAR(l.before, t["loss_before"].get<double>(), 1e-12 * l.before);
  EXPECT_NEAR(l.after, t["loss_after"].get<double>(), 1e-12 * l.after);
  ASSERT_EQ(grad.size(), want.size());
  double scale = 0;
  for (double g : want) scale = std::max(scale, std::abs(g));
  for (std::size_t i = 0; i < grad.size(); ++i) {
    EXPECT_NEAR(grad[i], want[i], 1e-10 * scale) << "parameter " << i;
  }
  // The recorded case exercises the clip: without it the loss differs.
  c.inner_clip = 0;
  EXPECT_GT(std::abs(oml_meta_gradient<double>(c, p, b, nullptr).after - l.after), 1e-3);
}

TEST(Oml, JointGradientMatchesFiniteDifferences) {
  const OmlConfig c = small_config();
  const std::vector<double> p = test_params(c);
  const OmlBatch b = oml_batch(c, 2);
  std::vector<double> grad;
  const double loss = joint_loss_gradient<double>(oml_shape(c), p, b.inner, &grad);
  double want = 0;
  for (int i = 0; i < b.inner.count; ++i) {
    const double r =
        reference_predict(oml_shape(c), p, b.inner.x.data() + i * (c.slots + 1)) - b.inner.y[i];
    want += r * r / b.inner.count;
  }
  EXPECT_NEAR(loss, want, 1e-12 * want);
  expect_gradient_matches(
      p, grad,
      [&](const std::vector<double>& q) {
        return joint_loss_gradient<double>(oml_shape(c), q, b.inner, nullptr);
      },
      "joint gradient");
}

TEST(Oml, FloatFeaturesAgreeWithDouble) {
  OmlConfig c = small_config();
  c.hidden = {64, 64};
  const std::vector<double> p = initial_params(oml_shape(c), 1);
  const OmlBatch b = oml_batch(c, 0);
  std::vector<double> gd, gf;
  const OmlLosses ld = oml_meta_gradient<double>(c, p, b, &gd);
  const OmlLosses lf = oml_meta_gradient<float>(c, p, b, &gf);
  EXPECT_NEAR(lf.after, ld.after, 1e-5 * ld.after);
  double num = 0, den = 0;
  for (std::size_t i = 0; i < gd.size(); ++i) {
    num += (gf[i] - gd[i]) * (gf[i] - gd[i]);
    den += gd[i] * gd[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-4);
}

TEST(Oml, GradientIsBitIdenticalForAnyThreadCount) {
  OmlConfig c = small_config();
  c.hidden = {40, 33};
  c.precision = "float";
  const std::vector<double> p = initial_params(oml_shape(c), 2);
  const OmlBatch b = oml_batch(c, 1);
  const int saved = omp_get_max_threads();
  std::vector<double> g1, g2;
  omp_set_num_threads(1);
  oml_meta_gradient<float>(c, p, b, &g1);
  omp_set_num_threads(2);
  oml_meta_gradient<float>(c, p, b, &g2);
  omp_set_num_threads(saved);
  ASSERT_EQ(g1.size(), g2.size());
  for (std::size_t i = 0; i < g1.size(); ++i) ASSERT_EQ(g1[i], g2[i]) << "parameter " << i;
}

TEST(Oml, BatchesFollowTheProtocol) {
  const OmlConfig c = small_config();
  const OmlBatch b = oml_batch(c, 4);
  ASSERT_EQ(b.functions.size(), 3u);
  EXPECT_EQ(b.inner.count, 3 * 2 * 3);
  EXPECT_EQ(b.meta.count, 3 * 4);
  const int in = c.slots + 1;
  for (int f = 0; f < 3; ++f) {
    const SineFunction fn = pool_function(c.seed, 0, b.functions[f]);
    EXPECT_GE(fn.amplitude, 5 * 0.02);
    EXPECT_LE(fn.amplitude, 5 * 1.02);
    EXPECT_GE(fn.phase, 0.0);
    EXPECT_LE(fn.phase, 3.1416);
    // The function's points share one slot and lie on its curve.
    int slot = -1;
    for (int p = f * 6; p < (f + 1) * 6; ++p) {
      const double* x = b.inner.x.data() + p * in;
      int hot = -1, ones = 0;
      for (int s = 0; s < c.slots; ++s) {
        if (x[s] == 1.0) hot = s, ++ones;
      }
      ASSERT_EQ(ones, 1);
      if (slot < 0) slot = hot;
      EXPECT_EQ(hot, slot);
      EXPECT_GE(x[c.slots], -5.0);
      EXPECT_LE(x[c.slots], 5.0);
      EXPECT_DOUBLE_EQ(b.inner.y[p], fn(x[c.slots]));
    }
  }
  EXPECT_NE(b.functions, oml_batch(c, 5).functions);
}

// The evaluation's error matrix against the learners run by hand on the plain reference: the
// online head SGD in stream order, and (scratch) every layer by finite-difference-free SGD on the
// plain network, each error the held-out MSE of the reference prediction.
TEST(Oml, IncrementalEvaluationMatchesAHandRunLearner) {
  const OmlConfig c = small_config();
  const NetShape s = oml_shape(c);
  const std::vector<double> p = test_params(c);
  IncrementalEval e;
  e.runs = 1;
  e.functions = 3;
  e.minibatches = 4;
  e.batch = 5;
  e.heldout = 30;
  e.lr = 0.02;
  const nlohmann::json r = evaluate_incremental(c, p, e);
  const StreamData d = incremental_data(c.slots, e, 0);
  const std::size_t in = static_cast<std::size_t>(s.input());
  const auto mse = [&](const std::vector<double>& q, const Points& pts) {
    double sum = 0;
    for (int i = 0; i < pts.count; ++i) {
      const double res = reference_predict(s, q, pts.x.data() + i * in) - pts.y[i];
      sum += res * res;
    }
    return sum / pts.count;
  };
  std::vector<double> q = p;
  for (int j = 0; j < e.functions; ++j) {
    EXPECT_NEAR(r["error_before"][j].get<double>(), mse(p, d.heldout[j]), 1e-9);
    // The slot of the j-th function is j.
    EXPECT_EQ(d.train[j].x[j], 1.0);
  }
  for (int i = 0; i < e.functions; ++i) {
    for (int m = 0; m < e.minibatches; ++m) {
      reference_head_step(s, q, d.train[i].x.data() + m * e.batch * in,
                          d.train[i].y.data() + m * e.batch, e.batch, e.lr, 0.0);
    }
    for (int j = 0; j < e.functions; ++j) {
      EXPECT_NEAR(r["error_matrix"][i * e.functions + j].get<double>(), mse(q, d.heldout[j]), 1e-9)
          << "after function " << i << ", error on " << j;
    }
  }
  // The curve and the transfers follow from the matrix as documented.
  const auto R = [&](int i, int j) { return r["error_matrix"][i * e.functions + j].get<double>(); };
  EXPECT_NEAR(r["mse_after_functions"][1].get<double>(), (R(1, 0) + R(1, 1)) / 2, 1e-12);
  EXPECT_NEAR(r["backward_transfer"].get<double>(), (R(2, 0) - R(0, 0) + R(2, 1) - R(1, 1)) / 2,
              1e-12);
  EXPECT_NEAR(r["forward_transfer"].get<double>(),
              (R(0, 1) - r["error_before"][1].get<double>() + R(1, 2) -
               r["error_before"][2].get<double>()) /
                  2,
              1e-12);
  // Deterministic.
  EXPECT_EQ(evaluate_incremental(c, p, e)["error_matrix"], r["error_matrix"]);
}

TEST(Oml, TrainingLowersTheMetaLossAndResumesBitIdentically) {
  const std::filesystem::path dir = temp_dir("oml_train");
  const nlohmann::json config = {{"algorithm", "oml"},
                                 {"model", {{"hidden", {32, 32}}}},
                                 {"slots", 10},
                                 {"meta_batch", 5},
                                 {"inner", {{"minibatches", 3}, {"batch", 8}, {"lr", 0.03}}},
                                 {"iterations", 600},
                                 {"outer", {{"lr", 1e-3}}},
                                 {"log_every", 100},
                                 {"checkpoint_every", 200}};
  const nlohmann::json s = train(config, {}, (dir / "a").string(), {});
  const auto lines = read_jsonl((dir / "a" / "metrics.jsonl").string());
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_LT(lines.back()["meta_loss"].get<double>(),
            0.8 * lines.front()["meta_loss"].get<double>());
  EXPECT_EQ(s["headline"]["name"], "query loss after 15 adaptation steps");
  // The stream's metrics join the last line (eval.every is past the run's end).
  EXPECT_TRUE(lines.back().contains("stream_average_error")) << lines.back().dump();
  EXPECT_FALSE(lines.front().contains("stream_average_error"));
  EXPECT_GT(lines.back()["stream_average_error"].get<double>(), 0.0);
  // 200 iterations, then resumed to 600, against the straight run.
  train(config, {"iterations=200"}, (dir / "b").string(), {});
  train(nullptr, {"iterations=600"}, (dir / "b").string(), RunOptions::resumed());
  const Checkpoint a = load_checkpoint((dir / "a" / "checkpoint").string());
  const Checkpoint b = load_checkpoint((dir / "b" / "checkpoint").string());
  EXPECT_EQ(a.arrays.at("params"), b.arrays.at("params"));
  EXPECT_EQ(a.arrays.at("adam_v"), b.arrays.at("adam_v"));
  // The evaluation through the registry, with the common keys.
  EvalArgs args;
  args.runs = 2;
  args.tasks = 3;
  args.steps = 5;
  const nlohmann::json r = evaluate((dir / "a").string(), args);
  EXPECT_EQ(r["kind"], "continual");
  EXPECT_EQ(r["mse_after_functions"].size(), 3u);
  args.learner = "iid";
  args.epochs = 2;
  EXPECT_EQ(evaluate((dir / "a").string(), args)["learner"], "iid");
  args.learner = "scratch";
  EXPECT_EQ(evaluate((dir / "a").string(), args)["learner"], "scratch");
  std::filesystem::remove_all(dir);
}

TEST(Oml, PretrainingApproachesTheJointBayesError) {
  const std::filesystem::path dir = temp_dir("oml_pretrain");
  const nlohmann::json config = {{"algorithm", "pretrain"},
                                 {"model", {{"hidden", {32, 32}}}},
                                 {"slots", 10},
                                 {"meta_batch", 5},
                                 {"iterations", 600},
                                 {"outer", {{"lr", 1e-3}}},
                                 {"log_every", 100}};
  train(config, {}, (dir / "r").string(), {});
  const auto lines = read_jsonl((dir / "r" / "metrics.jsonl").string());
  ASSERT_EQ(lines.size(), 6u);
  const double first = lines.front()["loss"].get<double>(),
               last = lines.back()["loss"].get<double>();
  EXPECT_LT(last, 0.85 * first);
  // Slots are assigned at random each step, so the best any network can do on the joint
  // distribution is E[y | x] = E[A] (2/pi) cos(x), whose MSE is
  // E[A^2]/2 - (5.2/pi)^2 E[cos^2 x] = 4.421 - 2.740 * 0.4728 = 3.126 (x ~ U[-5, 5]).
  EXPECT_GT(last, 3.126 - 0.3);
  std::filesystem::remove_all(dir);
}

// The shipped config trains from the command line (shrunk), and `metasim eval --json` prints the
// incremental evaluation; a flag of another kind of algorithm is refused by name.
TEST(Oml, CommandLine) {
  using test_support::run_cli;
  const std::filesystem::path dir = temp_dir("cli");
  const std::string run = (dir / "run").string();
  auto r = run_cli("train --quiet --config " METASIM_SOURCE_DIR
                   "/configs/oml-sinusoid.json --set model.hidden=[16,16] --set iterations=3 "
                   "--set log_every=1 --out " +
                   run);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("oml on incremental-sinusoid"), std::string::npos) << r.output;
  r = run_cli("eval --run " + run + " --runs 2 --query 20 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["mse_after_functions"].size(), 10u);
  EXPECT_EQ(j["runs"], 2);
  EXPECT_EQ(j["iteration"], 3);
  r = run_cli("eval --run " + run + " --episodes 3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("episodes"), std::string::npos) << r.output;
  r = run_cli("eval --run " + run + " --learner replay");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("learner"), std::string::npos) << r.output;
  std::filesystem::remove_all(dir);
}

TEST(Oml, BadInputIsRefusedByName) {
  const auto field_of = [](auto f) -> std::string {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return e.field();
    }
    return "";
  };
  EXPECT_EQ(field_of([] { resolve_oml_config({{"meta_batch", 60}}, {}); }), "meta_batch");
  EXPECT_EQ(field_of([] { resolve_oml_config({{"slots", 0}}, {}); }), "slots");
  EXPECT_EQ(field_of([] { resolve_oml_config({}, {"inner.lr=0"}); }), "inner.lr");
  EXPECT_EQ(field_of([] {
              resolve_oml_config({{"model", {{"hidden", nlohmann::json::array()}}}}, {});
            }),
            "model.hidden");
  const OmlConfig c = small_config();
  const std::vector<double> p = test_params(c);
  IncrementalEval e;
  e.learner = "replay";
  EXPECT_EQ(field_of([&] { evaluate_incremental(c, p, e); }), "learner");
  e = IncrementalEval{};
  e.functions = c.slots + 1;  // more functions than one-hot slots
  EXPECT_EQ(field_of([&] { evaluate_incremental(c, p, e); }), "tasks");
  e = IncrementalEval{};
  e.runs = 0;
  EXPECT_EQ(field_of([&] { evaluate_incremental(c, p, e); }), "runs");
}

}  // namespace
}  // namespace metasim::continual
