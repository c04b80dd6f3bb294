// bcd-train train / validate.

#include "bcd/blocks.h"
#include "bcd/communicator.h"
#include "bcd/errors.h"
#include "bcd/model_config.h"
#include "bcd/run_config.h"
#include "bcd/trainer.h"
#include "cli.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace bcd::cli {

namespace {

std::atomic<int> g_cancel{0};
std::atomic<int> g_interrupts{0};

// First SIGINT or SIGTERM: finish the current step, checkpoint, exit 130. A second SIGINT (a user
// pressing Ctrl-C again) exits at once. A repeated SIGTERM does not: schedulers send it more than
// once (Slurm at a time limit: slurmstepd and srun; mpirun forwarding it to its ranks) and follow
// it with SIGKILL after their grace period, which the checkpoint must be allowed to use.
void on_signal(int sig) {
    g_cancel.fetch_add(1);
    if (sig == SIGINT && g_interrupts.fetch_add(1) > 0) ::_exit(kExitCancelled);
}

int train_with(Args& args, Communicator& comm);

} // namespace

int cmd_train(const std::vector<std::string>& argv) {
    Args args("train", argv, {"config"}, {"resume"});
    // Started as one of several ranks by an engine without MPI: refused before anything else.
    // MPI is initialised before the signal handlers are set, so that they are ours.
    const std::unique_ptr<Communicator> comm = make_communicator();
    if (comm->size() == 1) return train_with(args, *comm);
    // A rank that fails ends the whole job (the others would wait in a collective for ever),
    // with its message on stderr and its exit code as mpirun's.
    // One write per line: the ranks' lines share mpirun's output.
    int code = kExitInternal;
    std::string line = "bcd-train: rank " + std::to_string(comm->rank()) + ": ";
    try {
        return train_with(args, *comm);
    } catch (const InputError& e) {
        line += std::string("error: ") + e.what() + "\n";
        code = kExitBadInput;
    } catch (const std::exception& e) {
        line += std::string("internal error: ") + e.what() + "\n";
    }
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    comm->abort(code);
    return code; // not reached: abort() ends the job
}

namespace {

int train_with(Args& args, Communicator& comm) {
    const RunConfig cfg = RunConfig::load(args.required("config"));
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    TrainOptions opts;
    opts.resume = args.flag("resume");
    opts.cancel = &g_cancel;
    opts.comm = &comm;
    return train(cfg, opts);
}

} // namespace

int cmd_validate(const std::vector<std::string>& argv) {
    Args args("validate", argv, {"config"}, {});
    const RunConfig cfg = RunConfig::load(args.required("config"));
    // The partition is checked against the model's tensors, as train would.
    const ModelConfig mc = load_model_config(cfg.model.path);
    const ParamLayout layout(mc);
    std::vector<Block> blocks;
    if (cfg.bcd.mode == "bcd") {
        blocks = cfg.bcd.blocks
                     ? prefix_blocks(layout, *cfg.bcd.blocks, cfg.source.string(), "bcd.blocks")
                     : default_blocks(layout, cfg.bcd.layers_per_block, cfg.bcd.embed_block,
                                      cfg.bcd.head_block);
        const int D = static_cast<int>(blocks.size());
        for (int b : cfg.bcd.fixed_order)
            if (b >= D)
                throw InputError(cfg.source.string(), "bcd.fixed_order",
                                 "block id " + std::to_string(b) + " does not exist (ids 0.." +
                                     std::to_string(D - 1) + ")");
        if (cfg.bcd.start_block && *cfg.bcd.start_block >= D)
            throw InputError(cfg.source.string(), "bcd.start_block",
                             "expected a block id below " + std::to_string(D));
    }
    nlohmann::json j = cfg.to_json();
    std::cout << j.dump(2) << "\n";
    return kExitOk;
}

} // namespace bcd::cli
