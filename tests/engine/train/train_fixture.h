#pragma once
// A tiny byte-level model, a short text and a run config for the training tests, written under
// BCD_TEST_TMP, plus readers of the run directory.

#include "bcd/errors.h"
#include "bcd/model.h"
#include "bcd/rng.h"
#include "bcd/run_config.h"
#include "bcd/trainer.h"

#include <QtTest>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace fixture {

namespace fs = std::filesystem;
using nlohmann::json;

inline fs::path fresh_dir(const std::string& name) {
    const fs::path d = fs::path(BCD_TEST_TMP) / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

// A 3-layer Llama with a byte vocabulary: 5 default blocks (embed, 3 layers, head).
inline fs::path write_model(const fs::path& dir, bool tied = false, std::uint64_t seed = 7) {
    bcd::ModelConfig c = bcd::ModelConfig::preset("tiny");
    c.hidden_size = 32;
    c.intermediate_size = 48;
    c.num_layers = 3;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 8;
    c.tie_word_embeddings = tied;
    c.initializer_range = 0.1;
    bcd::Model m(c);
    m.init_random(seed);
    m.save(dir / "model");
    return dir / "model";
}

// The first `bytes` of the bundled corpus.
inline fs::path write_text(const fs::path& dir, std::size_t bytes,
                           const std::string& name = "train.txt") {
    std::ifstream in(fs::path(BCD_SOURCE_DIR) / "resources/sample/shakespeare-train.txt",
                     std::ios::binary);
    std::string s(bytes, '\0');
    in.read(s.data(), static_cast<std::streamsize>(bytes));
    s.resize(static_cast<std::size_t>(in.gcount()));
    std::ofstream(dir / name, std::ios::binary) << s;
    return dir / name;
}

inline json base_config(const fs::path& dir) {
    return json{{"model", {{"path", (dir / "model").string()}}},
                {"data", {{"train", (dir / "train.txt").string()}, {"seq_len", 32}}},
                {"optim", {{"lr", 3e-3}, {"weight_decay", 0.01}}},
                {"train", {{"steps", 12}, {"batch_size", 4}, {"seed", 3}}},
                // The classic schedule (BAdam's: ascending, one block, no warm-up), named so
                // that the tests do not follow the product's default.
                {"bcd",
                 {{"switch_every", 3},
                  {"order", "ascending"},
                  {"active_blocks", 1},
                  {"switch_warmup_steps", 0}}},
                {"device", {{"threads", 2}}},
                {"output", {{"dir", (dir / "run").string()}}}};
}

inline fs::path write_config(const fs::path& dir, const json& cfg,
                             const std::string& name = "run.json") {
    std::ofstream(dir / name) << cfg.dump(2);
    return dir / name;
}

inline std::vector<json> records(const fs::path& run, const std::string& type = "") {
    std::vector<json> out;
    std::ifstream in(run / "metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        json j = json::parse(line);
        if (type.empty() || j["t"] == type) out.push_back(j);
    }
    return out;
}

// step -> loss, the last record of each step winning (a resumed run logs some steps twice).
inline std::map<long, double> losses(const fs::path& run) {
    std::map<long, double> m;
    for (const auto& r : records(run, "step")) m[r["step"].get<long>()] = r["loss"].get<double>();
    return m;
}

inline std::vector<char> file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Trains in process from cfg written to dir/name.
inline int run_training(const fs::path& dir, const json& cfg, bool resume = false,
                        const std::string& name = "run.json") {
    const auto path = write_config(dir, cfg, name);
    bcd::TrainOptions o;
    o.resume = resume;
    return bcd::train(bcd::RunConfig::load(path), o);
}

// base_config patched with `patch` is refused: an InputError containing `expect`, and no run
// folder written.
inline void expect_refused(const fs::path& dir, const QString& patch, const QString& expect) {
    write_model(dir);
    write_text(dir, 20000);
    json cfg = base_config(dir);
    cfg.merge_patch(json::parse(patch.toStdString()));
    try {
        run_training(dir, cfg);
        QFAIL("expected an InputError");
    } catch (const bcd::InputError& e) {
        QVERIFY2(QString(e.what()).contains(expect), e.what());
    }
    QVERIFY2(!fs::exists(dir / "run"), "nothing written for a refused config");
}

} // namespace fixture
