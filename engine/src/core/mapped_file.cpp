#include "bcd/mapped_file.h"

#include "bcd/errors.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace bcd {

MappedFile MappedFile::open(const std::filesystem::path& path, std::string_view expected) {
    const std::string label = path.string();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw InputError(label, "", std::string("cannot open the file: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        throw InputError(label, "", std::string("cannot read the file: ") + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw InputError(label, "",
                         "expected " + std::string(expected) + ", found a directory or device");
    }
    MappedFile m;
    m.size_ = static_cast<std::size_t>(st.st_size);
    if (m.size_ == 0) {
        ::close(fd);
        return m;
    }
    void* base = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int map_errno = errno;
    ::close(fd); // the mapping keeps the file referenced
    if (base == MAP_FAILED)
        throw InternalError(label +
                            ": cannot map the file into memory: " + std::strerror(map_errno));
    m.base_ = base;
    return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        if (base_) ::munmap(base_, size_);
        base_ = std::exchange(o.base_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (base_) ::munmap(base_, size_);
}

} // namespace bcd
