#include "train/run_directory.h"

#include "bcd/atomic_file.h"
#include "bcd/errors.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iostream>
#include <unistd.h>

namespace bcd {

RunDirectory::RunDirectory(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec)
        throw InputError(dir_.string(), "output.dir",
                         "cannot create the run folder: " + ec.message());
    metrics_ = std::fopen((dir_ / "metrics.jsonl").c_str(), "ab");
    log_ = std::fopen((dir_ / "train.log").c_str(), "ab");
    if (!metrics_ || !log_)
        throw InputError(dir_.string(), "output.dir",
                         std::string("cannot write in the run folder: ") + std::strerror(errno));
}

RunDirectory::~RunDirectory() {
    if (metrics_) std::fclose(metrics_);
    if (log_) std::fclose(log_);
}

void RunDirectory::write_run_json(const nlohmann::json& j) {
    write_file_atomic(dir_ / "run.json", j.dump(2) + "\n");
}

void RunDirectory::metric(const nlohmann::ordered_json& record) {
    const std::string line = record.dump() + "\n";
    // Checked: a full disk ends the run with its reason, never with silently missing lines.
    if (std::fwrite(line.data(), 1, line.size(), metrics_) != line.size() ||
        std::fflush(metrics_) != 0)
        throw_write_error(dir_ / "metrics.jsonl", "append to", errno);
}

namespace {

void write_status(const std::filesystem::path& dir, const std::string& state, long step, long steps,
                  const std::string& message) {
    const auto now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    nlohmann::ordered_json j{{"state", state}, {"pid", ::getpid()},  {"step", step},
                             {"steps", steps}, {"message", message}, {"updated", now}};
    write_file_atomic(dir / "status.json", j.dump() + "\n", false);
}

} // namespace

void RunDirectory::status(const std::string& state, long step, long steps,
                          const std::string& message) {
    write_status(dir_, state, step, steps, message);
}

void RunDirectory::write_failed_status(const std::filesystem::path& dir, long step, long steps,
                                       const std::string& message) {
    write_status(dir, "failed", step, steps, message);
}

namespace {

std::string stamped(const std::string& line) {
    char stamp[32];
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    return std::string(stamp) + " " + line + "\n";
}

} // namespace

void RunDirectory::log(const std::string& line) {
    std::cout << line << std::endl;
    const std::string text = stamped(line);
    // Checked like the metrics: a full disk ends the run with its reason.
    if (std::fwrite(text.data(), 1, text.size(), log_) != text.size() || std::fflush(log_) != 0)
        throw_write_error(dir_ / "train.log", "append to", errno);
}

void RunDirectory::append_log(const std::filesystem::path& dir, const std::string& line) {
    // One write in append mode: the line lands whole after the writer's lines.
    std::FILE* f = std::fopen((dir / "train.log").c_str(), "ab");
    if (!f) return;
    const std::string text = stamped(line);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
}

} // namespace bcd
