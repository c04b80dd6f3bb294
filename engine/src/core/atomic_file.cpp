#include "bcd/atomic_file.h"

#include "bcd/errors.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace bcd {

void write_file_atomic(const std::filesystem::path& path, const std::string& text, bool sync) {
    const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw InternalError("cannot create " + tmp + ": " + std::strerror(errno));
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
                    std::fflush(f) == 0 && (!sync || ::fsync(::fileno(f)) == 0);
    std::fclose(f);
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        throw InternalError("cannot write " + path.string() + ": " + std::strerror(err));
    }
}

} // namespace bcd
