// OnDemandLibrary: a library that cannot be loaded, or lacks a symbol, is a
// clear error naming the library and the feature that needs it; the real
// libcurl and libcrypto tables load and work.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "hooks/curl_library.h"
#include "hooks/on_demand_library.h"
#include "hooks/signature.h"

using namespace afterhook::hooks;

namespace {

std::string error_of(void (*action)()) {
    try {
        action();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "<no error>";
}

}  // namespace

TEST_SUITE("on-demand libraries") {

TEST_CASE("a library that is not installed is an error naming it and what needs it") {
    const std::string error = error_of([] { OnDemandLibrary("libafterhook-missing.so.9", "test hooks"); });
    CHECK(error.find("test hooks need libafterhook-missing.so.9") != std::string::npos);
    CHECK(error.find("cannot be loaded") != std::string::npos);
}

TEST_CASE("a symbol the library lacks is an error naming it") {
    const std::string error = error_of([] {
        const OnDemandLibrary library(curl_soname, "webhook hooks");
        void (*function)() = nullptr;
        library.bind(function, "curl_afterhook_no_such_function");
    });
    CHECK(error.find("curl_afterhook_no_such_function") != std::string::npos);
    CHECK(error.find(curl_soname) != std::string::npos);
}

TEST_CASE("libcurl loads, initialises once and works through the table") {
    const CurlLibrary& curl = libcurl();
    CHECK(&curl == &libcurl());
    CURL* easy = curl.easy_init();
    REQUIRE(easy != nullptr);
    CHECK(curl.easy_setopt(easy, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK);
    curl.easy_cleanup(easy);
    CHECK(std::string(curl.easy_strerror(CURLE_OK)) == "No error");
}

TEST_CASE("libcrypto loads for signing") {
    CHECK_NOTHROW(load_signing_library());
    CHECK(hmac_sha256("key", "message").size() == 32);
}

}  // TEST_SUITE
