// libFuzzer target for the safetensors reader: any input must either parse into tensors that can
// all be read, or be refused with an InputError. Anything else (a crash, a sanitizer report, an
// exception of another type, a broken invariant) is a finding.

#include "bcd/errors.h"
#include "bcd/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto file = bcd::SafetensorsFile::parse(
            std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz-input");
        std::vector<float> values;
        for (const bcd::TensorEntry& t : file.tensors()) {
            if (file.find(t.name) != &t) __builtin_trap();
            if (file.raw(t).size() != t.numel() * bcd::dtype_size(t.dtype)) __builtin_trap();
            values.resize(t.numel());
            file.read_f32(t, values);
        }
    } catch (const bcd::InputError&) {
        // A refused input is the expected outcome for most fuzz inputs.
    }
    return 0;
}
