#pragma once
// The run directory contract of DESIGN.md §3: run.json, metrics.jsonl (append-only, one record
// per line, flushed as written), status.json (replaced atomically), train.log (and stdout).

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace bcd {

class RunDirectory {
public:
    explicit RunDirectory(std::filesystem::path dir); // creates it; opens the logs for appending
    ~RunDirectory();
    RunDirectory(const RunDirectory&) = delete;
    RunDirectory& operator=(const RunDirectory&) = delete;

    const std::filesystem::path& path() const { return dir_; }
    void write_run_json(const nlohmann::json& j);
    // Appends one record and flushes it (a reader tailing the file sees whole lines as written).
    void metric(const nlohmann::ordered_json& record);
    // status.json: {"state", "pid", "step", "steps", "message", "updated"}, written atomically.
    void status(const std::string& state, long step, long steps, const std::string& message = "");
    // status.json "failed", written by a process that is not the folder's writer (a failing rank
    // other than 0 of a data-parallel run).
    // A line in <dir>/train.log, written by a process that is not the folder's writer.
    static void append_log(const std::filesystem::path& dir, const std::string& line);
    static void write_failed_status(const std::filesystem::path& dir, long step, long steps,
                                    const std::string& message);
    // A line in train.log and on stdout, prefixed with the wall-clock time in train.log.
    void log(const std::string& line);

private:
    std::filesystem::path dir_;
    std::FILE* metrics_ = nullptr;
    std::FILE* log_ = nullptr;
};

} // namespace bcd
