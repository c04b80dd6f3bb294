#include "store/metrics_record.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace bcd::store {

namespace {

struct ColumnInfo {
    const char* name;
    const char* key;
    bool integer;
};

constexpr std::array<ColumnInfo, kMetricColumns> kColumns{{
    {"tokens", "tokens", true},
    {"elapsed", "elapsed_s", false},
    {"loss", "loss", false},
    {"lr", "lr", false},
    {"block", "block", true},
    {"grad_norm", "grad_norm", false},
    {"tok_s", "tok_s", false},
    {"mem", "mem_bytes", true},
    {"val_loss", "val_loss", false},
    {"comm_bytes", "comm_bytes", true},
    {"cpu_pct", "cpu_pct", false},
    {"rss", "rss_bytes", true},
    {"gpu_util", "gpu_util_pct", false},
    {"gpu_mem", "gpu_mem_bytes", true},
    {"gpu_power", "gpu_power_w", false},
    {"gpu_temp", "gpu_temp_c", false},
}};

constexpr int kMaxDepth = 64;

// A cursor over one line. Every parse function returns false on malformed input and leaves a
// reason in err.
class Scanner {
public:
    explicit Scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

    const char* err = nullptr;

    bool atEnd() {
        skipWs();
        return p_ == end_;
    }
    bool consume(char c) {
        skipWs();
        if (p_ != end_ && *p_ == c) {
            ++p_;
            return true;
        }
        return false;
    }
    char peek() {
        skipWs();
        return p_ == end_ ? '\0' : *p_;
    }

    // A string; its decoded UTF-8 into *out when out is not null.
    bool string(std::string* out) {
        skipWs();
        if (p_ == end_ || *p_ != '"') return fail("expected a string");
        ++p_;
        while (true) {
            if (p_ == end_) return fail("unterminated string");
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                ++p_;
                return true;
            }
            if (c < 0x20) return fail("control character in a string");
            if (c == '\\') {
                if (!escape(out)) return false;
                continue;
            }
            if (c < 0x80) {
                if (out) out->push_back(static_cast<char>(c));
                ++p_;
                continue;
            }
            if (!utf8(out)) return false;
        }
    }

    // A number per the JSON grammar, converted to double.
    bool number(double* value, bool* integral) {
        skipWs();
        const char* start = p_;
        bool isInt = true;
        if (p_ != end_ && *p_ == '-') ++p_;
        if (p_ == end_) return fail("expected a number");
        if (*p_ == '0') {
            ++p_;
        } else if (*p_ >= '1' && *p_ <= '9') {
            while (p_ != end_ && isDigit(*p_)) ++p_;
        } else {
            return fail("expected a value");
        }
        if (p_ != end_ && *p_ == '.') {
            isInt = false;
            ++p_;
            if (p_ == end_ || !isDigit(*p_)) return fail("expected a digit after '.'");
            while (p_ != end_ && isDigit(*p_)) ++p_;
        }
        if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
            isInt = false;
            ++p_;
            if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (p_ == end_ || !isDigit(*p_)) return fail("expected a digit in the exponent");
            while (p_ != end_ && isDigit(*p_)) ++p_;
        }
        double v = 0.0;
        const auto [ptr, ec] = std::from_chars(start, p_, v);
        if (ec != std::errc() || ptr != p_ || !std::isfinite(v)) return fail("number out of range");
        *value = v;
        if (integral) *integral = isInt || v == std::floor(v);
        return true;
    }

    bool literal(const char* word) {
        skipWs();
        const std::size_t n = std::strlen(word);
        if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0)
            return fail("expected a value");
        p_ += n;
        return true;
    }

    // Any value, validated and discarded.
    bool skipValue(int depth) {
        if (depth > kMaxDepth) return fail("nested too deeply");
        switch (peek()) {
        case '"':
            return string(nullptr);
        case '{': {
            ++p_;
            if (consume('}')) return true;
            do {
                if (!string(nullptr)) return false;
                if (!consume(':')) return fail("expected ':'");
                if (!skipValue(depth + 1)) return false;
            } while (consume(','));
            return consume('}') || fail("expected ',' or '}'");
        }
        case '[': {
            ++p_;
            if (consume(']')) return true;
            do {
                if (!skipValue(depth + 1)) return false;
            } while (consume(','));
            return consume(']') || fail("expected ',' or ']'");
        }
        case 't':
            return literal("true");
        case 'f':
            return literal("false");
        case 'n':
            return literal("null");
        default: {
            double v = 0.0;
            return number(&v, nullptr);
        }
        }
    }

    bool fail(const char* why) {
        if (!err) err = why;
        return false;
    }

