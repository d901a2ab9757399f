#include "hooks/trigger.h"

#include <optional>

namespace afterhook::hooks {

namespace {

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

// A visible character of a bare value: anything printable but the
// separators and the quote (bytes >= 0x80 are allowed, as obs-text).
bool is_bare_value_char(char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) return true;
    return byte > 0x20 && byte < 0x7f && c != ',' && c != ';' && c != '"';
}

// Control characters other than HTAB, which RFC 9110 allows neither in
// quoted strings nor in their escapes.
bool is_control(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && c != '\t') || byte == 0x7f;
}

// Reads one call from the header, left to right. Each read_* member returns
// nullopt (or false) on malformed input, leaving the cursor where the problem
// was; skip_rest() then moves past the rest of the call.
class CallReader {
public:
    explicit CallReader(std::string_view text) : text_(text) {}

    bool at_end() const { return at_ >= text_.size(); }

    // True when the list element at the cursor is empty ("a,,b", a trailing
    // comma); consumes it.
    bool skip_empty_element() {
        skip_spaces();
        if (at_end()) return true;
        if (text_[at_] != ',') return false;
        ++at_;
        return true;
    }

    std::optional<TriggerCall> read_call() {
        TriggerCall call;
        auto name = read_token();
        if (!name) return std::nullopt;
        call.name = std::move(*name);
        while (true) {
            skip_spaces();
            if (at_end()) return call;
            if (text_[at_] == ',') {
                ++at_;
                return call;
            }
            if (text_[at_] != ';') return std::nullopt;
            ++at_;
            if (!read_param(call.params)) return std::nullopt;
        }
    }

    // Moves past the rest of a malformed call: to just after the next comma
    // that is not inside a quoted string, or to the end.
    void skip_rest() {
        bool quoted = false;
        for (; at_ < text_.size(); ++at_) {
            const char c = text_[at_];
            if (quoted && c == '\\') {
                ++at_;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (!quoted && c == ',') {
                ++at_;
                return;
            }
        }
    }

private:
    void skip_spaces() {
        while (at_ < text_.size() && is_space(text_[at_])) ++at_;
    }

    std::optional<std::string> read_token() {
        skip_spaces();
        const size_t begin = at_;
        while (at_ < text_.size() && is_tchar(text_[at_])) ++at_;
        if (at_ == begin) return std::nullopt;
        return std::string(text_.substr(begin, at_ - begin));
    }

    bool read_param(TriggerParams& params) {
        auto key = read_token();
        if (!key) return false;
        skip_spaces();
        if (at_end() || text_[at_] != '=') return false;
        ++at_;
        skip_spaces();
        auto value = (!at_end() && text_[at_] == '"') ? read_quoted() : read_bare();
        if (!value) return false;
        params.emplace_back(std::move(*key), std::move(*value));
        return true;
    }

    // An empty bare value ("key=") is allowed and means the empty string.
    std::optional<std::string> read_bare() {
        const size_t begin = at_;
        while (at_ < text_.size() && is_bare_value_char(text_[at_])) ++at_;
        return std::string(text_.substr(begin, at_ - begin));
    }

    // A control character makes the value malformed; the string is still
    // read to its closing quote so that skip_rest() starts outside it.
    std::optional<std::string> read_quoted() {
        std::string value;
        bool valid = true;
        ++at_;  // the opening quote
        while (at_ < text_.size()) {
            char c = text_[at_++];
            if (c == '"') return valid ? std::optional<std::string>(std::move(value)) : std::nullopt;
            if (c == '\\') {
                if (at_ >= text_.size()) break;
                c = text_[at_++];
            }
            if (is_control(c)) valid = false;
            value.push_back(c);
        }
        return std::nullopt;  // unterminated
    }

    std::string_view text_;
    size_t at_ = 0;
};

}  // namespace

ParsedTrigger parse_trigger(std::string_view header) {
    ParsedTrigger parsed;
    CallReader reader(header);
    while (!reader.at_end()) {
        if (reader.skip_empty_element()) continue;
        if (auto call = reader.read_call()) {
            parsed.calls.push_back(std::move(*call));
        } else {
            ++parsed.malformed;
            reader.skip_rest();
        }
    }
    return parsed;
}

}  // namespace afterhook::hooks
