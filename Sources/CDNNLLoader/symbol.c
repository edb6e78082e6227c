// Loads libdnnl.so.2 with dlopen on the first oneDNN call and looks its functions up (loader.c calls these).
#include "CDNNLLoader.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *library;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    library = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        fprintf(stderr, "mirage: cannot load oneDNN, the tensor engine (libdnnl.so.2): %s\n"
                        "install it with scripts/setup.sh (apt package libdnnl2)\n", dlerror());
        abort();
    }
}

void *mirage_dnnl_symbol(const char *name) {
    pthread_once(&once, load);
    void *symbol = dlsym(library, name);
    if (!symbol) {
        fprintf(stderr, "mirage: oneDNN (libdnnl.so.2) has no function %s\n", name);
        abort();
    }
    return symbol;
}
