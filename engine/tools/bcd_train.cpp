// bcd-train: the engine's command-line front end (DESIGN.md §3).

#include "bcd/errors.h"
#include "bcd/version.h"
#include "cli.h"

#include <cstring>
#include <iostream>
#include <new>

namespace bcd::cli {

namespace {

const char* const kUsage = R"(usage: bcd-train COMMAND [OPTIONS]

Block coordinate descent training engine for Llama-family language models.

commands:
  train    --config RUN.json [--resume]
                                   train (BCD or full); writes the run folder output.dir
  validate --config RUN.json       check a run config and print it resolved
  plan     --config RUN.json [--gpu "NAME[:MEM][ xN][ @NODES]"]... [--json]
           [--ranks N] [--nodes M]
                                   memory, time and cost per device, full against BCD
                                   (without --gpu: this machine's CPU, N processes on each
                                   of M such nodes; docs/planner.md)
  init     --preset NAME --out DIR [--seed S] [--dtype f32|bf16|f16] [--shard-size BYTES] [--force]
                                   write a random-initialised model in Hugging Face layout
  eval     --model DIR --data PATH [--format text|jsonl|sft|tokens] [--seq-len N]
           [--batch-size B] [--device auto|cpu|cuda|cuda:N] [--precision fp32|bf16]
           [--threads N] [--chat-format NAME] [--json]
                                   mean token loss of a model on data (its tokenizer, else bytes)
  tokenize --data PATH --out FILE (--model DIR | --tokenizer FILE|byte) [--format text|jsonl|sft]
           [--skip-malformed] [--threads N] [--chat-format NAME]
                                   pre-tokenise data into a token shard (data.format "tokens")
  sample   --model DIR [--prompt TEXT] [--max-new N] [--temperature T] [--top-k K] [--top-p P]
           [--seed S]
           [--device auto|cpu|cuda|cuda:N] [--precision fp32|bf16] [--threads N]
                                   generate text (byte-level; temperature 0 = greedy)
  inspect  --model DIR [--json]    tensors, parameter counts, default BCD blocks
  devices  [--json]                the compute devices the engine can use

options:
  --help, -h     this text
  --version      the engine's version

exit codes: 0 success, 2 bad input, 1 internal failure, 130 cancelled
)";

int run(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << kUsage;
        return kExitBadInput;
    }
    const std::string cmd = argv[1];
    std::vector<std::string> rest(argv + 2, argv + argc);
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::cout << kUsage;
        return kExitOk;
    }
    if (cmd == "--version") {
        std::cout << "bcd-train " << BCD_VERSION << "\n";
        return kExitOk;
    }
    for (const auto& a : rest)
        if (a == "--help" || a == "-h") {
            std::cout << kUsage;
            return kExitOk;
        }
    if (cmd == "init") return cmd_init(rest);
    if (cmd == "eval") return cmd_eval(rest);
    if (cmd == "inspect") return cmd_inspect(rest);
    if (cmd == "devices") return cmd_devices(rest);
    if (cmd == "train") return cmd_train(rest);
    if (cmd == "validate") return cmd_validate(rest);
    if (cmd == "sample") return cmd_sample(rest);
    if (cmd == "tokenize") return cmd_tokenize(rest);
    if (cmd == "plan") return cmd_plan(rest);
    throw InputError("bcd-train", cmd,
                     "unknown command (expected train, validate, plan, eval, tokenize, sample, "
                     "init, inspect or devices)");
}

} // namespace
} // namespace bcd::cli

int main(int argc, char** argv) {
    try {
        return bcd::cli::run(argc, argv);
    } catch (const bcd::InputError& e) {
        std::cerr << "bcd-train: error: " << e.what() << "\n";
        return bcd::kExitBadInput;
    } catch (const bcd::DiskFullError& e) {
        // The disk, not the engine: said as such, exit code 1 (DESIGN.md §3 has no code for it).
        std::cerr << "bcd-train: error: " << e.what() << "\n";
        return bcd::kExitInternal;
    } catch (const std::bad_alloc&) {
        std::cerr << "bcd-train: internal error: out of memory\n";
        return bcd::kExitInternal;
    } catch (const std::exception& e) {
        std::cerr << "bcd-train: internal error: " << e.what() << "\n";
        return bcd::kExitInternal;
    }
}
