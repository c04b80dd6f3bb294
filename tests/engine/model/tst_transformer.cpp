// The whole CPU model: finite differences on the tiny model, BCD's truncated backward against
// the full backward, memory of kept activations, save/load round trips, and load errors.

#include "bcd/blocks.h"
#include "bcd/errors.h"
#include "bcd/model.h"
#include "bcd/rng.h"
#include "bcd/transformer.h"

#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

bcd::ModelConfig tiny_config(bool tied = false, bool bias = false) {
    bcd::ModelConfig c = bcd::ModelConfig::preset("tiny");
    c.vocab_size = 32;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_layers = 3;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 4;
    c.tie_word_embeddings = tied;
    c.qkv_bias = bias;
    if (bias) {
        c.architecture = "Qwen2ForCausalLM";
        c.model_type = "qwen2";
    }
    return c;
}

// Random weights of a larger scale than HF's init, so that gradients are well above rounding.
void randomise(bcd::Model& m, std::uint64_t seed) {
    bcd::Rng rng(seed);
    for (std::size_t i = 0; i < m.layout().params().size(); ++i) {
        const auto& p = m.layout().params()[i];
        auto t = m.tensor(static_cast<int>(i));
        for (auto& x : t)
            x = p.kind == bcd::ParamKind::Norm ? 1.0f + 0.1f * static_cast<float>(rng.normal())
                                               : 0.3f * static_cast<float>(rng.normal());
    }
}

struct Batch {
    int B = 2, T = 6;
    std::vector<std::int32_t> in, tg;
};

Batch make_batch(int V, std::uint64_t seed, int B = 2, int T = 6) {
    Batch b;
    b.B = B;
    b.T = T;
    bcd::Rng rng(seed);
    for (int i = 0; i < B * T; ++i) {
        b.in.push_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V))));
        b.tg.push_back(i % 5 == 1
                           ? -100
                           : static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(V))));
    }
    return b;
}

std::vector<float*> all_targets(bcd::Model& m, bcd::FloatBuffer& g) {
    g.resize(m.num_floats());
    std::vector<float*> t;
    for (const auto& p : m.layout().params()) t.push_back(g.data() + p.offset);
    return t;
}

fs::path temp_dir(const char* name) {
    const fs::path d = fs::path(BCD_TEST_TMP) / "tst_transformer" / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

} // namespace

