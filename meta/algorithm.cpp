// The algorithm table: names, the fused launch mode each trains with, and its inner learning rates.
// Meta-SGD's meta-parameters are theta followed by one learned inner rate per parameter.
#include <metasim/meta/algorithm.hpp>

#include <metasim/kernels/core/error.hpp>

namespace metasim::meta {

const std::vector<AlgorithmInfo>& algorithms() {
  static const std::vector<AlgorithmInfo> kTable = {
      {Algorithm::kMaml, "maml", MetaMode::kSecondOrder, RateKind::kScalar,
       "MAML, exact second-order meta-gradient through all inner steps"},
      {Algorithm::kFirstOrderMaml, "fomaml", MetaMode::kFirstOrder, RateKind::kScalar,
       "first-order MAML: the query gradient at the adapted parameters"},
      {Algorithm::kReptile, "reptile", MetaMode::kReptile, RateKind::kScalar,
       "Reptile: moves theta towards the adapted parameters"},
      {Algorithm::kMetaSgd, "metasgd", MetaMode::kSecondOrder, RateKind::kPerParameter,
       "Meta-SGD: MAML with a learned inner learning rate per parameter"},
      {Algorithm::kAnil, "anil", MetaMode::kSecondOrder, RateKind::kLastLayer,
       "ANIL: MAML adapting only the last layer"},
  };
  return kTable;
}

std::vector<std::string> algorithm_names() {
  std::vector<std::string> names;
  for (const AlgorithmInfo& a : algorithms()) names.emplace_back(a.name);
  return names;
}

const AlgorithmInfo& algorithm_info(std::string_view name, std::string_view field) {
  for (const AlgorithmInfo& a : algorithms()) {
    if (name == a.name) return a;
  }
  std::string known;
  for (const AlgorithmInfo& a : algorithms())
    known += (known.empty() ? "" : ", ") + std::string(a.name);
  throw InvalidArgument(field, "unknown algorithm '" + std::string(name) + "'; one of: " + known);
}

const AlgorithmInfo& algorithm_info(Algorithm id) {
  for (const AlgorithmInfo& a : algorithms()) {
    if (a.id == id) return a;
  }
  throw Error("algorithm_info: unknown algorithm id");
}

}  // namespace metasim::meta
