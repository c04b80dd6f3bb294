#pragma once
// Typed access to a JSON object with errors that name the file, the dotted key path and what was
// expected. Internal to the engine; users see only the InputError it throws.

#include "bcd/errors.h"

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace bcd {

// Reads and parses a JSON file; a missing file or a syntax error is an InputError naming it.
nlohmann::json read_json_file(const std::filesystem::path& path);

// A short rendering of a JSON value for error messages ("got ...").
std::string json_brief(const nlohmann::json& v);

class JsonObject {
public:
    // `path` is the dotted key of this object inside the file ("" for the top level).
    JsonObject(const nlohmann::json& j, std::string file, std::string path);

    bool has(std::string_view key) const; // present and not null
    const nlohmann::json& raw(std::string_view key) const;
    std::string key_path(std::string_view key) const;
    const std::string& file() const { return file_; }
    const nlohmann::json& raw_object() const { return *j_; }

    JsonObject object(std::string_view key) const; // required object
    std::optional<JsonObject> optional_object(std::string_view key) const;

    std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max) const;
    std::int64_t integer(std::string_view key, std::int64_t fallback, std::int64_t min,
                         std::int64_t max) const;
    double number(std::string_view key, double min, double max) const;
    double number(std::string_view key, double fallback, double min, double max) const;
    bool boolean(std::string_view key) const;
    bool boolean(std::string_view key, bool fallback) const;
    std::string string(std::string_view key) const;
    std::string string(std::string_view key, std::string fallback) const;
    // A string that must be one of `choices`.
    std::string choice(std::string_view key, std::string fallback,
                       std::initializer_list<std::string_view> choices) const;

    // Every key of the object must be in `known`; the first other one is an InputError.
    void reject_unknown(std::initializer_list<std::string_view> known) const;

    [[noreturn]] void fail(std::string_view key, const std::string& expected) const;

private:
    const nlohmann::json* j_;
    std::string file_;
    std::string path_;
};

} // namespace bcd
