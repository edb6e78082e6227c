/* Loads oneDNN on first use: the engine's library (and OpenMP, which it brings) stay out of a process that
   never runs a tensor operation, so the kernel answers its first request without loading them. */
#ifndef MIRAGE_CDNNL_LOADER_H
#define MIRAGE_CDNNL_LOADER_H

/* The address of `name` in libdnnl.so.2 or a library it loads (libgomp), loading it on the first call;
   stops the process with a message naming the library when it cannot be loaded. Thread-safe. */
void *mirage_dnnl_symbol(const char *name);

#endif
