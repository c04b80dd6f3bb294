#include "bcd/errors.h"

namespace bcd {

namespace {
std::string join_message(const std::string& file, const std::string& key,
                         const std::string& expected) {
    std::string m;
    for (const std::string* part : {&file, &key, &expected}) {
        if (part->empty()) continue;
        if (!m.empty()) m += ": ";
        m += *part;
    }
    return m;
}
} // namespace

InputError::InputError(std::string file, std::string key, std::string expected)
    : std::runtime_error(join_message(file, key, expected)), file_(std::move(file)),
      key_(std::move(key)), expected_(std::move(expected)) {}

} // namespace bcd
