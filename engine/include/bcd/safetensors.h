#pragma once
// Safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON describing each tensor (dtype, shape, data_offsets relative to the end
// of the header), then the raw little-endian data. Files are memory-mapped; every field of the
// header is validated before any data is touched, so a corrupt or hostile file is an InputError
// (exit code 2), never a crash.

#include "bcd/mapped_file.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bcd {

enum class DType { F32, F16, BF16 };

std::string_view dtype_name(DType d); // "F32", "F16", "BF16"
std::size_t dtype_size(DType d);      // bytes per element

struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0; // byte offsets into the data section (after the header)
    std::uint64_t end = 0;

    std::uint64_t numel() const;
};

// A read-only, memory-mapped safetensors file.
class SafetensorsFile {
public:
    // Opens, maps and validates the file. Throws InputError naming the file and the offending
    // field: header length past the end, malformed JSON, unknown dtype, negative or overflowing
    // shape, offsets out of range / overlapping / not matching shape × dtype size.
    static SafetensorsFile open(const std::filesystem::path& path);

    // Validates an in-memory image of a file (used by the fuzz target and by open()).
    // `label` names the source in error messages. The bytes must outlive the object.
    static SafetensorsFile parse(std::span<const std::byte> bytes, std::string label);

    SafetensorsFile(SafetensorsFile&&) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;
    ~SafetensorsFile();

    const std::string& label() const { return label_; }
    const std::vector<TensorEntry>& tensors() const { return tensors_; } // sorted by name
    const TensorEntry* find(std::string_view name) const;                // nullptr if absent
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    // The tensor's raw bytes inside the mapping.
    std::span<const std::byte> raw(const TensorEntry& t) const;

    // Converts the tensor to fp32 into dst, which must hold exactly t.numel() floats.
    void read_f32(const TensorEntry& t, std::span<float> dst) const;

private:
    SafetensorsFile() = default;

    std::string label_;
    MappedFile map_;                  // when opened from a file
    std::span<const std::byte> data_; // the data section
    std::vector<TensorEntry> tensors_;
    std::map<std::string, std::string> metadata_;
};

// One tensor to write: fp32 values in memory, stored as `dtype` in the file.
struct TensorToWrite {
    std::string name;
    std::vector<std::int64_t> shape;
    std::span<const float> data; // numel(shape) values
    DType dtype = DType::F32;
};

// Writes a single-file safetensors atomically: a temporary file in the same folder, fsync, rename.
// The header is padded with spaces so that the data section starts 8-byte aligned. Tensors are
// stored in the order given. Throws InternalError on I/O failure (the target is left untouched).
void write_safetensors(const std::filesystem::path& path, std::span<const TensorToWrite> tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Conversions used by the reader and writer (round to nearest even for fp32 -> 16-bit).
float bf16_to_f32(std::uint16_t v);
float f16_to_f32(std::uint16_t v);
std::uint16_t f32_to_bf16(float f);
std::uint16_t f32_to_f16(float f);

} // namespace bcd
