// bcd-train sample: text from a model, token by token with a key/value cache; greedy
// (temperature 0) or sampled with temperature, top-k and top-p (nucleus), seeded.

#include "bcd/dataset.h"
#include "bcd/errors.h"
#include "bcd/model.h"
#include "bcd/rng.h"
#include "cli.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <numeric>

namespace bcd::cli {

int cmd_sample(const std::vector<std::string>& argv) {
    Args args("sample", argv,
              {"model", "prompt", "max-new", "temperature", "top-k", "top-p", "seed", "threads",
               "device", "precision"},
              {});
    const std::filesystem::path dir = args.required("model");
    const std::string prompt = args.value("prompt").value_or("");
    const int max_new = static_cast<int>(args.integer("max-new", 200, 0, 1 << 20));
    const double temperature = args.number("temperature", 0.8, 0.0, 100.0);
    const int top_k = static_cast<int>(args.integer("top-k", 0, 0, 1 << 24));
    // Nucleus sampling: the fewest most likely tokens whose probability reaches top-p (1: all).
    const double top_p = args.number("top-p", 1.0, 0.0, 1.0);
    if (top_p <= 0.0)
        throw InputError("bcd-train sample", "--top-p", "expected a value in (0, 1], got 0");
    Rng rng(static_cast<std::uint64_t>(args.integer("seed", 1, 0, 1L << 62)));
    Model model = Model::load(dir);
    const int V = model.config().vocab_size;
    const TextEncoder enc = model_encoder(dir, std::nullopt);
    if (enc.byte_level_encoding() && V < 256)
        throw InputError((dir / "config.json").string(), "vocab_size",
                         "expected at least 256 for byte-level text");
    const int eos = model.config().eos_token_id;
    const auto tf = command_backend(args, model);

    std::vector<std::int32_t> ctx = enc.encode_document(prompt, false); // BOS where HF adds it
    if (ctx.empty()) ctx = enc.encode("\n"); // an empty prompt starts a new line
    const int window = model.config().max_position_embeddings;
    if (static_cast<int>(ctx.size()) >= window)
        throw InputError("bcd-train sample", "--prompt",
                         "is " + std::to_string(ctx.size()) +
                             " tokens, expected fewer than the model's "
                             "max_position_embeddings (" +
                             std::to_string(window) + ")");
    const int max_len =
        static_cast<int>(std::min<long>(window, static_cast<long>(ctx.size()) + max_new));
    std::cout << prompt << std::flush;
    // Prefill the cache with the prompt, then one token at a time.
    tf->start_decoding(max_len);
    std::span<const float> logits;
    for (std::int32_t t : ctx) logits = tf->decode_next(t);
    std::vector<float> probs(static_cast<std::size_t>(V));
    // Only ids the encoder can turn back into text are drawn.
    const int n = std::min(V, enc.vocab_size());
    for (int i = static_cast<int>(ctx.size()); i < max_len; ++i) {
        int next = 0;
        if (temperature == 0.0) {
            next = static_cast<int>(std::max_element(logits.begin(), logits.begin() + n) -
                                    logits.begin());
        } else {
            std::vector<int> idx(n);
            std::iota(idx.begin(), idx.end(), 0);
            const int k = top_k > 0 ? std::min(top_k, n) : n;
            std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
                return logits[static_cast<std::size_t>(a)] > logits[static_cast<std::size_t>(b)];
            });
            const float mx = logits[static_cast<std::size_t>(idx[0])];
            double sum = 0.0;
            for (int j = 0; j < k; ++j) {
                probs[static_cast<std::size_t>(j)] = static_cast<float>(std::exp(
                    (logits[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)])] - mx) /
                    temperature));
                sum += probs[static_cast<std::size_t>(j)];
            }
            // Keep the head of the sorted distribution up to top_p of its mass.
            int kept = k;
            if (top_p < 1.0) {
                double mass = 0.0;
                for (int j = 0; j < k; ++j) {
                    mass += probs[static_cast<std::size_t>(j)];
                    if (mass >= top_p * sum) {
                        kept = j + 1;
                        break;
                    }
                }
                sum = mass;
            }
            double u = rng.uniform() * sum;
            next = idx[static_cast<std::size_t>(kept - 1)];
            for (int j = 0; j < kept; ++j) {
                u -= probs[static_cast<std::size_t>(j)];
                if (u <= 0) {
                    next = idx[static_cast<std::size_t>(j)];
                    break;
                }
            }
        }
        if (next == eos) break;
        // Token bytes as they come: a character split over tokens is completed by the next.
        std::cout << enc.decode_bytes(std::span<const std::int32_t>(&next, 1)) << std::flush;
        if (i + 1 < max_len) logits = tf->decode_next(next);
    }
    std::cout << "\n";
    return kExitOk;
}

} // namespace bcd::cli
