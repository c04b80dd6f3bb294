#pragma once
#include <array>
#include <cstdint>

namespace bcd {

// A deterministic, platform-independent random stream (splitmix64 seeding xoshiro256**) for
// initialisation, shuffling and block orders. std::normal_distribution is not used: its output
// differs between standard libraries.
class Rng {
public:
    explicit Rng(std::uint64_t seed);
    std::uint64_t next();
    double uniform();                     // [0, 1)
    double normal();                      // N(0, 1), Box-Muller
    std::uint64_t below(std::uint64_t n); // uniform integer in [0, n)
    std::array<std::uint64_t, 4> state() const { return s_; }
    void set_state(const std::array<std::uint64_t, 4>& s) { s_ = s; }

private:
    std::array<std::uint64_t, 4> s_{};
};

} // namespace bcd
