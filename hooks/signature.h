// Standard Webhooks signing (https://www.standardwebhooks.com): the
// `webhook-signature` header is "v1," followed by the base64 of
// HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"). A secret written
// as "whsec_<base64>" stands for the decoded bytes after the prefix; any other
// secret is used as its own bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace afterhook::hooks {

// Standard base64 (RFC 4648 section 4) with '=' padding.
std::string base64_encode(std::string_view bytes);

// Decodes standard base64. Padding may be omitted; whitespace and any
// character outside the alphabet make the text invalid. Returns false and
// leaves `out` untouched on invalid input.
bool base64_decode(std::string_view text, std::string& out);

// Opens libcrypto, which signing uses, if it is not open yet; throws
// std::runtime_error when it cannot be loaded. A webhook hook that signs
// calls it when it is set up, so that signing itself never fails on it.
void load_signing_library();

// The 32 raw bytes of HMAC-SHA256(key, message). Opens libcrypto on first
// use (see load_signing_library()).
std::string hmac_sha256(std::string_view key, std::string_view message);

// The HMAC key a secret stands for (see above). Returns false when the secret
// starts with "whsec_" and the rest is not valid base64 or is empty; the
// loader and the webhook sink use it to refuse such a secret at start-up.
bool webhook_signing_key(std::string_view secret, std::string& key);

// "v1,<base64 signature>" with the key already derived by webhook_signing_key.
std::string sign_standard_webhook_with_key(std::string_view key, std::string_view id, int64_t timestamp,
                                           std::string_view body);

// The same from the secret as configured. An invalid "whsec_" secret yields
// an empty string (nothing can be signed with it).
std::string sign_standard_webhook(std::string_view secret, std::string_view id, int64_t timestamp,
                                  std::string_view body);

}  // namespace afterhook::hooks
