#include <oneapi/dnnl/dnnl.h>

/* Debian's oneDNN runs on OpenMP (libgomp). The engine runs small primitives on one thread, where
   waking the team costs more than the work; omp.h sits in GCC's private include directory, so the
   two calls it needs are declared here. */
int omp_get_max_threads(void);
void omp_set_num_threads(int);
