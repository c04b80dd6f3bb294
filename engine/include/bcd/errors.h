#pragma once
// Error types of the engine. Every error a user can cause names the file, the key (or field, or
// line) and what was expected, so that the CLI can print it as one line and exit with code 2.

#include <stdexcept>
#include <string>

namespace bcd {

// Exit codes of every bcd-train command (DESIGN.md §3).
enum ExitCode : int {
    kExitOk = 0,
    kExitInternal = 1,
    kExitBadInput = 2,
    kExitCancelled = 130,
};

// Bad input from the user: a file, a key in it, and what was expected there.
// what() is "FILE: KEY: EXPECTATION" (parts that are empty are left out).
class InputError : public std::runtime_error {
public:
    InputError(std::string file, std::string key, std::string expected);

    const std::string& file() const noexcept { return file_; }
    const std::string& key() const noexcept { return key_; }
    const std::string& expected() const noexcept { return expected_; }

private:
    std::string file_;
    std::string key_;
    std::string expected_;
};

// A failure that is not the user's fault (out of memory, an I/O error on our own files, a bug).
class InternalError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The disk (or quota) holding a folder the engine writes to is full: the user's to fix, not a
// bug. what() is "no space left on the device holding DIR (writing FILE)".
class DiskFullError : public InternalError {
public:
    DiskFullError(const std::string& dir, const std::string& file)
        : InternalError("no space left on the device holding " + dir + " (writing " + file + ")"),
          dir_(dir), file_(file) {}
    const std::string& dir() const noexcept { return dir_; }
    const std::string& file() const noexcept { return file_; }

private:
    std::string dir_;
    std::string file_;
};

} // namespace bcd
