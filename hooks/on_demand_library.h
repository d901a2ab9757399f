// OnDemandLibrary: a shared library opened with dlopen() the first time a
// feature needs it, instead of at start-up.
//
// libcurl (webhook hooks) and libcrypto (webhook signatures) are the two.
// Linked normally, they and what they pull in (about twenty libraries: TLS,
// Kerberos, LDAP, compression, ...) are mapped and initialised in every
// afterhook, which more than doubles the memory of an idle proxy whose hooks
// are logs and commands. Opened on demand, only a config with a webhook pays
// for them. The headers are still the ones afterhook is compiled against,
// and each symbol is typed from its declaration there (decltype), so a call
// through a table is checked as a direct call would be, except for the
// arguments of variadic functions.
#pragma once

#include <string>

namespace afterhook::hooks {

// The sonames afterhook opens on demand, for packaging: a runtime image
// needs them (and what they depend on) although `ldd afterhook` does not
// list them. `afterhook --version` prints the same list.
inline constexpr const char* curl_soname = "libcurl.so.4";
inline constexpr const char* crypto_soname = "libcrypto.so.3";

class OnDemandLibrary {
public:
    // Opens `soname` (RTLD_NOW: every symbol it needs is resolved here, not
    // on a later call). Throws std::runtime_error saying what is missing and
    // which feature needs it.
    OnDemandLibrary(const char* soname, const char* needed_for);
    OnDemandLibrary(const OnDemandLibrary&) = delete;
    OnDemandLibrary& operator=(const OnDemandLibrary&) = delete;
    // The library stays loaded for the life of the process: nothing closes it.
    ~OnDemandLibrary() = default;

    // Sets `function` to the symbol `name`; throws std::runtime_error when
    // the library has no such symbol.
    template <typename Function>
    void bind(Function& function, const char* name) const {
        function = reinterpret_cast<Function>(symbol(name));
    }

private:
    void* symbol(const char* name) const;

    void* handle_ = nullptr;
    std::string soname_;
    std::string needed_for_;
};

}  // namespace afterhook::hooks
