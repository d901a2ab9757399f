// libcurl, opened on demand (see on_demand_library.h): the functions
// afterhook calls, typed from curl/curl.h. libcurl() opens the library and
// runs curl_global_init() the first time it is called, once per process
// (any thread; curl_global_init() must not race with itself or with other
// libcurl calls, which is why every libcurl call goes through here).
// The variadic ones (easy_setopt, multi_setopt, easy_getinfo) lose the
// argument checks curl's typecheck-gcc.h macros give direct calls: pass
// long, pointer and curl_off_t arguments exactly as curl documents them.
#pragma once

#include <curl/curl.h>

namespace afterhook::hooks {

struct CurlLibrary {
    decltype(&::curl_global_init) global_init = nullptr;
    decltype(&::curl_easy_init) easy_init = nullptr;
    decltype(&::curl_easy_setopt) easy_setopt = nullptr;
    decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
    decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
    decltype(&::curl_easy_strerror) easy_strerror = nullptr;
    decltype(&::curl_slist_append) slist_append = nullptr;
    decltype(&::curl_slist_free_all) slist_free_all = nullptr;
    decltype(&::curl_getdate) getdate = nullptr;
    decltype(&::curl_multi_init) multi_init = nullptr;
    decltype(&::curl_multi_setopt) multi_setopt = nullptr;
    decltype(&::curl_multi_add_handle) multi_add_handle = nullptr;
    decltype(&::curl_multi_remove_handle) multi_remove_handle = nullptr;
    decltype(&::curl_multi_assign) multi_assign = nullptr;
    decltype(&::curl_multi_socket_action) multi_socket_action = nullptr;
    decltype(&::curl_multi_info_read) multi_info_read = nullptr;
    decltype(&::curl_multi_cleanup) multi_cleanup = nullptr;
};

// The loaded and initialised libcurl. Throws std::runtime_error when the
// library cannot be loaded or initialised; a later call tries again.
const CurlLibrary& libcurl();

}  // namespace afterhook::hooks
