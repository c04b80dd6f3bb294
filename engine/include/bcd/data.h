#pragma once
// Token streams and the windows cut from them (DESIGN.md §3): windows start at 0, S, 2S, … while
// start + S + 1 ≤ n; inputs are t[s, s+S), targets t[s+1, s+S+1).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace bcd {

// A text file as byte-level tokens (one token per byte, ids 0..255). An absent or unreadable
// file is an InputError naming it.
std::vector<std::int32_t> load_byte_tokens(const std::filesystem::path& path);

// Number of windows of length S in a stream of n tokens.
std::size_t num_windows(std::size_t n, int S);

// Copies window w (inputs and targets, S each) from the stream.
void copy_window(const std::vector<std::int32_t>& tokens, std::size_t w, int S,
                 std::int32_t* inputs, std::int32_t* targets);

} // namespace bcd

namespace bcd {

// The training order of windows (docs/training.md "Data order"): epoch e visits the windows in a
// seeded Fisher–Yates permutation; the cursor (epoch, index) is all a checkpoint needs.
class WindowStream {
public:
    WindowStream(std::size_t num_windows, std::uint64_t seed);

    std::size_t next(); // the next window, advancing the cursor
    std::uint64_t epoch() const { return epoch_; }
    std::uint64_t index() const { return index_; }
    void seek(std::uint64_t epoch, std::uint64_t index);
    std::size_t num_windows() const { return n_; }

private:
    void build();
    std::size_t n_;
    std::uint64_t seed_;
    std::uint64_t epoch_ = 0, index_ = 0;
    std::vector<std::uint32_t> perm_;
};

} // namespace bcd
