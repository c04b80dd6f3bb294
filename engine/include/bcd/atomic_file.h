#pragma once
// The engine's one durable file writer. Every file that must be whole or absent after a crash
// (safetensors, state.bin, token shards, DONE, config.json, run.json, status.json) is written
// through it: a temporary file in the target's folder, checked writes and close, fsync of the
// file, rename onto the target, fsync of the folder. A failure removes the temporary file and
// leaves the target as it was; a full disk is a DiskFullError naming the folder.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace bcd {

class AtomicFileWriter {
public:
    // `durable` false skips the two fsyncs (status.json, rewritten every log step: a reader
    // still sees the old or the new file, but a power cut may lose the last update).
    explicit AtomicFileWriter(std::filesystem::path target, bool durable = true);
    ~AtomicFileWriter(); // removes the temporary file unless committed
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    void write(const void* data, std::size_t n);
    void write(std::string_view text) { write(text.data(), text.size()); }
    // Moves the write position (to fill in a header whose values are known only at the end).
    void seek(std::uint64_t offset);
    // Flush, fsync, close, rename, fsync of the folder; each step checked.
    void commit();

    const std::filesystem::path& target() const { return target_; }
    const std::filesystem::path& temp_path() const { return tmp_; }

private:
    [[noreturn]] void fail(std::string_view action, int err) const;

    std::filesystem::path target_;
    std::filesystem::path tmp_;
    std::FILE* file_ = nullptr;
    bool durable_ = true;
    bool committed_ = false;
    bool wrote_ = false; // the first write is a test hook's stop point (bcd/test_hook.h)
};

// Writes `text` to `path` through an AtomicFileWriter.
void write_file_atomic(const std::filesystem::path& path, std::string_view text,
                       bool durable = true);

// fsync of a folder, so that the names created or renamed in it survive a power cut. File
// systems that cannot sync a folder (EINVAL) are accepted as they are.
void sync_directory(const std::filesystem::path& dir);

// Throws for a failed write of `file` with errno `err`: DiskFullError for ENOSPC and EDQUOT,
// else InternalError "cannot ACTION FILE: REASON".
[[noreturn]] void throw_write_error(const std::filesystem::path& file, std::string_view action,
                                    int err);

} // namespace bcd
