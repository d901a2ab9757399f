#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hooks/signature.h"

using afterhook::hooks::base64_decode;
using afterhook::hooks::base64_encode;
using afterhook::hooks::hmac_sha256;
using afterhook::hooks::sign_standard_webhook;
using afterhook::hooks::webhook_signing_key;

namespace {

std::string hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// HMAC-SHA256 and base64 through OpenSSL's other entry points (EVP_Q_mac,
// EVP_EncodeBlock), so that the module is checked against an independent
// computation rather than against itself.
std::string reference_signature(const std::string& key, const std::string& message) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_length = 0;
    REQUIRE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                      reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, sizeof mac,
                      &mac_length) != nullptr);
    std::vector<unsigned char> text(4 * ((mac_length + 2) / 3) + 1);
    const int length = EVP_EncodeBlock(text.data(), mac, static_cast<int>(mac_length));
    return "v1," + std::string(reinterpret_cast<const char*>(text.data()), static_cast<size_t>(length));
}

}  // namespace

TEST_CASE("signature: the Standard Webhooks specification's example") {
    CHECK(sign_standard_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                R"({"test": 2432232314})") == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("signature: whsec_ secrets are decoded, other secrets are their own bytes") {
    std::string key;
    REQUIRE(webhook_signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key));
    CHECK(key.size() == 24);
    CHECK(sign_standard_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", 1700000000, "hello") ==
          reference_signature(key, "msg_1.1700000000.hello"));

    REQUIRE(webhook_signing_key("plain secret", key));
    CHECK(key == "plain secret");
    CHECK(sign_standard_webhook("plain secret", "req-7-notify", 1614265330, R"({"a":1})") ==
          reference_signature("plain secret", R"(req-7-notify.1614265330.{"a":1})"));

    CHECK_FALSE(webhook_signing_key("whsec_not*base64", key));
    CHECK_FALSE(webhook_signing_key("whsec_", key));
    CHECK(sign_standard_webhook("whsec_!!", "id", 1, "body").empty());
}

TEST_CASE("signature: HMAC-SHA256 matches RFC 4231 test case 2") {
    CHECK(hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("signature: base64 round trips the RFC 4648 vectors") {
    const std::vector<std::pair<std::string, std::string>> vectors = {
        {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        CAPTURE(plain);
        CHECK(base64_encode(plain) == encoded);
        std::string decoded = "unchanged";
        REQUIRE(base64_decode(encoded, decoded));
        CHECK(decoded == plain);
    }
    std::string all_bytes;
    for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
    std::string decoded;
    REQUIRE(base64_decode(base64_encode(all_bytes), decoded));
    CHECK(decoded == all_bytes);
}

TEST_CASE("signature: base64_decode refuses malformed text and leaves the output alone") {
    std::string out = "unchanged";
    CHECK(base64_decode("Zm9v", out));
    CHECK(out == "foo");
    out = "unchanged";
    for (const char* bad : {"Zm9", "Z", "Zm=v", "Zm 9v", "Zm9v\n", "====", "Zh==", "Zm9vYg=", "Zm9-"}) {
        CAPTURE(bad);
        CHECK_FALSE(base64_decode(bad, out));
        CHECK(out == "unchanged");
    }
    CHECK(base64_decode("Zg", out));  // unpadded
    CHECK(out == "f");
}
