#include "hooks/signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "hooks/on_demand_library.h"

namespace afterhook::hooks {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kSecretPrefix = "whsec_";

// The 6-bit value of a base64 character, or -1 for anything else.
int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// HMAC from libcrypto, opened on demand (see on_demand_library.h).
struct Crypto {
    decltype(&::HMAC) hmac = nullptr;
    decltype(&::EVP_sha256) sha256 = nullptr;
};

const Crypto& crypto() {
    // A load that throws leaves the static uninitialised: the next call retries.
    static const Crypto loaded = [] {
        static const OnDemandLibrary library(crypto_soname, "webhook signatures (sign.secret)");
        Crypto functions;
        library.bind(functions.hmac, "HMAC");
        library.bind(functions.sha256, "EVP_sha256");
        return functions;
    }();
    return loaded;
}

}  // namespace

void load_signing_library() { crypto(); }

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const uint32_t group = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                               static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                               static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
        out.push_back(kAlphabet[group >> 18 & 63]);
        out.push_back(kAlphabet[group >> 12 & 63]);
        out.push_back(kAlphabet[group >> 6 & 63]);
        out.push_back(kAlphabet[group & 63]);
    }
    const size_t rest = bytes.size() - i;
    if (rest == 0) return out;
    uint32_t group = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) group |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(kAlphabet[group >> 18 & 63]);
    out.push_back(kAlphabet[group >> 12 & 63]);
    out.push_back(rest == 2 ? kAlphabet[group >> 6 & 63] : '=');
    out.push_back('=');
    return out;
}

bool base64_decode(std::string_view text, std::string& out) {
    // Padding is accepted only as the last one or two characters of a
    // complete group of four.
    size_t padding = 0;
    if (!text.empty() && text.size() % 4 == 0) {
        if (text.back() == '=') ++padding;
        if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
        if (padding == 1 && text.back() != '=') return false;
    }
    text.remove_suffix(padding);
    if (text.size() % 4 == 1) return false;

    std::string decoded;
    decoded.reserve(text.size() * 3 / 4);
    uint32_t bits = 0;
    int count = 0;
    for (char c : text) {
        const int value = sextet(c);
        if (value < 0) return false;
        bits = bits << 6 | static_cast<uint32_t>(value);
        count += 6;
        if (count >= 8) {
            count -= 8;
            decoded.push_back(static_cast<char>(bits >> count & 0xff));
        }
    }
    // The bits left over after the last whole byte must be zero, so that
    // every byte string has exactly one encoding.
    if ((bits & ((1u << count) - 1)) != 0) return false;
    out = std::move(decoded);
    return true;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    const Crypto& functions = crypto();
    functions.hmac(functions.sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
         message.size(), digest.data(), &length);
    return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

bool webhook_signing_key(std::string_view secret, std::string& key) {
    if (!secret.starts_with(kSecretPrefix)) {
        key.assign(secret);
        return true;
    }
    std::string decoded;
    if (!base64_decode(secret.substr(kSecretPrefix.size()), decoded) || decoded.empty()) return false;
    key = std::move(decoded);
    return true;
}

std::string sign_standard_webhook_with_key(std::string_view key, std::string_view id, int64_t timestamp,
                                           std::string_view body) {
    std::string message;
    message.reserve(id.size() + body.size() + 24);
    message.append(id);
    message.push_back('.');
    message.append(std::to_string(timestamp));
    message.push_back('.');
    message.append(body);
    return "v1," + base64_encode(hmac_sha256(key, message));
}

std::string sign_standard_webhook(std::string_view secret, std::string_view id, int64_t timestamp,
                                  std::string_view body) {
    std::string key;
    if (!webhook_signing_key(secret, key)) return {};
    return sign_standard_webhook_with_key(key, id, timestamp, body);
}

}  // namespace afterhook::hooks
