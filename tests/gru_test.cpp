// The GRU cell of the recurrent policies: forward against torch.nn.GRUCell's recorded run, and
// backpropagation through time against central finite differences for every parameter, the
// initial hidden state and every input.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <metasim/kernels/rl/gru.hpp>

namespace metasim::rl {
namespace {

TEST(Gru, ForwardMatchesTorchGruCell) {
  std::ifstream in(std::string(METASIM_TEST_DATA_DIR) + "/gru/torch_gru.json");
  ASSERT_TRUE(in) << "tests/data/gru/torch_gru.json is missing";
  const nlohmann::json t = nlohmann::json::parse(in);
  const GruShape s{t["input"].get<int>(), t["hidden"].get<int>()};
  const std::vector<double> p = t["params"].get<std::vector<double>>();
  ASSERT_EQ(static_cast<int>(p.size()), s.num_params());
  std::vector<double> h = t["h0"].get<std::vector<double>>(), next(s.hidden), cache(s.cache_size());
  for (std::size_t step = 0; step < t["x"].size(); ++step) {
    const std::vector<double> x = t["x"][step].get<std::vector<double>>();
    gru_forward(s, p.data(), x.data(), h.data(), next.data(), cache.data());
    h = next;
    for (int j = 0; j < s.hidden; ++j) {
      EXPECT_NEAR(h[j], t["h"][step][j].get<double>(), 1e-14) << "step " << step << ", unit " << j;
    }
  }
}

// L = sum over steps of c_t . h_t for a fixed sequence; its gradient by BPTT.
struct Sequence {
  GruShape s{3, 4};
  int steps = 5;
  std::vector<double> xs, c;

  Sequence() {
    for (int i = 0; i < steps * s.input; ++i) xs.push_back(std::sin(0.7 * i + 0.2));
    for (int i = 0; i < steps * s.hidden; ++i) c.push_back(std::cos(1.3 * i + 0.5));
  }

  double loss(const std::vector<double>& p, const std::vector<double>& h0,
              const std::vector<double>& x) const {
    std::vector<double> h = h0, next(s.hidden), cache(s.cache_size());
    double l = 0;
    for (int t = 0; t < steps; ++t) {
      gru_forward(s, p.data(), x.data() + t * s.input, h.data(), next.data(), cache.data());
      h = next;
      for (int j = 0; j < s.hidden; ++j) l += c[t * s.hidden + j] * h[j];
    }
    return l;
  }

  // Gradients with respect to the parameters, h0 and the inputs.
  void gradient(const std::vector<double>& p, const std::vector<double>& h0,
                std::vector<double>& gp, std::vector<double>& gh0, std::vector<double>& gx) const {
    std::vector<double> hs(static_cast<std::size_t>(steps + 1) * s.hidden);
    std::vector<double> caches(static_cast<std::size_t>(steps) * s.cache_size());
    std::copy(h0.begin(), h0.end(), hs.begin());
    for (int t = 0; t < steps; ++t) {
      gru_forward(s, p.data(), xs.data() + t * s.input, hs.data() + t * s.hidden,
                  hs.data() + (t + 1) * s.hidden, caches.data() + t * s.cache_size());
    }
    gp.assign(p.size(), 0.0);
    gx.assign(xs.size(), 0.0);
    std::vector<double> dh(s.hidden, 0.0), dprev(s.hidden), work(3 * s.hidden);
    for (int t = steps - 1; t >= 0; --t) {
      for (int j = 0; j < s.hidden; ++j) dh[j] += c[t * s.hidden + j];
      gru_backward(s, p.data(), xs.data() + t * s.input, hs.data() + t * s.hidden,
                   caches.data() + t * s.cache_size(), dh.data(), gp.data(), dprev.data(),
                   gx.data() + t * s.input, work.data());
      dh = dprev;
    }
    gh0 = dh;
  }
};

void expect_matches_fd(const std::vector<double>& at, const std::vector<double>& grad,
                       const std::function<double(const std::vector<double>&)>& f,
                       const char* what) {
  ASSERT_EQ(at.size(), grad.size());
  const double h = 1e-6;
  for (std::size_t i = 0; i < at.size(); ++i) {
    std::vector<double> up = at, down = at;
    up[i] += h;
    down[i] -= h;
    const double fd = (f(up) - f(down)) / (2 * h);
    EXPECT_NEAR(grad[i], fd, 1e-7 + 1e-6 * std::abs(fd)) << what << " " << i;
  }
}

TEST(Gru, BackpropagationThroughTimeMatchesFiniteDifferences) {
  const Sequence q;
  std::vector<double> p(q.s.num_params()), h0(q.s.hidden);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = 0.6 * std::sin(2.1 * i + 0.4);
  for (int j = 0; j < q.s.hidden; ++j) h0[j] = 0.3 * std::cos(j + 0.1);
  std::vector<double> gp, gh0, gx;
  q.gradient(p, h0, gp, gh0, gx);
  expect_matches_fd(
      p, gp, [&](const std::vector<double>& v) { return q.loss(v, h0, q.xs); }, "parameter");
  expect_matches_fd(
      h0, gh0, [&](const std::vector<double>& v) { return q.loss(p, v, q.xs); },
      "initial hidden unit");
  expect_matches_fd(
      q.xs, gx, [&](const std::vector<double>& v) { return q.loss(p, h0, v); }, "input");
}

}  // namespace
}  // namespace metasim::rl
