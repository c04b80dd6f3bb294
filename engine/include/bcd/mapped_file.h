#pragma once
// The engine's one read-only file mapping, for the readers of large files (safetensors, token
// shards): the whole file mapped once, unmapped when the last owner goes.

#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>

namespace bcd {

class MappedFile {
public:
    MappedFile() = default;
    // Maps `path` read-only; an empty file gives an empty span (mmap refuses empty mappings).
    // Errors are InputErrors naming the file ("cannot open the file: REASON", "expected
    // EXPECTED, found a directory or device"); a failed mmap itself is an InternalError.
    static MappedFile open(const std::filesystem::path& path, std::string_view expected);

    MappedFile(MappedFile&& o) noexcept;
    MappedFile& operator=(MappedFile&& o) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    // Should another process truncate the file while it is mapped, touching the lost pages
    // raises SIGBUS; the engine's own writer never truncates in place (it renames a new file
    // over the old one), so only outside tampering can cause that.
    std::span<const std::byte> bytes() const {
        return {static_cast<const std::byte*>(base_), size_};
    }
    std::size_t size() const { return size_; }

private:
    void* base_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace bcd