private:
    static bool isDigit(char c) { return c >= '0' && c <= '9'; }
    static int hexValue(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    void skipWs() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
    }

    bool hex4(std::uint32_t* cp) {
        if (end_ - p_ < 4) return fail("short \\u escape");
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hexValue(p_[i]);
            if (h < 0) return fail("bad \\u escape");
            v = v * 16 + static_cast<std::uint32_t>(h);
        }
        p_ += 4;
        *cp = v;
        return true;
    }

    static void appendUtf8(std::string* out, std::uint32_t cp) {
        if (!out) return;
        if (cp < 0x80) {
            out->push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    bool escape(std::string* out) {
        ++p_; // the backslash
        if (p_ == end_) return fail("unterminated escape");
        const char c = *p_++;
        char plain = 0;
        switch (c) {
        case '"':
            plain = '"';
            break;
        case '\\':
            plain = '\\';
            break;
        case '/':
            plain = '/';
            break;
        case 'b':
            plain = '\b';
            break;
        case 'f':
            plain = '\f';
            break;
        case 'n':
            plain = '\n';
            break;
        case 'r':
            plain = '\r';
            break;
        case 't':
            plain = '\t';
            break;
        case 'u': {
            std::uint32_t cp = 0;
            if (!hex4(&cp)) return false;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                // A high surrogate must be followed by an escaped low one.
                std::uint32_t lo = 0;
                if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail("lone surrogate");
                p_ += 2;
                if (!hex4(&lo)) return false;
                if (lo < 0xDC00 || lo > 0xDFFF) return fail("lone surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail("lone surrogate");
            }
            appendUtf8(out, cp);
            return true;
        }
        default:
            return fail("bad escape");
        }
        if (out) out->push_back(plain);
        return true;
    }

    // One multi-byte UTF-8 sequence, validated (no overlongs, no surrogates, ≤ U+10FFFF).
    bool utf8(std::string* out) {
        const auto b0 = static_cast<unsigned char>(*p_);
        int len = 0;
        std::uint32_t cp = 0;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            len = 2;
            cp = b0 & 0x1F;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            len = 3;
            cp = b0 & 0x0F;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            len = 4;
            cp = b0 & 0x07;
        } else {
            return fail("invalid UTF-8");
        }
        if (end_ - p_ < len) return fail("invalid UTF-8");
        for (int i = 1; i < len; ++i) {
            const auto b = static_cast<unsigned char>(p_[i]);
            if ((b & 0xC0) != 0x80) return fail("invalid UTF-8");
            cp = (cp << 6) | (b & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return fail("invalid UTF-8");
        if (out) out->append(p_, static_cast<std::size_t>(len));
        p_ += len;
        return true;
    }

    const char* p_;
    const char* end_;
};

RecordKind kindOf(std::string_view t) {
    if (t == "step") return RecordKind::Step;
    if (t == "eval") return RecordKind::Eval;
    if (t == "start") return RecordKind::Start;
    if (t == "switch") return RecordKind::Switch;
    if (t == "ckpt") return RecordKind::Checkpoint;
    if (t == "resume") return RecordKind::Resume;
    if (t == "end") return RecordKind::End;
    if (t == "phase") return RecordKind::Phase;
    return RecordKind::Other;
}

int columnForKey(std::string_view key) {
    for (int i = 0; i < kMetricColumns; ++i)
        if (key == kColumns[static_cast<std::size_t>(i)].key) return i;
    return -1;
}

} // namespace

const char* columnName(MetricColumn c) {
    return kColumns[static_cast<std::size_t>(c)].name;
}
const char* columnRecordKey(MetricColumn c) {
    return kColumns[static_cast<std::size_t>(c)].key;
}
bool columnIsInteger(MetricColumn c) {
    return kColumns[static_cast<std::size_t>(c)].integer;
}

std::optional<MetricColumn> columnFromName(std::string_view name) {
    for (int i = 0; i < kMetricColumns; ++i)
        if (name == kColumns[static_cast<std::size_t>(i)].name) return static_cast<MetricColumn>(i);
    return std::nullopt;
}

std::optional<MetricsRecord> parseMetricsRecord(std::string_view line, std::string* error) {
    Scanner s(line);
    MetricsRecord r;
    bool hasType = false;
    std::string key;
    const auto bad = [&](const char* why) -> std::optional<MetricsRecord> {
        if (error) *error = why;
        return std::nullopt;
    };
    if (!s.consume('{')) return bad("not a JSON object");
    if (!s.consume('}')) {
        do {
            key.clear();
            if (!s.string(&key)) return bad(s.err);
            if (!s.consume(':')) return bad("expected ':'");
            if (key == "t") {
                r.type.clear();
                if (s.peek() != '"') return bad("t: expected a string");
                if (!s.string(&r.type)) return bad(s.err);
                hasType = true;
            } else if (key == "step") {
                if (s.peek() == 'n') {
                    if (!s.literal("null")) return bad(s.err);
                    r.step.reset();
                    continue;
                }
                double v = 0.0;
                bool integral = false;
                if (!s.number(&v, &integral)) return bad("step: expected an integer");
                if (!integral || v < 0 || v > 9.0e15)
                    return bad("step: expected a non-negative integer");
                r.step = static_cast<long long>(v);
            } else if (key == "phase" || key == "state") {
                std::string& out = key == "phase" ? r.phase : r.state;
                out.clear();
                if (s.peek() != '"') return bad("phase, state: expected a string");
                if (!s.string(&out)) return bad(s.err);
            } else if (key == "done" || key == "total" || key == "bytes") {
                auto& out = key == "done" ? r.done : key == "total" ? r.total : r.bytes;
                double v = 0.0;
                bool integral = false;
                if (!s.number(&v, &integral) || !integral || v < 0 || v > 9.0e15)
                    return bad("done, total, bytes: expected a non-negative integer");
                out = static_cast<long long>(v);
            } else if (key == "phase_s") {
                double v = 0.0;
                if (!s.number(&v, nullptr)) return bad("phase_s: expected a number");
                r.phaseSeconds = v;
            } else if (key == "status") {
                r.status.clear();
                if (s.peek() == '"') {
                    if (!s.string(&r.status)) return bad(s.err);
                } else if (!s.skipValue(1)) {
                    return bad(s.err);
                }
            } else if (const int col = columnForKey(key); col >= 0) {
                auto& slot = r.values[static_cast<std::size_t>(col)];
                if (s.peek() == 'n') {
                    if (!s.literal("null")) return bad(s.err);
                    slot.reset();
                    continue;
                }
                double v = 0.0;
                if (!s.number(&v, nullptr)) return bad("a metric field: expected a number or null");
                slot = v;
            } else if (!s.skipValue(1)) {
                return bad(s.err);
            }
        } while (s.consume(','));
        if (!s.consume('}')) return bad("expected ',' or '}'");
    }
    if (!s.atEnd()) return bad("text after the JSON object");
    if (!hasType) return bad("no \"t\" field");
    r.kind = kindOf(r.type);
    if ((r.kind == RecordKind::Step || r.kind == RecordKind::Eval) && !r.step)
        return bad("a step or eval record without \"step\"");
    if (r.kind == RecordKind::Phase && (!r.step || r.phase.empty()))
        return bad("a phase record without \"step\" or \"phase\"");
    return r;
}

} // namespace bcd::store
