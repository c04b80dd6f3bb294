// Test helper for the oracle tests: runs the engine's CPU model once on a given batch and dumps
// logits, mean loss, the input-activation gradient and every parameter gradient to a safetensors
// file that the Python reference (tests/oracle) compares against its own computation.
//
//   engine_dump --model DIR --tokens TOKENS.json --out OUT.safetensors [--threads N]
//   TOKENS.json = {"inputs": [[id]*T]*B, "targets": [[id or -100]*T]*B}

#include "bcd/errors.h"
#include "bcd/model.h"
#include "bcd/safetensors.h"
#include "bcd/transformer.h"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

int main(int argc, char** argv) {
    std::string model_dir, tokens_path, out_path;
    int threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--model")
            model_dir = argv[i + 1];
        else if (a == "--tokens")
            tokens_path = argv[i + 1];
        else if (a == "--out")
            out_path = argv[i + 1];
        else if (a == "--threads")
            threads = std::stoi(argv[i + 1]);
        else {
            std::cerr << "engine_dump: unknown option " << a << "\n";
            return 2;
        }
    }
    if (model_dir.empty() || tokens_path.empty() || out_path.empty()) {
        std::cerr << "usage: engine_dump --model DIR --tokens FILE --out FILE [--threads N]\n";
        return 2;
    }
    try {
        bcd::set_cpu_threads(threads);
        bcd::Model model = bcd::Model::load(model_dir);
        const auto& cfg = model.config();
        const auto& layout = model.layout();

        std::ifstream in(tokens_path);
        const auto j = nlohmann::json::parse(in);
        const auto& ji = j.at("inputs");
        const auto& jt = j.at("targets");
        const int B = static_cast<int>(ji.size());
        const int T = static_cast<int>(ji.at(0).size());
        std::vector<std::int32_t> inputs, targets;
        for (int b = 0; b < B; ++b)
            for (int t = 0; t < T; ++t) {
                inputs.push_back(ji.at(b).at(t).get<std::int32_t>());
                targets.push_back(jt.at(b).at(t).get<std::int32_t>());
            }

        bcd::FloatBuffer grads(model.num_floats());
        std::vector<float*> targets_ptr;
        for (const auto& p : layout.params()) targets_ptr.push_back(grads.data() + p.offset);
        auto tf = bcd::make_cpu_transformer(model);
        tf->set_grad_targets(targets_ptr, /*want_input_grad=*/true);
        const bcd::LossSum loss = tf->forward(inputs.data(), targets.data(), B, T);
        const auto logits = tf->logits();
        std::vector<float> logits_copy(logits.begin(), logits.end());
        tf->backward(1.0f / static_cast<float>(loss.count));

        const float mean = static_cast<float>(loss.mean());
        const auto ig = tf->input_grad();
        std::vector<bcd::TensorToWrite> out;
        out.push_back({"logits", {B, T, cfg.vocab_size}, logits_copy});
        out.push_back({"loss", {1}, std::span<const float>(&mean, 1)});
        out.push_back({"input_grad", {B, T, cfg.hidden_size}, ig});
        for (const auto& p : layout.params())
            out.push_back({"grad/" + p.name, p.shape,
                           std::span<const float>(grads.data() + p.offset, p.numel)});
        bcd::write_safetensors(out_path, out);
    } catch (const bcd::InputError& e) {
        std::cerr << "engine_dump: error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "engine_dump: internal error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
