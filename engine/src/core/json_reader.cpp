#include "core/json_reader.h"

#include <cmath>
#include <fstream>
#include <sstream>

namespace bcd {

nlohmann::json read_json_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path.string(), "", "cannot open the file (expected a JSON file)");
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        return nlohmann::json::parse(ss.str());
    } catch (const nlohmann::json::parse_error& e) {
        // e.byte is the position of the error; turn it into a line number for the user.
        const std::string text = ss.str();
        std::size_t line = 1;
        for (std::size_t i = 0; i < text.size() && i + 1 < e.byte; ++i)
            if (text[i] == '\n') ++line;
        throw InputError(path.string(), "line " + std::to_string(line),
                         "expected valid JSON (" + std::string(e.what()).substr(0, 160) + ")");
    } catch (const nlohmann::json::exception& e) { // a number out of range, ...
        throw InputError(path.string(), "",
                         "expected valid JSON (" + std::string(e.what()).substr(0, 160) + ")");
    }
}

std::string json_brief(const nlohmann::json& v) {
    std::string s = v.dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

JsonObject::JsonObject(const nlohmann::json& j, std::string file, std::string path)
    : j_(&j), file_(std::move(file)), path_(std::move(path)) {
    if (!j.is_object())
        throw InputError(file_, path_.empty() ? "(top level)" : path_,
                         "expected a JSON object, got " + json_brief(j));
}

std::string JsonObject::key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void JsonObject::fail(std::string_view key, const std::string& expected) const {
    throw InputError(file_, key_path(key), expected);
}

bool JsonObject::has(std::string_view key) const {
    auto it = j_->find(key);
    return it != j_->end() && !it->is_null();
}

const nlohmann::json& JsonObject::raw(std::string_view key) const {
    auto it = j_->find(key);
    if (it == j_->end()) fail(key, "is required");
    return *it;
}

JsonObject JsonObject::object(std::string_view key) const {
    const auto& v = raw(key);
    if (!v.is_object()) fail(key, "expected an object, got " + json_brief(v));
    return JsonObject(v, file_, key_path(key));
}

std::optional<JsonObject> JsonObject::optional_object(std::string_view key) const {
    if (!has(key)) return std::nullopt;
    return object(key);
}

std::int64_t JsonObject::integer(std::string_view key, std::int64_t min, std::int64_t max) const {
    const auto& v = raw(key);
    const std::string range =
        "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    std::int64_t x = 0;
    if (v.is_number_integer()) {
        if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max))
            fail(key, range + ", got " + json_brief(v));
        x = v.get<std::int64_t>();
    } else if (v.is_number_float()) {
        const double d = v.get<double>();
        if (!(std::floor(d) == d) || d < -9.2e18 || d > 9.2e18)
            fail(key, range + ", got " + json_brief(v));
        x = static_cast<std::int64_t>(d);
    } else {
        fail(key, range + ", got " + json_brief(v));
    }
    if (x < min || x > max) fail(key, range + ", got " + json_brief(v));
    return x;
}

std::int64_t JsonObject::integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                                 std::int64_t max) const {
    return has(key) ? integer(key, min, max) : fallback;
}

double JsonObject::number(std::string_view key, double min, double max) const {
    const auto& v = raw(key);
    std::ostringstream range;
    range << "expected a number in [" << min << ", " << max << "]";
    if (!v.is_number()) fail(key, range.str() + ", got " + json_brief(v));
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < min || x > max) fail(key, range.str() + ", got " + json_brief(v));
    return x;
}

double JsonObject::number(std::string_view key, double fallback, double min, double max) const {
    return has(key) ? number(key, min, max) : fallback;
}

bool JsonObject::boolean(std::string_view key) const {
    const auto& v = raw(key);
    if (!v.is_boolean()) fail(key, "expected true or false, got " + json_brief(v));
    return v.get<bool>();
}

bool JsonObject::boolean(std::string_view key, bool fallback) const {
    return has(key) ? boolean(key) : fallback;
}

std::string JsonObject::string(std::string_view key) const {
    const auto& v = raw(key);
    if (!v.is_string()) fail(key, "expected a string, got " + json_brief(v));
    return v.get<std::string>();
}

std::string JsonObject::string(std::string_view key, std::string fallback) const {
    return has(key) ? string(key) : fallback;
}

std::string JsonObject::choice(std::string_view key, std::string fallback,
                               std::initializer_list<std::string_view> choices) const {
    std::string options;
    for (auto c : choices) {
        if (!options.empty()) options += ", ";
        options += "\"" + std::string(c) + "\"";
    }
    if (!has(key)) return fallback;
    const auto& v = raw(key);
    if (v.is_string()) {
        const auto s = v.get<std::string>();
        for (auto c : choices)
            if (s == c) return s;
    }
    fail(key, "expected one of " + options + ", got " + json_brief(v));
}

void JsonObject::reject_unknown(std::initializer_list<std::string_view> known) const {
    for (auto it = j_->begin(); it != j_->end(); ++it) {
        bool ok = false;
        for (auto k : known) ok = ok || it.key() == k;
        if (ok) continue;
        std::string list;
        for (auto k : known) {
            if (!list.empty()) list += ", ";
            list += std::string(k);
        }
        fail(it.key(), "unknown key (expected one of: " + list + ")");
    }
}

} // namespace bcd
