#include "bcd/atomic_file.h"

#include "bcd/errors.h"
#include "bcd/test_hook.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <utility>

namespace bcd {

namespace {

std::filesystem::path folder_of(const std::filesystem::path& file) {
    return file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
}

} // namespace

[[noreturn]] void throw_write_error(const std::filesystem::path& file, std::string_view action,
                                    int err) {
    if (err == ENOSPC || err == EDQUOT)
        throw DiskFullError(folder_of(file).string(), file.string());
    throw InternalError("cannot " + std::string(action) + " " + file.string() + ": " +
                        std::strerror(err));
}

void sync_directory(const std::filesystem::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_write_error(dir, "open the folder", errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0 && err != EINVAL && err != ENOTSUP) throw_write_error(dir, "sync the folder", err);
}

// A full disk names the target (the temporary name means nothing to a user); other failures
// name the file the call failed on.
[[noreturn]] void AtomicFileWriter::fail(std::string_view action, int err) const {
    if (err == ENOSPC || err == EDQUOT) throw_write_error(target_, action, err);
    throw_write_error(tmp_, action, err);
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path target, bool durable)
    : target_(std::move(target)), tmp_(folder_of(target_) / (target_.filename().string() + ".tmp." +
                                                             std::to_string(::getpid()))),
      durable_(durable) {
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (!file_) fail("create", errno);
}

AtomicFileWriter::~AtomicFileWriter() {
    if (file_) std::fclose(file_);
    if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFileWriter::write(const void* data, std::size_t n) {
    if (n > 0 && std::fwrite(data, 1, n, file_) != n) fail("write", errno);
    if (!wrote_) { // the test hook's "write:<file>" point (bcd/test_hook.h), once per file
        wrote_ = true;
        if (test_hook::armed()) {
            // The partly written temporary file is in the kernel's hands when the hook kills.
            if (std::fflush(file_) != 0) fail("write", errno);
            test_hook::stop_point("write", target_);
        }
    }
}

void AtomicFileWriter::seek(std::uint64_t offset) {
    if (::fseeko(file_, static_cast<off_t>(offset), SEEK_SET) != 0) fail("seek in", errno);
}

void AtomicFileWriter::commit() {
    // fflush reports a full disk for the buffered tail; fsync and close for delayed allocation
    // (and NFS); each is checked, or a short file would be renamed into place.
    if (std::fflush(file_) != 0) fail("write", errno);
    if (durable_ && ::fsync(::fileno(file_)) != 0) fail("sync", errno);
    if (std::fclose(std::exchange(file_, nullptr)) != 0) fail("close", errno);
    test_hook::stop_point("synced", target_);
    if (std::rename(tmp_.c_str(), target_.c_str()) != 0)
        throw_write_error(target_, "rename " + tmp_.string() + " to", errno);
    committed_ = true;
    test_hook::stop_point("renamed", target_);
    if (durable_) sync_directory(folder_of(target_));
}

void write_file_atomic(const std::filesystem::path& path, std::string_view text, bool durable) {
    AtomicFileWriter f(path, durable);
    f.write(text);
    f.commit();
}

} // namespace bcd
