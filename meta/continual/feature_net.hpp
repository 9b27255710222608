// The network of the continual learners: a representation (ReLU layers) under a linear
// prediction head, the shape OML uses (Javed & White 2019, with the linear head of the reference
// code's 2020 revision). Points are processed in batches on the CPU with OpenMP; every sum runs
// over points in a fixed order inside one thread, so results are bit-identical for any thread
// count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace metasim::continual {

// Layer sizes: input, then the representation's widths, then the head's output (1). Parameters
// are one flat vector, layer by layer: W as [out][in] (row-major, PyTorch's layout), then b.
struct NetShape {
  std::vector<int> sizes;

  int layers() const { return static_cast<int>(sizes.size()) - 1; }
  int input() const { return sizes.front(); }
  int features() const { return sizes[sizes.size() - 2]; }  // the head's input width
  std::size_t weight_offset(int layer) const {
    std::size_t o = 0;
    for (int l = 0; l < layer; ++l) o += static_cast<std::size_t>(sizes[l] + 1) * sizes[l + 1];
    return o;
  }
  std::size_t bias_offset(int layer) const {
    return weight_offset(layer) + static_cast<std::size_t>(sizes[layer]) * sizes[layer + 1];
  }
  std::size_t size() const { return weight_offset(layers()); }
  // The head: features() weights, then one bias.
  std::size_t head_offset() const { return weight_offset(layers() - 1); }
};

// The representation's forward and backward passes over a batch of points, in precision T.
template <typename T>
class FeatureNet {
 public:
  explicit FeatureNet(NetShape shape) : shape_(std::move(shape)) {
    const int hidden = shape_.layers() - 1;
    w_.resize(hidden);
    wt_.resize(hidden);
    b_.resize(hidden);
    act_.resize(hidden + 1);
  }

  const NetShape& shape() const { return shape_; }

  // Takes the representation's parameters from the flat vector (the head's are ignored).
  void load(const std::vector<double>& params) {
    for (int l = 0; l + 1 < shape_.layers(); ++l) {
      const int in = shape_.sizes[l], out = shape_.sizes[l + 1];
      w_[l].resize(static_cast<std::size_t>(out) * in);
      wt_[l].resize(w_[l].size());
      b_[l].resize(out);
      const double* w = params.data() + shape_.weight_offset(l);
      const double* b = params.data() + shape_.bias_offset(l);
      for (int j = 0; j < out; ++j) {
        b_[l][j] = static_cast<T>(b[j]);
        for (int k = 0; k < in; ++k) {
          const T v = static_cast<T>(w[static_cast<std::size_t>(j) * in + k]);
          w_[l][static_cast<std::size_t>(j) * in + k] = v;
          wt_[l][static_cast<std::size_t>(k) * out + j] = v;
        }
      }
    }
  }

  // Features of n points (x: n rows of input() values). Activations are kept for backward().
  const std::vector<T>& forward(const T* x, int n) {
    n_ = n;
    act_[0].assign(x, x + static_cast<std::size_t>(n) * shape_.input());
    for (int l = 0; l + 1 < shape_.layers(); ++l) {
      layer_forward(l, act_[l].data(), act_[l + 1]);
    }
    return act_.back();
  }
  const std::vector<T>& features() const { return act_.back(); }

  // Adds d(loss)/d(representation parameters) to grad (the flat layout) for d(loss)/d(features)
  // of the last forward()'s points (n x features()).
  void backward(const T* dfeatures, std::vector<double>& grad) const {
    std::vector<T> dout(dfeatures, dfeatures + static_cast<std::size_t>(n_) * shape_.features());
    std::vector<T> din;
    for (int l = shape_.layers() - 2; l >= 0; --l) {
      const int in = shape_.sizes[l], out = shape_.sizes[l + 1];
      const std::vector<T>& a_out = act_[l + 1];
      const std::vector<T>& a_in = act_[l];
      // Through the ReLU: zero where the unit was off.
      for (std::size_t i = 0; i < dout.size(); ++i) dout[i] = a_out[i] > T(0) ? dout[i] : T(0);
      double* gw = grad.data() + shape_.weight_offset(l);
      double* gb = grad.data() + shape_.bias_offset(l);
      // dW[j][:] = sum over points of dz[p][j] * a_in[p][:], in point order.
#pragma omp parallel for schedule(static)
      for (int j = 0; j < out; ++j) {
        std::vector<T> row(in, T(0));
        T bias = T(0);
        for (int p = 0; p < n_; ++p) {
          const T d = dout[static_cast<std::size_t>(p) * out + j];
          if (d == T(0)) continue;
          bias += d;
          const T* a = a_in.data() + static_cast<std::size_t>(p) * in;
          for (int k = 0; k < in; ++k) row[k] += d * a[k];
        }
        gb[j] += static_cast<double>(bias);
        for (int k = 0; k < in; ++k) gw[static_cast<std::size_t>(j) * in + k] += row[k];
      }
      if (l == 0) break;
      // d(input)[p][:] = sum over units j of dz[p][j] * W[j][:].
      din.assign(static_cast<std::size_t>(n_) * in, T(0));
      const T* w = w_[l].data();
#pragma omp parallel for schedule(static)
      for (int p = 0; p < n_; ++p) {
        T* d_in = din.data() + static_cast<std::size_t>(p) * in;
        const T* d_out = dout.data() + static_cast<std::size_t>(p) * out;
        for (int j = 0; j < out; ++j) {
          const T d = d_out[j];
          if (d == T(0)) continue;
          const T* wr = w + static_cast<std::size_t>(j) * in;
          for (int k = 0; k < in; ++k) d_in[k] += d * wr[k];
        }
      }
      dout.swap(din);
    }
  }

 private:
  // out = relu(in W^T + b), eight points at a time so that each row of W^T loaded from cache
  // serves eight rows of the output.
  void layer_forward(int l, const T* in, std::vector<T>& out_act) const {
    constexpr int kRows = 8;
    const int in_w = shape_.sizes[l], out_w = shape_.sizes[l + 1];
    out_act.resize(static_cast<std::size_t>(n_) * out_w);
    const T* wt = wt_[l].data();
    const T* b = b_[l].data();
    const int blocks = (n_ + kRows - 1) / kRows;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < blocks; ++blk) {
      const int p0 = blk * kRows;
      const int rows = std::min(kRows, n_ - p0);
      T* c = out_act.data() + static_cast<std::size_t>(p0) * out_w;
      for (int r = 0; r < rows; ++r)
        std::copy(b, b + out_w, c + static_cast<std::size_t>(r) * out_w);
      for (int k = 0; k < in_w; ++k) {
        const T* w = wt + static_cast<std::size_t>(k) * out_w;
        for (int r = 0; r < rows; ++r) {
          const T a = in[static_cast<std::size_t>(p0 + r) * in_w + k];
          if (a == T(0)) continue;  // one-hot inputs and switched-off units
          T* cr = c + static_cast<std::size_t>(r) * out_w;
          for (int j = 0; j < out_w; ++j) cr[j] += a * w[j];
        }
      }
      for (int i = 0; i < rows * out_w; ++i) c[i] = std::max(c[i], T(0));
    }
  }

  NetShape shape_;
  std::vector<std::vector<T>> w_, wt_, b_;
  std::vector<std::vector<T>> act_;
  int n_ = 0;
};

}  // namespace metasim::continual
