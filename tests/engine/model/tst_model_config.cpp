// HF config.json parsing, presets and the parameter layout.

#include "bcd/blocks.h"
#include "bcd/errors.h"
#include "bcd/model_config.h"
#include "bcd/param_layout.h"

#include <QtTest>
#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {
json llama() {
    return json::parse(R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": false,
        "torch_dtype": "bfloat16", "transformers_version": "4.46.3", "use_cache": true})");
}

// The message of the InputError that parsing `j` throws.
QString parse_error(const json& j) {
    try {
        bcd::ModelConfig::from_json(j, "m/config.json");
    } catch (const bcd::InputError& e) {
        return e.what();
    }
    return "(no error)";
}
} // namespace

class TestModelConfig : public QObject {
    Q_OBJECT
private slots:
    void parses_llama() {
        const auto c = bcd::ModelConfig::from_json(llama(), "config.json");
        QCOMPARE(c.model_type, std::string("llama"));
        QCOMPARE(c.head_dim, 8);
        QCOMPARE(c.num_kv_heads, 2);
        QVERIFY(!c.qkv_bias && !c.tie_word_embeddings);
        // to_json → from_json is the identity.
        const auto again = bcd::ModelConfig::from_json(c.to_json(), "x");
        QCOMPARE(again.to_json(), c.to_json());
    }

    void qwen2_has_qkv_bias_and_ignores_disabled_window() {
        auto j = llama();
        j["architectures"] = {"Qwen2ForCausalLM"};
        j["model_type"] = "qwen2";
        j["use_sliding_window"] = false;
        j["sliding_window"] = 4096;
        const auto c = bcd::ModelConfig::from_json(j, "config.json");
        QVERIFY(c.qkv_bias && !c.o_bias);
        QCOMPARE(c.sliding_window, 0);
        const bcd::ParamLayout l(c);
        QVERIFY(l.find("model.layers.1.self_attn.k_proj.bias") >= 0);
        QVERIFY(l.find("model.layers.1.self_attn.o_proj.bias") < 0);
    }

    void refusals_name_file_key_and_expectation_data() {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("expect");
        QTest::newRow("gpt2") << "architectures"
                              << R"(["GPT2LMHeadModel"])"
                              << "GPT2LMHeadModel";
        QTest::newRow("gelu") << "hidden_act"
                              << R"("gelu")"
                              << "hidden_act";
        QTest::newRow("kv heads") << "num_key_value_heads"
                                  << "3"
                                  << "divisor";
        QTest::newRow("negative") << "hidden_size"
                                  << "-4"
                                  << "hidden_size";
        QTest::newRow("string") << "num_hidden_layers"
                                << R"("two")"
                                << "num_hidden_layers";
        QTest::newRow("yarn") << "rope_scaling"
                              << R"({"rope_type": "yarn", "factor": 4})"
                              << "yarn";
        QTest::newRow("mlp bias") << "mlp_bias"
                                  << "true"
                                  << "mlp_bias";
        QTest::newRow("model type") << "model_type"
                                    << R"("mistral")"
                                    << "model_type";
    }
    void refusals_name_file_key_and_expectation() {
        QFETCH(QString, key);
        QFETCH(QString, value);
        QFETCH(QString, expect);
        auto j = llama();
        j[key.toStdString()] = json::parse(value.toStdString());
        const QString msg = parse_error(j);
        QVERIFY2(msg.startsWith("m/config.json: ") && msg.contains(expect), qPrintable(msg));
    }

    void missing_architectures() {
        auto j = llama();
        j.erase("architectures");
        QVERIFY(parse_error(j).contains("architectures"));
    }

    // Parameter counts of the real models' shapes, as their model cards publish them.
    void preset_parameter_counts_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<qulonglong>("params");
        QTest::newRow("llama2-7b") << "llama2-7b" << 6738415616ULL;
        QTest::newRow("llama3-8b") << "llama3-8b" << 8030261248ULL;
        QTest::newRow("mistral-7b") << "mistral-7b" << 7248023552ULL;
        QTest::newRow("qwen2-0.5b") << "qwen2-0.5b" << 494032768ULL;
        QTest::newRow("qwen2-1.5b") << "qwen2-1.5b" << 1543714304ULL;
        QTest::newRow("qwen2-7b") << "qwen2-7b" << 7615616512ULL;
    }
    void preset_parameter_counts() {
        QFETCH(QString, name);
        QFETCH(qulonglong, params);
        const auto c = bcd::ModelConfig::preset(name.toStdString());
        QCOMPARE(static_cast<qulonglong>(c.num_params()), params);
        // The layout holds exactly these parameters.
        const bcd::ParamLayout l(c);
        std::uint64_t n = 0;
        for (const auto& p : l.params()) n += p.numel;
        QCOMPARE(static_cast<qulonglong>(n), params);
    }

    void small_presets() {
        const auto tiny = bcd::ModelConfig::preset("tiny");
        QCOMPARE(tiny.num_layers, 2);
        QCOMPARE(tiny.hidden_size, 64);
        QCOMPARE(tiny.num_heads, 4);
        QCOMPARE(tiny.num_kv_heads, 2);
        QCOMPARE(tiny.vocab_size, 256);
        const auto small = bcd::ModelConfig::preset("small");
        QCOMPARE(small.num_layers, 6);
        QCOMPARE(small.vocab_size, 256);
        QVERIFY(small.num_params() > 9'000'000 && small.num_params() < 11'000'000);
        QVERIFY(bcd::ModelConfig::preset("medium").num_layers >= 8);
        QVERIFY_THROWS_EXCEPTION(bcd::InputError, bcd::ModelConfig::preset("gpt5"));
    }

    // Default blocks are contiguous ranges of the parameter allocation, in model order.
    void layout_blocks_are_contiguous() {
        for (bool tied : {false, true}) {
            auto c = bcd::ModelConfig::preset("tiny");
            c.tie_word_embeddings = tied;
            const bcd::ParamLayout l(c);
            std::size_t prev_end = 0;
            for (const auto& p : l.params()) {
                QVERIFY(p.offset >= prev_end);
                QCOMPARE(p.offset % 16, std::size_t{0});
                prev_end = p.offset + p.numel;
            }
            for (int i = 0; i < l.num_layers(); ++i) {
                auto [b, e] = l.layer_range(i);
                QVERIFY(b < e);
                if (i + 1 < l.num_layers()) QVERIFY(e <= l.layer_range(i + 1).first);
            }
            const auto blocks = bcd::default_blocks(l, 1, true, true);
            QCOMPARE(blocks.front().name, std::string("embed"));
            QCOMPARE(blocks.back().name, std::string("head"));
            QCOMPARE(static_cast<int>(blocks.back().tensors.size()), tied ? 1 : 2);
            std::uint64_t total = 0;
            for (const auto& b : blocks) total += b.params;
            QCOMPARE(total, c.num_params());
            const auto pairs = bcd::default_blocks(l, 2, false, false);
            QCOMPARE(static_cast<int>(pairs.size()), 1);
            QCOMPARE(pairs[0].name, std::string("layers.0-1"));
        }
    }
};

QTEST_APPLESS_MAIN(TestModelConfig)
#include "tst_model_config.moc"
