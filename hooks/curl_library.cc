#include "hooks/curl_library.h"

#include <stdexcept>
#include <string>

#include "hooks/on_demand_library.h"

namespace afterhook::hooks {

namespace {

CurlLibrary load() {
    static const OnDemandLibrary library(curl_soname, "webhook hooks");
    CurlLibrary curl;
    library.bind(curl.global_init, "curl_global_init");
    library.bind(curl.easy_init, "curl_easy_init");
    library.bind(curl.easy_setopt, "curl_easy_setopt");
    library.bind(curl.easy_getinfo, "curl_easy_getinfo");
    library.bind(curl.easy_cleanup, "curl_easy_cleanup");
    library.bind(curl.easy_strerror, "curl_easy_strerror");
    library.bind(curl.slist_append, "curl_slist_append");
    library.bind(curl.slist_free_all, "curl_slist_free_all");
    library.bind(curl.getdate, "curl_getdate");
    library.bind(curl.multi_init, "curl_multi_init");
    library.bind(curl.multi_setopt, "curl_multi_setopt");
    library.bind(curl.multi_add_handle, "curl_multi_add_handle");
    library.bind(curl.multi_remove_handle, "curl_multi_remove_handle");
    library.bind(curl.multi_assign, "curl_multi_assign");
    library.bind(curl.multi_socket_action, "curl_multi_socket_action");
    library.bind(curl.multi_info_read, "curl_multi_info_read");
    library.bind(curl.multi_cleanup, "curl_multi_cleanup");
    if (const CURLcode result = curl.global_init(CURL_GLOBAL_DEFAULT); result != CURLE_OK) {
        throw std::runtime_error(std::string("libcurl cannot be initialised: ") + curl.easy_strerror(result));
    }
    return curl;
}

}  // namespace

// A function-local static rather than std::call_once: an initialiser that
// throws leaves it uninitialised and the next call tries again, whereas
// libstdc++'s call_once can hang the next caller after a throw (GCC bug
// 66146). A reload that failed for want of libcurl can then succeed once
// the library is installed.
const CurlLibrary& libcurl() {
    static const CurlLibrary curl = load();
    return curl;
}

}  // namespace afterhook::hooks
