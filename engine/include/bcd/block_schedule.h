#pragma once
// Which block trains at which step (docs/training.md "Blocks and their schedule"): an endless
// sequence of cycles (ascending, descending, fixed, or seeded random permutations), entered at
// start_block, advancing one place every switch_every steps.

#include <cstdint>
#include <string>
#include <vector>

namespace bcd {

class BlockSchedule {
public:
    // `order`: ascending | descending | random | fixed. start_block < 0: the start of cycle 0.
    // Throws std::invalid_argument for ids out of range (the caller validates user input first).
    BlockSchedule(int num_blocks, std::string order, std::vector<int> fixed_order,
                  long switch_every, int start_block, std::uint64_t seed);

    // The block trained at (1-based) step s.
    int block_at(long step) const;
    // The place in the endless sequence of step s (for checkpoints and tests).
    long place_at(long step) const { return first_place_ + (step - 1) / switch_every_; }
    // The block at a place of the sequence.
    int block_at_place(long place) const;
    long switch_every() const { return switch_every_; }
    int num_blocks() const { return num_blocks_; }

    // The ids of cycle c (a permutation for random order).
    std::vector<int> cycle(long c) const;

private:
    int num_blocks_;
    std::string order_;
    std::vector<int> fixed_;
    long switch_every_;
    std::uint64_t seed_;
    long first_place_ = 0;
};

// Fisher–Yates permutation of 0..n-1 with Rng(seed) (docs/training.md "Data order").
std::vector<std::uint32_t> seeded_permutation(std::size_t n, std::uint64_t seed);

// Seeds of the data permutation of epoch e and of the random block cycle c.
std::uint64_t data_epoch_seed(std::uint64_t seed, std::uint64_t epoch);
std::uint64_t block_cycle_seed(std::uint64_t seed, std::uint64_t cycle);

} // namespace bcd
