#pragma once
// Command-line parsing shared by the bcd-train subcommands. A bad argument is an InputError
// naming the command and the option, so that main() prints one line and exits with code 2.

#include "bcd/backend.h"
#include "bcd/dataset.h"

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace bcd::cli {

class Args {
public:
    // `value_options` take a value (--name VALUE or --name=VALUE); `flags` do not.
    Args(std::string command, const std::vector<std::string>& argv,
         std::set<std::string> value_options, std::set<std::string> flags);

    bool flag(const std::string& name) const { return flags_.count(name) > 0; }
    std::optional<std::string> value(const std::string& name) const;
    std::vector<std::string> values(const std::string& name) const; // repeated option
    std::string required(const std::string& name) const;
    long integer(const std::string& name, long fallback, long min, long max) const;
    double number(const std::string& name, double fallback, double min, double max) const;
    const std::string& command() const { return command_; }

private:
    std::string command_;
    std::map<std::string, std::vector<std::string>> values_;
    std::set<std::string> flags_;
};

// The encoder a model folder implies: its tokenizer.json, else bytes (or `override_spec`:
// "byte" or a tokenizer.json path).
TextEncoder model_encoder(const std::filesystem::path& dir,
                          const std::optional<std::string>& override_spec);

// The backend of a command that runs a model (eval, sample) from its --device (auto, cpu, cuda,
// cuda:N; default auto), --precision (fp32, bf16; default fp32) and --threads options. A device
// that cannot be used is an InputError naming the option and the reason.
std::unique_ptr<Backend> command_backend(const Args& args, Model& model);

int cmd_init(const std::vector<std::string>& argv);
int cmd_eval(const std::vector<std::string>& argv);
int cmd_inspect(const std::vector<std::string>& argv);
int cmd_devices(const std::vector<std::string>& argv);
int cmd_train(const std::vector<std::string>& argv);
int cmd_validate(const std::vector<std::string>& argv);
int cmd_sample(const std::vector<std::string>& argv);
int cmd_tokenize(const std::vector<std::string>& argv);
int cmd_plan(const std::vector<std::string>& argv);

} // namespace bcd::cli
