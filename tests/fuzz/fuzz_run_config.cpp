// libFuzzer target for the run configuration (run.json): any JSON must either be accepted (and
// then round-trip through its resolved form) or be refused with an InputError. The fuzzer runs
// against a real folder with a model config and a training text, so that inputs naming them get
// past the file checks into the rest of the parser.

#include "bcd/errors.h"
#include "bcd/run_config.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace {
std::filesystem::path fixture() {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() /
                 ("bcd-fuzz-run-config-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d / "model");
        std::ofstream(d / "model" / "config.json") << R"({"architectures": ["LlamaForCausalLM"]})";
        std::ofstream(d / "train.txt") << "some training text\n";
        return d;
    }();
    return dir;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(data, data + size);
    } catch (const nlohmann::json::exception&) {
        return 0;
    }
    const auto source = fixture() / "run.json";
    try {
        const auto c = bcd::RunConfig::from_json(j, source);
        if (c.train.steps < 1 || c.train.batch_size < 1 || c.data.seq_len < 1) __builtin_trap();
        const auto again = bcd::RunConfig::from_json(c.to_json(), source);
        if (again.to_json() != c.to_json()) __builtin_trap();
    } catch (const bcd::InputError&) {
    }
    return 0;
}
