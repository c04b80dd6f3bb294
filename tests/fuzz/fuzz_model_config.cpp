// libFuzzer target for HF config.json parsing: any JSON must either give a configuration whose
// layout is consistent, or be refused with an InputError. Input that is not JSON at all is
// nlohmann's concern and skipped.

#include "bcd/errors.h"
#include "bcd/model_config.h"
#include "bcd/param_layout.h"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(data, data + size);
    } catch (const nlohmann::json::exception&) {
        return 0;
    }
    try {
        const auto c = bcd::ModelConfig::from_json(j, "fuzz/config.json");
        // Invariants of an accepted configuration.
        if (c.num_heads % c.num_kv_heads != 0 || c.head_dim % 2 != 0 || c.vocab_size < 1)
            __builtin_trap();
        // Its own serialisation parses back to the same configuration.
        const auto again = bcd::ModelConfig::from_json(c.to_json(), "fuzz/again.json");
        if (again.to_json() != c.to_json()) __builtin_trap();
        // The layout of a small enough model must match the parameter count.
        if (c.num_params() < (1ULL << 24)) {
            const bcd::ParamLayout layout(c);
            std::uint64_t n = 0;
            for (const auto& p : layout.params()) n += p.numel;
            if (n != c.num_params()) __builtin_trap();
        }
    } catch (const bcd::InputError&) {
    }
    return 0;
}
