#include "hooks/on_demand_library.h"

#include <dlfcn.h>

#include <stdexcept>

namespace afterhook::hooks {

OnDemandLibrary::OnDemandLibrary(const char* soname, const char* needed_for)
    : soname_(soname), needed_for_(needed_for) {
    handle_ = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
        const char* error = dlerror();
        throw std::runtime_error(needed_for_ + " need " + soname_ + ", which cannot be loaded: " +
                                 (error ? error : "unknown error") + " (install the package that provides it)");
    }
}

void* OnDemandLibrary::symbol(const char* name) const {
    dlerror();  // clear any earlier error
    void* address = dlsym(handle_, name);
    if (!address) {
        const char* error = dlerror();
        throw std::runtime_error(needed_for_ + " need " + name + " from " + soname_ + ": " +
                                 (error ? error : "symbol is null"));
    }
    return address;
}

}  // namespace afterhook::hooks