class TestTransformer : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { bcd::set_cpu_threads(2); }

    void finite_differences_data() {
        QTest::addColumn<bool>("tied");
        QTest::addColumn<bool>("bias");
        QTest::newRow("llama untied") << false << false;
        QTest::newRow("qwen2 tied + bias") << true << true;
    }
    void finite_differences() {
        QFETCH(bool, tied);
        QFETCH(bool, bias);
        bcd::Model m(tiny_config(tied, bias));
        randomise(m, 1);
        const Batch b = make_batch(m.config().vocab_size, 2);
        auto tf = bcd::make_cpu_transformer(m);
        bcd::FloatBuffer g;
        tf->set_grad_targets(all_targets(m, g));
        const bcd::LossSum l = tf->forward(b.in.data(), b.tg.data(), b.B, b.T);
        QVERIFY(l.count > 0);
        tf->backward(1.0f / static_cast<float>(l.count));

        auto eval = bcd::make_cpu_transformer(m);
        eval->set_grad_targets(std::vector<float*>(m.layout().params().size(), nullptr));
        auto loss = [&] { return eval->forward(b.in.data(), b.tg.data(), b.B, b.T).mean(); };
        // Every tensor, a sample of its elements.
        bcd::Rng pick(3);
        for (std::size_t i = 0; i < m.layout().params().size(); ++i) {
            const auto& p = m.layout().params()[i];
            std::vector<double> an, nu;
            for (int s = 0; s < 6; ++s) {
                const std::size_t j = pick.below(p.numel);
                float& x = m.params()[p.offset + j];
                const float old = x, h = 1e-2f;
                x = old + h;
                const double lp = loss();
                x = old - h;
                const double lm = loss();
                x = old;
                nu.push_back((lp - lm) / (2 * h));
                an.push_back(g.data()[p.offset + j]);
            }
            double num = 0, den = 0;
            for (std::size_t k = 0; k < an.size(); ++k) {
                num += (an[k] - nu[k]) * (an[k] - nu[k]);
                den += nu[k] * nu[k];
            }
            const double err = std::sqrt(num / std::max(den, 1e-20));
            QVERIFY2(err < 2e-3 || std::sqrt(den) < 1e-6,
                     qPrintable(QString("%1: relative error %2").arg(p.name.c_str()).arg(err)));
        }
    }

    // BCD's truncated backward: a block's gradient equals the full gradient restricted to it,
    // bitwise; tensors outside it receive nothing; layers below keep no activations.
    void truncated_backward_equals_full_restricted() {
        bcd::Model m(tiny_config());
        randomise(m, 4);
        const Batch b = make_batch(m.config().vocab_size, 5, 3, 8);
        auto full = bcd::make_cpu_transformer(m);
        bcd::FloatBuffer gfull;
        full->set_grad_targets(all_targets(m, gfull));
        const auto lf = full->forward(b.in.data(), b.tg.data(), b.B, b.T);
        const std::size_t full_acts = full->memory().activations;
        full->backward(1.0f / static_cast<float>(lf.count));

        const auto blocks = bcd::default_blocks(m.layout(), 1, true, true);
        QCOMPARE(static_cast<int>(blocks.size()), m.config().num_layers + 2);
        std::size_t prev_acts = full_acts + 1;
        for (const auto& blk : blocks) {
            bcd::FloatBuffer gb(m.num_floats());
            std::vector<float*> t(m.layout().params().size(), nullptr);
            for (int i : blk.tensors)
                t[static_cast<std::size_t>(i)] =
                    gb.data() + m.layout().params()[static_cast<std::size_t>(i)].offset;
            // Poison the buffer outside the block: backward must not touch it.
            for (std::size_t i = 0; i < gb.size(); ++i) gb.data()[i] = 7.0f;
            for (int i : blk.tensors) {
                auto& p = m.layout().params()[static_cast<std::size_t>(i)];
                std::fill_n(gb.data() + p.offset, p.numel, 0.0f);
            }
            auto tf = bcd::make_cpu_transformer(m);
            tf->set_grad_targets(t);
            const auto l = tf->forward(b.in.data(), b.tg.data(), b.B, b.T);
            QCOMPARE(l.sum, lf.sum);
            const std::size_t acts = tf->memory().activations;
            tf->backward(1.0f / static_cast<float>(l.count));
            for (std::size_t i = 0; i < m.layout().params().size(); ++i) {
                const auto& p = m.layout().params()[i];
                const bool in_block = t[i] != nullptr;
                for (std::size_t j = 0; j < p.numel; ++j) {
                    const float got = gb.data()[p.offset + j];
                    if (in_block) {
                        if (got != gfull.data()[p.offset + j])
                            QFAIL(qPrintable(QString("block %1, %2[%3]: %4 != full %5")
                                                 .arg(blk.name.c_str())
                                                 .arg(p.name.c_str())
                                                 .arg(j)
                                                 .arg(got)
                                                 .arg(gfull.data()[p.offset + j])));
                    } else if (got != 7.0f) {
                        QFAIL(qPrintable(QString("block %1 wrote into frozen %2")
                                             .arg(blk.name.c_str())
                                             .arg(p.name.c_str())));
                    }
                }
            }
            // Higher blocks keep fewer activations (the embedding block keeps as many as full).
            QVERIFY2(acts <= prev_acts, blk.name.c_str());
            if (blk.name == "embed") {
                QCOMPARE(acts, full_acts);
            }
            if (blk.name == "head") {
                QVERIFY(acts < full_acts);
            }
            prev_acts = acts;
        }
    }

    // Recomputation changes memory, not results: every block's gradient is bitwise the same,
    // with fewer activations kept.
    void recompute_is_bitwise_identical() {
        bcd::Model m(tiny_config());
        randomise(m, 9);
        const Batch b = make_batch(m.config().vocab_size, 10, 2, 8);
        for (const auto& blk : bcd::default_blocks(m.layout(), 1, true, true)) {
            bcd::FloatBuffer g1(m.num_floats()), g2(m.num_floats());
            std::vector<float*> t1(m.layout().params().size(), nullptr), t2 = t1;
            for (int i : blk.tensors) {
                const auto off = m.layout().params()[static_cast<std::size_t>(i)].offset;
                t1[static_cast<std::size_t>(i)] = g1.data() + off;
                t2[static_cast<std::size_t>(i)] = g2.data() + off;
            }
            auto plain = bcd::make_cpu_transformer(m), rec = bcd::make_cpu_transformer(m);
            plain->set_grad_targets(t1, true);
            rec->set_grad_targets(t2, true);
            rec->set_recompute(true);
            const auto l1 = plain->forward(b.in.data(), b.tg.data(), b.B, b.T);
            const auto l2 = rec->forward(b.in.data(), b.tg.data(), b.B, b.T);
            QCOMPARE(l1.sum, l2.sum);
            plain->backward(0.1f);
            rec->backward(0.1f);
            QCOMPARE(std::memcmp(g1.data(), g2.data(), g1.bytes()), 0);
            QCOMPARE(std::memcmp(plain->input_grad().data(), rec->input_grad().data(),
                                 plain->input_grad().size_bytes()),
                     0);
            if (blk.lowest_layer < m.config().num_layers - 1)
                QVERIFY2(rec->memory().activations < plain->memory().activations, blk.name.c_str());
        }
    }

    void input_gradient_matches_embedding_gradient() {
        // ∂L/∂wte[v] = Σ_{n: token n = v} ∂L/∂x0[n] for an untied model.
        bcd::Model m(tiny_config());
        randomise(m, 6);
        const Batch b = make_batch(m.config().vocab_size, 7);
        bcd::FloatBuffer g;
        auto tf = bcd::make_cpu_transformer(m);
        tf->set_grad_targets(all_targets(m, g), true);
        tf->forward(b.in.data(), b.tg.data(), b.B, b.T);
        tf->backward(1.0f);
        const auto ig = tf->input_grad();
        const int C = m.config().hidden_size;
        std::vector<double> expect(static_cast<std::size_t>(m.config().vocab_size) * C, 0.0);
        for (int n = 0; n < b.B * b.T; ++n)
            for (int c = 0; c < C; ++c)
                expect[static_cast<std::size_t>(b.in[static_cast<std::size_t>(n)]) * C + c] +=
                    ig[static_cast<std::size_t>(n) * C + c];
        const float* gw =
            g.data() + m.layout().params()[static_cast<std::size_t>(m.layout().embed())].offset;
        for (std::size_t i = 0; i < expect.size(); ++i) QVERIFY(std::abs(gw[i] - expect[i]) < 1e-5);
    }

    void save_load_round_trip() {
        bcd::Model m(tiny_config(true, true));
        randomise(m, 8);
        const fs::path dir = temp_dir("roundtrip");
        m.save(dir);
        bcd::Model r = bcd::Model::load(dir);
        QCOMPARE(r.config().to_json(), m.config().to_json());
        QCOMPARE(std::memcmp(r.params(), m.params(), m.num_floats() * sizeof(float)), 0);
        // bf16 storage rounds, within bf16's precision.
        m.save(dir / "bf16", bcd::DType::BF16);
        bcd::Model rb = bcd::Model::load(dir / "bf16");
        QCOMPARE(rb.config().torch_dtype, std::string("bfloat16"));
        for (std::size_t i = 0; i < m.num_floats(); ++i)
            QVERIFY(std::abs(rb.params()[i] - m.params()[i]) <=
                    std::abs(m.params()[i]) * (1.0f / 256) + 1e-30f);
    }

    // Above the shard size the weights are written as HF shards + index, and read back exactly;
    // saving again in one file removes the shards. Index and shards must agree.
    void sharded_save_and_load() {
        bcd::Model m(tiny_config(true, true));
        randomise(m, 11);
        const fs::path dir = temp_dir("sharded");
        m.save(dir, bcd::DType::F32, 8000); // 8 KB shards
        QVERIFY(fs::exists(dir / "model.safetensors.index.json"));
        QVERIFY(!fs::exists(dir / "model.safetensors"));
        int shards = 0;
        for (const auto& e : fs::directory_iterator(dir))
            shards += e.path().filename().string().starts_with("model-") ? 1 : 0;
        QVERIFY(shards >= 3);
        const auto index =
            nlohmann::json::parse(std::ifstream(dir / "model.safetensors.index.json"));
        QCOMPARE(index["weight_map"].size(), m.layout().params().size());
        QVERIFY(index["metadata"]["total_size"].get<std::size_t>() > 0);
        bcd::Model r = bcd::Model::load(dir);
        QCOMPARE(std::memcmp(r.params(), m.params(), m.num_floats() * sizeof(float)), 0);

        auto expect_error = [&](const char* what) {
            try {
                bcd::Model::load(dir);
                QFAIL("expected an InputError");
            } catch (const bcd::InputError& e) {
                QVERIFY2(QString(e.what()).contains(what), e.what());
            }
        };
        const auto original = index;
        auto rewrite = [&](const nlohmann::json& j) {
            std::ofstream(dir / "model.safetensors.index.json") << j.dump();
        };
        {
            auto j = original;
            j["weight_map"]["model.norm.weight"] = "../model.safetensors";
            rewrite(j);
            expect_error("expected a file name in the model folder");
        }
        {
            auto j = original;
            j["weight_map"]["model.norm.weight"] = "model-99999-of-99999.safetensors";
            rewrite(j);
            expect_error("does not exist");
        }
        {
            auto j = original;
            j["weight_map"].erase("model.norm.weight");
            rewrite(j);
            expect_error("not in model.safetensors.index.json");
        }
        {
            auto j = original;
            const std::string other = j["weight_map"]["model.embed_tokens.weight"];
            j["weight_map"]["model.norm.weight"] = other;
            rewrite(j);
            expect_error("model.norm.weight");
        }
        rewrite(original);
        QCOMPARE(
            std::memcmp(bcd::Model::load(dir).params(), m.params(), m.num_floats() * sizeof(float)),
            0);
        m.save(dir); // one file again: the shards and the index go
        QVERIFY(fs::exists(dir / "model.safetensors"));
        QVERIFY(!fs::exists(dir / "model.safetensors.index.json"));
        for (const auto& e : fs::directory_iterator(dir))
            QVERIFY2(!e.path().filename().string().starts_with("model-"), "a stale shard is left");
    }

    // KV-cache decoding gives the forward's logits at every position (GQA, biases, tied head).
    void kv_cache_decoding_matches_forward() {
        bcd::Model m(tiny_config(true, true));
        randomise(m, 12);
        const int T = 20, V = m.config().vocab_size;
        const Batch b = make_batch(V, 13, 1, T);
        auto tf = bcd::make_cpu_transformer(m);
        tf->set_grad_targets(std::vector<float*>(m.layout().params().size(), nullptr));
        // A longer forward first: its RoPE table must not disturb the decoder's, nor the reverse.
        const Batch longer = make_batch(V, 14, 1, 40);
        tf->forward(longer.in.data(), longer.tg.data(), 1, 40);
        tf->forward(b.in.data(), b.tg.data(), 1, T);
        const std::vector<float> full(tf->logits().begin(), tf->logits().end());
        tf->start_decoding(T);
        for (int t = 0; t < T; ++t) {
            const auto got = tf->decode_next(b.in[static_cast<std::size_t>(t)]);
            QCOMPARE(static_cast<int>(got.size()), V);
            double num = 0, den = 0;
            for (int j = 0; j < V; ++j) {
                const double d =
                    got[static_cast<std::size_t>(j)] - full[static_cast<std::size_t>(t) * V + j];
                num += d * d;
                den += double(full[static_cast<std::size_t>(t) * V + j]) *
                       full[static_cast<std::size_t>(t) * V + j];
            }
            QVERIFY2(std::sqrt(num / den) < 1e-5,
                     qPrintable(QString("position %1: %2").arg(t).arg(std::sqrt(num / den))));
        }
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, tf->decode_next(1));
    }

    void init_is_seeded_and_follows_hf() {
        bcd::Model a(bcd::ModelConfig::preset("tiny")), b(bcd::ModelConfig::preset("tiny")),
            c(bcd::ModelConfig::preset("tiny"));
        a.init_random(42);
        b.init_random(42);
        c.init_random(43);
        QCOMPARE(std::memcmp(a.params(), b.params(), a.num_floats() * sizeof(float)), 0);
        QVERIFY(std::memcmp(a.params(), c.params(), a.num_floats() * sizeof(float)) != 0);
        const auto& L = a.layout();
        for (float x : a.tensor(L.final_norm())) QCOMPARE(x, 1.0f);
        double s = 0, s2 = 0;
        auto e = a.tensor(L.embed());
        for (float x : e) {
            s += x;
            s2 += x * x;
        }
        const double sd = std::sqrt(s2 / static_cast<double>(e.size()));
        QVERIFY(std::abs(sd - 0.02) < 0.002);
        QVERIFY(std::abs(s / static_cast<double>(e.size())) < 0.002);
    }

    void load_errors_name_the_tensor() {
        bcd::Model m(tiny_config());
        const fs::path dir = temp_dir("errors");
        m.save(dir);
        // A config that does not match the weights: the first mismatching tensor is named.
        {
            auto j = m.config().to_json();
            j["intermediate_size"] = 32;
            std::ofstream(dir / "config.json") << j.dump();
            try {
                bcd::Model::load(dir);
                QFAIL("expected an InputError");
            } catch (const bcd::InputError& e) {
                const QString msg = e.what();
                QVERIFY2(msg.contains("model.safetensors") && msg.contains("mlp.") &&
                             msg.contains("expected shape"),
                         qPrintable(msg));
            }
        }
        // More layers in the weights than in the config.
        {
            auto j = m.config().to_json();
            j["num_hidden_layers"] = 2;
            std::ofstream(dir / "config.json") << j.dump();
            try {
                bcd::Model::load(dir);
                QFAIL("expected an InputError");
            } catch (const bcd::InputError& e) {
                QVERIFY2(QString(e.what()).contains("model.layers.2."), e.what());
            }
        }
        // Fewer layers in the weights than in the config.
        {
            auto j = m.config().to_json();
            j["num_hidden_layers"] = 4;
            std::ofstream(dir / "config.json") << j.dump();
            try {
                bcd::Model::load(dir);
                QFAIL("expected an InputError");
            } catch (const bcd::InputError& e) {
                QVERIFY2(QString(e.what()).contains("model.layers.3.") &&
                             QString(e.what()).contains("missing"),
                         e.what());
            }
        }
        fs::remove(dir / "model.safetensors");
        try {
            bcd::Model::load(dir);
            QFAIL("expected an InputError");
        } catch (const bcd::InputError& e) {
            QVERIFY2(QString(e.what()).contains("model.safetensors"), e.what());
        }
    }

    void token_ids_are_checked() {
        bcd::Model m(tiny_config());
        auto tf = bcd::make_cpu_transformer(m);
        std::vector<std::int32_t> in{1, 2, 40}, tg{1, 2, 3};
        QVERIFY_THROWS_EXCEPTION(bcd::InputError, tf->forward(in.data(), tg.data(), 1, 3));
        in[2] = 3;
        tg[1] = -5;
        QVERIFY_THROWS_EXCEPTION(bcd::InputError, tf->forward(in.data(), tg.data(), 1, 3));
    }
};

QTEST_APPLESS_MAIN(TestTransformer)
#include "tst_transformer.moc"
