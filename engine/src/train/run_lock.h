#pragma once
// The run folder's lock (docs/data-parallel.md): one trainer at a time writes a run folder. The
// writer (rank 0) holds an exclusive flock on <dir>/run.lock for the life of the run; the file
// names the holder (pid, host, start time) so that a refused trainer can say who has the folder.
// The kernel releases the lock when the holder exits, however it ends (SIGKILL included), so a
// stale lock never blocks a resume. The file itself stays.

#include <filesystem>
#include <string>

namespace bcd {

class RunLock {
public:
    // Creates `dir` when needed and takes the lock. When another process holds it, throws
    // InputError(config_file, "output.dir", ...) naming the holder. Never waits.
    RunLock(const std::filesystem::path& dir, const std::string& config_file);
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

    static constexpr const char* kFileName = "run.lock";

private:
    int fd_ = -1;
};

} // namespace bcd
