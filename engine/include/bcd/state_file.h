#pragma once
// state.bin: the part of a checkpoint that is not the model (DESIGN.md §3): step, schedule and
// data cursor, optimizer state, as a JSON header plus raw fp32 arrays, with a checksum so that a
// torn or corrupt file is refused instead of silently resuming from garbage.
//
// Layout (little-endian): "BCDSTATE" | u32 version (1) | u32 0 | u64 header length H |
// H bytes of JSON (its "arrays" member lists each array's name and float count, in file order) |
// the arrays' floats | u64 FNV-1a-64 of every preceding byte.

#include "bcd/buffer.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace bcd {

struct StateArray {
    std::string name;
    std::span<const float> data;
};

// Writes atomically (temporary file, fsync, rename). `header` must not hold "arrays".
void write_state_file(const std::filesystem::path& path, nlohmann::json header,
                      std::span<const StateArray> arrays);

struct LoadedState {
    nlohmann::json header;
    std::vector<std::string> names;
    std::vector<FloatBuffer> arrays;
    const FloatBuffer* find(const std::string& name) const;
    FloatBuffer* find(const std::string& name);
};

// Reads and verifies; any inconsistency is an InputError naming the file.
LoadedState read_state_file(const std::filesystem::path& path);

} // namespace bcd
