#pragma once
// Which blocks train together in each period of switch_every steps (docs/training.md "Active
// sets"): γ = bcd.active_blocks places of the block schedule at a time (ascending, descending,
// random, fixed), LISA's always-trained embedding and head plus γ freshly drawn layer blocks, or
// a draw weighted by the blocks' recent gradient norms (importance). Sets are ascending block ids.

#include "bcd/block_schedule.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bcd {

// The gradient-norm record that order "importance" draws from: one score per block (negative:
// never trained), and the running sum over the current period. Part of a checkpoint.
struct ImportanceState {
    std::vector<double> score;
    double period_sum = 0.0;
    long period_steps = 0;
};

class ActiveSets {
public:
    // `base`: the block schedule of the cyclic orders (its order is ignored for lisa and
    // importance). `always`: LISA's blocks in every set; `pool`: the blocks LISA draws from.
    // Throws std::invalid_argument when γ exceeds the blocks it can draw from.
    ActiveSets(BlockSchedule base, std::string order, int gamma, std::vector<int> always,
               std::vector<int> pool, std::uint64_t seed);

    long switch_every() const { return base_.switch_every(); }
    long period_of(long step) const { return (step - 1) / base_.switch_every(); }
    const std::string& order() const { return order_; }
    int gamma() const { return gamma_; }

    // The set of period k. `importance` is read for order "importance" only.
    std::vector<int> set_of_period(long k, const ImportanceState& importance) const;

    // Order "importance": the period ended with `set` trained; its mean gradient norm becomes the
    // score of every block of the set, and the running sum starts again.
    static void end_period(ImportanceState& st, const std::vector<int>& set);

private:
    BlockSchedule base_;
    std::string order_;
    int gamma_;
    std::vector<int> always_, pool_;
    std::uint64_t seed_;
};

// Seeds of LISA's draw and of the importance draw of period k.
std::uint64_t lisa_period_seed(std::uint64_t seed, std::uint64_t period);
std::uint64_t importance_period_seed(std::uint64_t seed, std::uint64_t period);

// Share of an importance draw's probability spread evenly over the candidates, so that no block
// starves: p(b) = floor / n + (1 - floor) · score(b) / Σ score.
inline constexpr double kImportanceFloor = 0.2;

} // namespace bcd
