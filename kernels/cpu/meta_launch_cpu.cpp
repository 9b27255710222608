// CPU launcher of the fused meta-learning inner loops: wrappers over kernels/meta/cpu_batch.hpp,
// instantiated for every (family, model) in METASIM_FOR_EACH_META_MODEL, in float and double.
#include <metasim/kernels/meta/cpu_batch.hpp>
#include <metasim/kernels/meta/meta_configs.hpp>
#include <metasim/kernels/meta/meta_launch.hpp>

namespace metasim::meta::cpu {

template <class Family, class Net, typename T>
std::string can_implement(const MetaBatchArgs<T>& a) {
  return cpu_impl::can_implement<Family, Net, T>(a);
}

template <class Family, class Net, typename T>
std::size_t scratch_bytes(const MetaBatchArgs<T>& a, int threads) {
  return cpu_impl::scratch_bytes<Family, Net, T>(a, threads);
}

template <class Family, class Net, typename T>
void run_meta_batch(const MetaBatchArgs<T>& a, unsigned char* scratch, std::size_t bytes,
                    int threads) {
  cpu_impl::run_meta_batch<Family, Net, T>(a, scratch, bytes, threads);
}

template <class Family, class Net, typename T>
std::size_t summed_scratch_bytes(const MetaBatchArgs<T>& a, int threads) {
  return cpu_impl::summed_scratch_bytes<Family, Net, T>(a, threads);
}

template <class Family, class Net, typename T>
void run_meta_batch_summed(const MetaBatchArgs<T>& a, T* sums, unsigned char* scratch,
                           std::size_t bytes, int threads) {
  cpu_impl::run_meta_batch_summed<Family, Net, T>(a, sums, scratch, bytes, threads);
}

template <typename T>
void reduce_task_grads(const T* task_grads, int rows, int num_tasks, T* sums) {
  cpu_impl::reduce_task_grads(task_grads, rows, num_tasks, sums);
}

template void reduce_task_grads<float>(const float*, int, int, float*);
template void reduce_task_grads<double>(const double*, int, int, double*);

#define METASIM_INSTANTIATE_META_CPU_T(Model, T)                                                 \
  template std::string can_implement<Model::FamilyType, Model::Net, T>(const MetaBatchArgs<T>&); \
  template std::size_t scratch_bytes<Model::FamilyType, Model::Net, T>(const MetaBatchArgs<T>&,  \
                                                                       int);                     \
  template void run_meta_batch<Model::FamilyType, Model::Net, T>(                                \
      const MetaBatchArgs<T>&, unsigned char*, std::size_t, int);                                \
  template std::size_t summed_scratch_bytes<Model::FamilyType, Model::Net, T>(                   \
      const MetaBatchArgs<T>&, int);                                                             \
  template void run_meta_batch_summed<Model::FamilyType, Model::Net, T>(                         \
      const MetaBatchArgs<T>&, T*, unsigned char*, std::size_t, int);
#define METASIM_INSTANTIATE_META_CPU(Name, ...)       \
  METASIM_INSTANTIATE_META_CPU_T(models::Name, float) \
  METASIM_INSTANTIATE_META_CPU_T(models::Name, double)
METASIM_FOR_EACH_META_MODEL(METASIM_INSTANTIATE_META_CPU)
#undef METASIM_INSTANTIATE_META_CPU

#define METASIM_INSTANTIATE_META_CPU_NET(Family, Net, T)                                           \
  template std::string can_implement<Family, Net, T>(const MetaBatchArgs<T>&);                     \
  template std::size_t scratch_bytes<Family, Net, T>(const MetaBatchArgs<T>&, int);                \
  template void run_meta_batch<Family, Net, T>(const MetaBatchArgs<T>&, unsigned char*,            \
                                               std::size_t, int);                                  \
  template std::size_t summed_scratch_bytes<Family, Net, T>(const MetaBatchArgs<T>&, int);         \
  template void run_meta_batch_summed<Family, Net, T>(const MetaBatchArgs<T>&, T*, unsigned char*, \
                                                      std::size_t, int);
#define METASIM_INSTANTIATE_META_CPU_GENERIC(Family)                 \
  METASIM_INSTANTIATE_META_CPU_NET(Family, DynamicMlp<Relu>, float)  \
  METASIM_INSTANTIATE_META_CPU_NET(Family, DynamicMlp<Relu>, double) \
  METASIM_INSTANTIATE_META_CPU_NET(Family, DynamicMlp<Tanh>, float)  \
  METASIM_INSTANTIATE_META_CPU_NET(Family, DynamicMlp<Tanh>, double)
METASIM_FOR_EACH_META_FAMILY(METASIM_INSTANTIATE_META_CPU_GENERIC)
#undef METASIM_INSTANTIATE_META_CPU_GENERIC
#undef METASIM_INSTANTIATE_META_CPU_NET
#undef METASIM_INSTANTIATE_META_CPU_T

}  // namespace metasim::meta::cpu
