// libFuzzer target for the chat-template path (docs/data.md#chat-templates): any input, read as
// a tokenizer_config.json and as a bare chat template, must be parsed or refused with an
// InputError, recognised as a family or not; every family must lay out conversations whose
// contents come from the input with trained spans that lie inside the text, in order, each
// ending with the family's end-of-turn marker.

#include "bcd/chat_template.h"
#include "bcd/errors.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(const bcd::ChatTemplate& t, const std::vector<bcd::ChatMessage>& msgs) {
    std::string error;
    const bcd::RenderedChat r = bcd::render_chat(t, msgs, &error);
    if (!error.empty()) return;
    std::size_t answers = 0;
    for (const auto& m : msgs) answers += m.role == "assistant";
    if (r.trained.size() != answers) __builtin_trap();
    std::size_t last = 0;
    for (const auto& [a, b] : r.trained) {
        if (a < last || b < a || b > r.text.size()) __builtin_trap();
        last = b;
        const std::string_view span(r.text.data() + a, b - a);
        std::string_view end;
        switch (t.format) {
        case bcd::ChatFormat::ChatML:
        case bcd::ChatFormat::Qwen2:
        case bcd::ChatFormat::Qwen3:
            end = "<|im_end|>";
            break;
        case bcd::ChatFormat::Llama3:
            end = "<|eot_id|>";
            break;
        case bcd::ChatFormat::Phi3:
            end = "<|end|>";
            break;
        case bcd::ChatFormat::Gemma:
            end = "<end_of_turn>";
            break;
        default:
            end = t.eos;
        }
        if (!span.ends_with(end)) __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<bcd::TokenizerConfig> configs;
    try {
        configs.push_back(bcd::parse_tokenizer_config(input, "tokenizer_config.json"));
    } catch (const bcd::InputError&) {
    }
    bcd::TokenizerConfig bare;
    bare.chat_template = std::string(input);
    bare.bos_token = "<s>";
    bare.eos_token = "</s>";
    configs.push_back(bare);

    // Contents from the input: the first half for the user, the rest for the answer.
    const std::string user(input.substr(0, size / 2)), answer(input.substr(size / 2));
    const std::vector<std::vector<bcd::ChatMessage>> chats = {
        {{"user", user}, {"assistant", answer}},
        {{"system", answer},
         {"user", user},
         {"assistant", answer},
         {"user", "u"},
         {"assistant", user}},
        {{"user", "x"}, {"system", user}, {"assistant", answer}},
    };
    for (const auto& cfg : configs) {
        if (const auto t = bcd::recognise_chat_template(cfg))
            for (const auto& c : chats) check(*t, c);
    }
    for (const char* name : {"chatml", "qwen2", "qwen3", "llama3", "llama2", "mistral", "zephyr",
                             "phi3", "gemma", "deepseek"}) {
        const auto f = bcd::chat_format_from_name(name);
        if (!f) __builtin_trap();
        const bcd::ChatTemplate t = bcd::chat_template_for(*f, configs.front());
        for (const auto& c : chats) check(t, c);
    }
    return 0;
}
