#pragma once
// `bcd-train train`: the training loop of DESIGN.md §3 and docs/training.md — BCD or full
// training, evaluation, checkpoints, exact resume, and cancellation by SIGINT/SIGTERM.

#include "bcd/run_config.h"

#include <atomic>

namespace bcd {

class Communicator;

struct TrainOptions {
    bool resume = false;
    // Set (e.g. by a signal handler) to stop after the current step with a checkpoint.
    const std::atomic<int>* cancel = nullptr;
    // The ranks of a data-parallel run (docs/data-parallel.md); null: one process.
    Communicator* comm = nullptr;
};

// Runs the configured training and returns the process exit code: 0 finished, 130 cancelled.
// Bad input throws InputError before anything in the output folder is touched.
int train(const RunConfig& cfg, const TrainOptions& opts);

} // namespace bcd
