#pragma once
#include <filesystem>
#include <string>

namespace bcd {

// Writes `text` to `path` through a temporary file in the same folder and a rename, so that a
// reader (or a crash) never sees half a file. With `sync` the data reaches the disk first.
// Throws InternalError on failure; the target is then untouched.
void write_file_atomic(const std::filesystem::path& path, const std::string& text,
                       bool sync = true);

} // namespace bcd
