// Test helper of tests/oracle/test_tokenizer_hf.py: runs bcd::Tokenizer on a list of documents.
//
//   tokenizer_dump --tokenizer tokenizer.json --docs docs.json --out out.json [--threads N]
//
// docs.json: {"encode": [DOC...], "pre_tokenize": [DOC...], "pre_tokenize_lengths": [DOC...]}, a
// DOC being a string or {"hex": "..."} (raw bytes, for invalid UTF-8). out.json: {"ids":
// [[...]...], "decoded": [...], "decoded_skip_special": [...], "pieces": [[hex...]...],
// "piece_lengths":
// [[bytes...]...], "vocab_size", "round_trips", "summary"}
// or {"error": "..."} (exit 2) when the tokenizer is refused. encode_batch must give what
// encode gives document by document, else exit 1.

#include "bcd/errors.h"
#include "bcd/tokenizer.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

std::string from_hex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

std::string to_hex(std::string_view bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (const char c : bytes) {
        out += digits[static_cast<unsigned char>(c) >> 4];
        out += digits[static_cast<unsigned char>(c) & 15];
    }
    return out;
}

std::vector<std::string> documents(const nlohmann::json& list) {
    std::vector<std::string> docs;
    for (const auto& d : list)
        docs.push_back(d.is_string() ? d.get<std::string>() : from_hex(d.at("hex")));
    return docs;
}

void write(const std::string& path, const nlohmann::json& j) {
    std::ofstream out(path, std::ios::binary);
    out << j.dump();
}

} // namespace

int main(int argc, char** argv) {
    std::string tokenizer_path, docs_path, out_path;
    int threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--tokenizer")
            tokenizer_path = argv[i + 1];
        else if (a == "--docs")
            docs_path = argv[i + 1];
        else if (a == "--out")
            out_path = argv[i + 1];
        else if (a == "--threads")
            threads = std::stoi(argv[i + 1]);
    }
    if (tokenizer_path.empty() || docs_path.empty() || out_path.empty()) {
        std::cerr
            << "usage: tokenizer_dump --tokenizer FILE --docs FILE --out FILE [--threads N]\n";
        return 2;
    }
    try {
        const bcd::Tokenizer tok = bcd::Tokenizer::load(tokenizer_path);
        std::ifstream in(docs_path, std::ios::binary);
        const auto spec = nlohmann::json::parse(in);
        const std::vector<std::string> docs =
            documents(spec.value("encode", nlohmann::json::array()));
        const std::vector<std::string> pre =
            documents(spec.value("pre_tokenize", nlohmann::json::array()));

        nlohmann::json out;
        out["vocab_size"] = tok.vocab_size();
        out["round_trips"] = tok.round_trips();
        out["summary"] = tok.summary();
        std::vector<std::string_view> views(docs.begin(), docs.end());
        const auto batch = tok.encode_batch(views, threads);
        auto& ids = out["ids"] = nlohmann::json::array();
        auto& decoded = out["decoded"] = nlohmann::json::array();
        auto& skipped = out["decoded_skip_special"] = nlohmann::json::array();
        for (std::size_t i = 0; i < docs.size(); ++i) {
            const auto one = tok.encode(docs[i]);
            if (one != batch[i]) {
                std::cerr << "document " << i << ": encode_batch differs from encode\n";
                return 1;
            }
            ids.push_back(one);
            decoded.push_back(tok.decode(one));
            skipped.push_back(tok.decode(one, true));
        }
        auto& pieces = out["pieces"] = nlohmann::json::array();
        for (const std::string& d : pre) {
            auto list = nlohmann::json::array();
            for (const std::string& p : tok.pre_tokenize(d)) list.push_back(to_hex(p));
            pieces.push_back(list);
        }
        auto& lengths = out["piece_lengths"] = nlohmann::json::array();
        for (const std::string& d :
             documents(spec.value("pre_tokenize_lengths", nlohmann::json::array()))) {
            auto list = nlohmann::json::array();
            for (const std::string& p : tok.pre_tokenize(d)) list.push_back(p.size());
            lengths.push_back(list);
        }
        write(out_path, out);
    } catch (const bcd::InputError& e) {
        write(out_path, {{"error", e.what()}});
        std::cerr << e.what() << "\n";
        return 2;
    }
    return 0;
}
