#include "train/run_lock.h"

#include "bcd/errors.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace bcd {

namespace {

std::string host_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return "unknown host";
    return host;
}

// "pid 123 on host h" from the holder's file; the holder may not have written it yet.
std::string describe_holder(int fd) {
    std::string text(4096, '\0');
    const ssize_t n = ::pread(fd, text.data(), text.size(), 0);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    try {
        const auto j = nlohmann::json::parse(text);
        return "pid " + std::to_string(j.at("pid").get<long>()) + " on host " +
               j.at("host").get<std::string>();
    } catch (const nlohmann::json::exception&) {
        return "a process that has not said who it is yet";
    }
}

} // namespace

RunLock::RunLock(const fs::path& dir, const std::string& config_file) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw InputError(config_file, "output.dir",
                         "cannot create the run folder '" + dir.string() + "': " + ec.message());
    const fs::path file = dir / kFileName;
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw InputError(config_file, "output.dir",
                         "cannot open " + file.string() + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        const std::string holder = err == EWOULDBLOCK ? describe_holder(fd_) : "";
        ::close(fd_);
        fd_ = -1;
        if (err != EWOULDBLOCK)
            throw InputError(config_file, "output.dir",
                             "cannot lock " + file.string() + ": " + std::strerror(err));
        throw InputError(config_file, "output.dir",
                         "'" + dir.string() + "' is in use by another bcd-train (" + holder + ", " +
                             file.string() + "); wait for it to end, or choose another folder");
    }
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string me =
        nlohmann::json{{"pid", ::getpid()}, {"host", host_name()}, {"since", now}}.dump() + "\n";
    if (::ftruncate(fd_, 0) != 0 ||
        ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        throw InputError(config_file, "output.dir",
                         "cannot write " + file.string() + ": " + std::strerror(err));
    }
}

RunLock::~RunLock() {
    if (fd_ >= 0) ::close(fd_); // releases the lock
}

} // namespace bcd
