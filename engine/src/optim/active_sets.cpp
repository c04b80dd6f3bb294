#include "bcd/active_sets.h"

#include "bcd/rng.h"

#include <algorithm>
#include <stdexcept>

namespace bcd {

std::uint64_t lisa_period_seed(std::uint64_t seed, std::uint64_t period) {
    return seed ^ (0x9E6C63D0676A9A99ULL * (period + 1));
}

std::uint64_t importance_period_seed(std::uint64_t seed, std::uint64_t period) {
    return seed ^ (0xA0761D6478BD642FULL * (period + 1));
}

ActiveSets::ActiveSets(BlockSchedule base, std::string order, int gamma, std::vector<int> always,
                       std::vector<int> pool, std::uint64_t seed)
    : base_(std::move(base)), order_(std::move(order)), gamma_(gamma), always_(std::move(always)),
      pool_(std::move(pool)), seed_(seed) {
    if (gamma_ < 1) throw std::invalid_argument("ActiveSets: active_blocks < 1");
    if (order_ == "lisa") {
        if (gamma_ > static_cast<int>(pool_.size()))
            throw std::invalid_argument("ActiveSets: more active layer blocks than layer blocks");
    } else if (gamma_ > base_.num_blocks()) {
        throw std::invalid_argument("ActiveSets: more active blocks than blocks");
    }
}

std::vector<int> ActiveSets::set_of_period(long k, const ImportanceState& imp) const {
    std::vector<int> set;
    auto add = [&set](int b) {
        if (std::find(set.begin(), set.end(), b) == set.end()) set.push_back(b);
    };
    if (order_ == "lisa") {
        set = always_;
        const auto p = seeded_permutation(pool_.size(),
                                          lisa_period_seed(seed_, static_cast<std::uint64_t>(k)));
        for (int i = 0; i < gamma_; ++i) add(pool_[p[static_cast<std::size_t>(i)]]);
    } else if (order_ == "importance") {
        const int D = base_.num_blocks();
        // Blocks never trained come first, lowest id first; the rest is drawn by score.
        for (int b = 0; b < D && static_cast<int>(set.size()) < gamma_; ++b)
            if (imp.score[static_cast<std::size_t>(b)] < 0.0) add(b);
        Rng rng(importance_period_seed(seed_, static_cast<std::uint64_t>(k)));
        while (static_cast<int>(set.size()) < gamma_) {
            std::vector<int> cand;
            double total = 0.0;
            for (int b = 0; b < D; ++b)
                if (std::find(set.begin(), set.end(), b) == set.end()) {
                    cand.push_back(b);
                    total += imp.score[static_cast<std::size_t>(b)];
                }
            const double n = static_cast<double>(cand.size());
            const double u = rng.uniform();
            double acc = 0.0;
            int chosen = cand.back(); // u beyond the rounded sum of the probabilities
            for (int b : cand) {
                const double s = imp.score[static_cast<std::size_t>(b)];
                acc += kImportanceFloor / n + (total > 0.0 ? (1.0 - kImportanceFloor) * s / total
                                                           : (1.0 - kImportanceFloor) / n);
                if (u < acc) {
                    chosen = b;
                    break;
                }
            }
            add(chosen);
        }
    } else {
        // γ consecutive places of the schedule; a block met twice (random cycles meeting) once.
        const long first = base_.place_at(k * base_.switch_every() + 1);
        const long place0 = first + k * (gamma_ - 1);
        for (long q = place0; q < place0 + gamma_; ++q) add(base_.block_at_place(q));
    }
    std::sort(set.begin(), set.end());
    return set;
}

void ActiveSets::end_period(ImportanceState& st, const std::vector<int>& set) {
    if (st.period_steps > 0) {
        const double mean = st.period_sum / static_cast<double>(st.period_steps);
        for (int b : set) st.score[static_cast<std::size_t>(b)] = mean;
    }
    st.period_sum = 0.0;
    st.period_steps = 0;
}

} // namespace bcd
