#include "bcd/data.h"
#include "bcd/errors.h"

#include <algorithm>
#include <fstream>

namespace bcd {

std::vector<std::int32_t> load_byte_tokens(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path.string(), "", "cannot open the file (expected a text file)");
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw InputError(path.string(), "", "read error");
    std::vector<std::int32_t> tokens(bytes.size());
    std::transform(bytes.begin(), bytes.end(), tokens.begin(),
                   [](char c) { return static_cast<std::int32_t>(static_cast<unsigned char>(c)); });
    return tokens;
}

std::size_t num_windows(std::size_t n, int S) {
    if (S <= 0 || n < static_cast<std::size_t>(S) + 1) return 0;
    return (n - 1) / static_cast<std::size_t>(S);
}

void copy_window(const std::vector<std::int32_t>& tokens, std::size_t w, int S,
                 std::int32_t* inputs, std::int32_t* targets) {
    const std::size_t s = w * static_cast<std::size_t>(S);
    std::copy_n(tokens.begin() + static_cast<std::ptrdiff_t>(s), S, inputs);
    std::copy_n(tokens.begin() + static_cast<std::ptrdiff_t>(s) + 1, S, targets);
}

} // namespace bcd

#include "bcd/block_schedule.h"

#include <stdexcept>

namespace bcd {

WindowStream::WindowStream(std::size_t num_windows, std::uint64_t seed)
    : n_(num_windows), seed_(seed) {
    if (n_ == 0) throw std::invalid_argument("WindowStream: no windows");
    if (n_ > 0xFFFFFFFFULL) throw std::invalid_argument("WindowStream: more than 2^32 windows");
    build();
}

void WindowStream::build() {
    perm_ = seeded_permutation(n_, data_epoch_seed(seed_, epoch_));
}

std::size_t WindowStream::next() {
    if (index_ == n_) {
        ++epoch_;
        index_ = 0;
        build();
    }
    return perm_[index_++];
}

void WindowStream::seek(std::uint64_t epoch, std::uint64_t index) {
    if (index > n_) throw std::invalid_argument("WindowStream::seek: index past the epoch");
    epoch_ = epoch;
    index_ = index;
    build();
}

} // namespace bcd
