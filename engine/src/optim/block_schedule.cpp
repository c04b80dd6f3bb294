#include "bcd/block_schedule.h"

#include "bcd/rng.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace bcd {

std::vector<std::uint32_t> seeded_permutation(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint32_t> a(n);
    std::iota(a.begin(), a.end(), 0u);
    Rng rng(seed);
    for (std::size_t i = n; i-- > 1;) std::swap(a[i], a[rng.below(i + 1)]);
    return a;
}

std::uint64_t data_epoch_seed(std::uint64_t seed, std::uint64_t epoch) {
    return seed ^ (0xD1B54A32D192ED03ULL * (epoch + 1));
}

std::uint64_t block_cycle_seed(std::uint64_t seed, std::uint64_t cycle) {
    return seed ^ (0x8CB92BA72F3D8DD7ULL * (cycle + 1));
}

BlockSchedule::BlockSchedule(int num_blocks, std::string order, std::vector<int> fixed_order,
                             long switch_every, int start_block, std::uint64_t seed)
    : num_blocks_(num_blocks), order_(std::move(order)), fixed_(std::move(fixed_order)),
      switch_every_(switch_every), seed_(seed) {
    if (num_blocks_ < 1) throw std::invalid_argument("BlockSchedule: no blocks");
    if (switch_every_ < 1) throw std::invalid_argument("BlockSchedule: switch_every < 1");
    if (order_ != "ascending" && order_ != "descending" && order_ != "random" && order_ != "fixed")
        throw std::invalid_argument("BlockSchedule: unknown order " + order_);
    if (order_ == "fixed") {
        if (fixed_.empty()) throw std::invalid_argument("BlockSchedule: empty fixed order");
        for (int b : fixed_)
            if (b < 0 || b >= num_blocks_)
                throw std::invalid_argument("BlockSchedule: fixed id out of range");
    }
    if (start_block >= 0) {
        if (start_block >= num_blocks_)
            throw std::invalid_argument("BlockSchedule: start_block out of range");
        const auto c0 = cycle(0);
        const auto it = std::find(c0.begin(), c0.end(), start_block);
        if (it == c0.end())
            throw std::invalid_argument("BlockSchedule: start_block not in the order");
        first_place_ = it - c0.begin();
    }
}

std::vector<int> BlockSchedule::cycle(long c) const {
    std::vector<int> ids(static_cast<std::size_t>(num_blocks_));
    std::iota(ids.begin(), ids.end(), 0);
    if (order_ == "descending") std::reverse(ids.begin(), ids.end());
    if (order_ == "fixed") return fixed_;
    if (order_ == "random") {
        const auto p = seeded_permutation(static_cast<std::size_t>(num_blocks_),
                                          block_cycle_seed(seed_, static_cast<std::uint64_t>(c)));
        for (std::size_t i = 0; i < p.size(); ++i) ids[i] = static_cast<int>(p[i]);
    }
    return ids;
}

int BlockSchedule::block_at_place(long place) const {
    const long len = order_ == "fixed" ? static_cast<long>(fixed_.size()) : num_blocks_;
    if (order_ == "random") return cycle(place / len)[static_cast<std::size_t>(place % len)];
    return cycle(0)[static_cast<std::size_t>(place % len)];
}

int BlockSchedule::block_at(long step) const {
    return block_at_place(place_at(step));
}

} // namespace bcd
