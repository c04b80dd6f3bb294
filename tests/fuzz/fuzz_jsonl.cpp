// libFuzzer target for the JSONL and SFT record parser: any line must either give tokens (with a
// mask as long as the ids, and, for SFT, something to train on) or be refused with a reason.

#include "bcd/dataset.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    static const bcd::TextEncoder bytes = bcd::TextEncoder::byte_level();
    for (const char* format : {"jsonl", "sft"}) {
        bcd::DataOptions o;
        o.format = format;
        o.eos_id = 256;
        const auto r = bcd::encode_record(line, bytes, o);
        if (!r.error.empty()) {
            if (!r.ids.empty()) __builtin_trap();
            continue;
        }
        if (!r.mask.empty() && r.mask.size() != r.ids.size()) __builtin_trap();
        for (auto id : r.ids)
            if (id < 0 || id > 256) __builtin_trap();
        if (o.format == std::string("sft") && std::count(r.mask.begin(), r.mask.end(), 1) == 0)
            __builtin_trap();
    }
    return 0;
}
