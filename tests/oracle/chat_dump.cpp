// Test helper of tests/oracle/test_chat_template_hf.py: lays SFT conversations out with the
// engine's chat formats, as `data.format: sft` does, without the packing EOS.
//
//   chat_dump --tokenizer tokenizer.json --chats chats.jsonl --out out.json [--chat-format NAME]
//             [--format sft|jsonl]
//
// chats.jsonl: one SFT record per line (or, with --format jsonl, one {"text": ...} document,
// encoded as data.format jsonl does: with the BOS/EOS the tokenizer adds to a sequence). out.json:
// {"format": NAME, "why": "...", "chats":
// [{"ids": [...], "mask": [0|1...]} or {"error": "..."}...]}, or {"error": "..."} (exit 2) when
// the tokenizer or its chat template is refused.

#include "bcd/dataset.h"
#include "bcd/errors.h"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

int main(int argc, char** argv) {
    std::string tokenizer_path, chats_path, out_path, chat_format = "auto", format = "sft";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--tokenizer")
            tokenizer_path = argv[i + 1];
        else if (a == "--chats")
            chats_path = argv[i + 1];
        else if (a == "--out")
            out_path = argv[i + 1];
        else if (a == "--chat-format")
            chat_format = argv[i + 1];
        else if (a == "--format")
            format = argv[i + 1];
    }
    if (tokenizer_path.empty() || chats_path.empty() || out_path.empty()) {
        std::cerr << "usage: chat_dump --tokenizer FILE --chats FILE --out FILE "
                     "[--chat-format NAME]\n";
        return 2;
    }
    nlohmann::json out;
    int rc = 0;
    try {
        const bcd::TextEncoder enc = bcd::TextEncoder::from_spec(tokenizer_path);
        if (format == "sft") {
            std::string why;
            const bcd::ChatTemplate t = bcd::resolve_chat_template(enc, chat_format, &why);
            out["format"] = bcd::chat_format_name(t.format);
            out["why"] = why;
        }
        bcd::DataOptions o;
        o.format = format;
        o.chat_format = chat_format;
        std::ifstream in(chats_path, std::ios::binary);
        std::string line;
        out["chats"] = nlohmann::json::array();
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            const bcd::RecordTokens r = bcd::encode_record(line, enc, o);
            if (!r.error.empty())
                out["chats"].push_back({{"error", r.error}});
            else
                out["chats"].push_back({{"ids", r.ids}, {"mask", r.mask}});
        }
    } catch (const bcd::InputError& e) {
        out = {{"error", e.what()}};
        rc = 2;
    }
    std::ofstream(out_path, std::ios::binary) << out.dump();
    return rc;
}
