// Tokenizer throughput: encode MB/s of bcd::Tokenizer on one thread (encode() per document) and
// on all threads (encode_batch()). bench/tokenizer_vs_hf.py runs it next to HF tokenizers on the
// same file and documents and prints the ratios.
//
//   bench_tokenizer --tokenizer tokenizer.json --docs docs.json [--repeats N] [--threads N]
//
// docs.json is a JSON list of strings. Prints one JSON object: bytes, tokens, best seconds of
// each mode, threads.

#include "bcd/errors.h"
#include "bcd/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <omp.h>
#include <string>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

int main(int argc, char** argv) {
    std::string tokenizer_path, docs_path;
    int repeats = 5, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--tokenizer")
            tokenizer_path = argv[i + 1];
        else if (a == "--docs")
            docs_path = argv[i + 1];
        else if (a == "--repeats")
            repeats = std::stoi(argv[i + 1]);
        else if (a == "--threads")
            threads = std::stoi(argv[i + 1]);
    }
    if (tokenizer_path.empty() || docs_path.empty()) {
        std::cerr
            << "usage: bench_tokenizer --tokenizer FILE --docs FILE [--repeats N] [--threads N]\n";
        return 2;
    }
    try {
        const auto t_load = std::chrono::steady_clock::now();
        const bcd::Tokenizer tok = bcd::Tokenizer::load(tokenizer_path);
        const double load_s = seconds_since(t_load);
        std::ifstream in(docs_path, std::ios::binary);
        const std::vector<std::string> docs =
            nlohmann::json::parse(in).get<std::vector<std::string>>();
        const std::vector<std::string_view> views(docs.begin(), docs.end());
        std::size_t bytes = 0;
        for (const auto& d : docs) bytes += d.size();

        std::size_t tokens = 0;
        double single = 1e30, batch = 1e30;
        for (int r = 0; r < repeats; ++r) {
            auto t0 = std::chrono::steady_clock::now();
            std::size_t n = 0;
            for (const auto& d : views) n += tok.encode(d).size();
            single = std::min(single, seconds_since(t0));
            tokens = n;

            t0 = std::chrono::steady_clock::now();
            const auto all = tok.encode_batch(views, threads);
            batch = std::min(batch, seconds_since(t0));
            std::size_t m = 0;
            for (const auto& ids : all) m += ids.size();
            if (m != n) {
                std::cerr << "encode_batch gave " << m << " tokens, encode " << n << "\n";
                return 1;
            }
        }
        nlohmann::json out = {{"bytes", bytes},
                              {"documents", docs.size()},
                              {"tokens", tokens},
                              {"single_s", single},
                              {"batch_s", batch},
                              {"load_s", load_s},
                              {"threads", threads > 0 ? threads : omp_get_max_threads()}};
        std::cout << out.dump() << "\n";
    } catch (const bcd::InputError& e) {
        std::cerr << e.what() << "\n";
        return 2;
    }
    return 0;
}
