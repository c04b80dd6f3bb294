// bcd-train plan as users run it: the JSON of DESIGN.md §3 and the table, the local CPU without
// --gpu, user price files, and bad input (unknown GPU without memory, malformed --gpu, a model
// folder without config.json) with exit code 2 and one line.

#include "bcd/model_config.h"

#include <QProcess>
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Result {
    int code = -1;
    QString out, err;
    QByteArray raw_out;
};

QString q(const fs::path& p) {
    return QString::fromStdString(p.string());
}

void expect_bad_input(const Result& r, const QStringList& must_contain) {
    QCOMPARE(r.code, 2);
    const QString e = r.err.trimmed();
    QVERIFY2(!e.contains('\n'), qPrintable("more than one line: " + e));
    QVERIFY2(e.startsWith("bcd-train: error: "), qPrintable(e));
    for (const auto& m : must_contain)
        QVERIFY2(e.contains(m), qPrintable(e + " (expected: " + m + ")"));
}

// A folder with the run config of a 7B model (config.json only: planning needs no weights).
fs::path setup(const char* name, const std::string& preset = "llama2-7b") {
    fs::path d = fs::path(BCD_TEST_TMP) / "plan_cli" / name;
    fs::remove_all(d);
    fs::create_directories(d / "model");
    std::ofstream(d / "model" / "config.json")
        << bcd::ModelConfig::preset(preset).to_json().dump(2);
    std::ofstream(d / "train.txt") << "a few bytes of text; the planner does not read them\n";
    const json cfg{{"model", {{"path", "model"}}},
                   {"data", {{"train", "train.txt"}, {"seq_len", 2048}}},
                   {"train", {{"batch_size", 4}, {"grad_accum", 8}, {"precision", "bf16"}}},
                   {"output", {{"dir", "run"}}}};
    std::ofstream(d / "run.json") << cfg.dump(2);
    // Keep the user's own tables out of the test.
    fs::create_directories(d / "xdg");
    return d;
}

QProcessEnvironment env_for(const fs::path& d) {
    auto e = QProcessEnvironment::systemEnvironment();
    e.insert("XDG_CONFIG_HOME", q(d / "xdg"));
    return e;
}

Result run_in(const fs::path& d, const QStringList& args) {
    QProcess p;
    p.setProcessEnvironment(env_for(d));
    p.start(BCD_TRAIN_EXE, args);
    p.waitForFinished(120000);
    Result r;
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.raw_out = p.readAllStandardOutput();
    r.out = QString::fromUtf8(r.raw_out);
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

} // namespace

class TestPlanCli : public QObject {
    Q_OBJECT
private slots:
    void json_for_gpus() {
        const auto d = setup("json");
        const auto r = run_in(
            d, {"plan", "--config", q(d / "run.json"), "--gpu", "RTX 4090:24GiB x8", "--json"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json j = json::parse(r.raw_out.toStdString());
        QCOMPARE(j.size(), std::size_t{2});
        for (const char* mode : {"full", "bcd"}) {
            const json& p = j.at(mode);
            QVERIFY(p.at("fits").is_boolean());
            QCOMPARE(p.at("capacity_bytes").get<std::uint64_t>(), 24ULL << 30);
            for (const char* k :
                 {"weights", "gradients", "optimizer", "activations", "workspace", "total"})
                QVERIFY2(p.at("memory").at(k).is_number_unsigned(), k);
            for (const char* k : {"layers_per_block", "tokens_per_s", "hours_per_billion_tokens",
                                  "usd_per_billion_tokens"})
                QVERIFY2(p.at(k).is_number(), k);
            QVERIFY(p.at("advice").is_array());
            QCOMPARE(p.at("world_size").get<int>(), 8);
            QCOMPARE(p.at("usd_per_hour").get<double>(), 8 * 0.50);
        }
        // 7B on 24 GB cards: BCD fits with 2 bytes per weight; full training only sharded.
        QVERIFY(j["bcd"]["fits"].get<bool>());
        QCOMPARE(j["bcd"]["memory"]["weights"].get<std::uint64_t>(),
                 2 * bcd::ModelConfig::preset("llama2-7b").num_params());
        QVERIFY(j["full"]["sharding"] != "none" || j["full"]["offload"] != "none");
        QVERIFY(j["bcd"]["usd_per_billion_tokens"].get<double>() <
                j["full"]["usd_per_billion_tokens"].get<double>());
    }

    void table_without_json() {
        const auto d = setup("table");
        const auto r = run_in(d, {"plan", "--config", q(d / "run.json"), "--gpu", "A100-80GB x8"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        for (const char* s : {"full", "BCD", "fits", "weights", "optimizer state", "activations",
                              "USD per 1e9 tokens", "8 × A100-80GB", "BCD / full cost"})
            QVERIFY2(r.out.contains(QString::fromUtf8(s)), s);
    }

    // Without --gpu: this machine's CPU, fp32.
    void local_cpu() {
        const auto d = setup("cpu", "tiny");
        json cfg = json::parse(std::ifstream(d / "run.json"));
        cfg["data"]["seq_len"] = 64;
        cfg["train"] = {{"batch_size", 2}};
        std::ofstream(d / "run.json") << cfg.dump();
        const auto r = run_in(d, {"plan", "--config", q(d / "run.json"), "--json"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json j = json::parse(r.raw_out.toStdString());
        QCOMPARE(j["bcd"]["precision"].get<std::string>(), std::string("fp32"));
        QVERIFY(j["bcd"]["fits"].get<bool>());
        QVERIFY(j["bcd"]["device"].get<std::string>().find("threads") != std::string::npos);
        QVERIFY(j["bcd"]["usd_per_billion_tokens"].is_null()); // a CPU has no price
        QVERIFY(j["bcd"]["tokens_per_s"].get<double>() > 0);
    }

    // A GPU the table does not know, given with its memory: planned, time and cost unknown.
    void unknown_gpu_with_memory() {
        const auto d = setup("unknown");
        const auto r = run_in(
            d, {"plan", "--config", q(d / "run.json"), "--gpu", "Mystery 9000:48GB x4", "--json"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json j = json::parse(r.raw_out.toStdString());
        QCOMPARE(j["bcd"]["capacity_bytes"].get<std::uint64_t>(), 48000000000ULL);
        QVERIFY(j["bcd"]["tokens_per_s"].is_null());
        QVERIFY(j["bcd"]["notes"].dump().find("Mystery 9000") != std::string::npos);
    }

    // The user's price file overrides the built-in table; --prices adds another.
    void user_prices() {
        const auto d = setup("prices");
        fs::create_directories(d / "xdg" / "bcd-workbench");
        std::ofstream(d / "xdg" / "bcd-workbench" / "gpu-prices.json")
            << R"({"prices": {"RTX 4090": 0.25}})";
        auto r =
            run_in(d, {"plan", "--config", q(d / "run.json"), "--gpu", "RTX 4090 x2", "--json"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(json::parse(r.raw_out.toStdString())["bcd"]["usd_per_hour"].get<double>(), 0.5);
        std::ofstream(d / "mine.json") << R"({"prices": {"RTX 4090": 1.0}})";
        r = run_in(d, {"plan", "--config", q(d / "run.json"), "--gpu", "RTX 4090 x2", "--prices",
                       q(d / "mine.json"), "--json"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(json::parse(r.raw_out.toStdString())["bcd"]["usd_per_hour"].get<double>(), 2.0);
        std::ofstream(d / "bad.json") << R"({"prices": {"RTX 4090": -1}})";
        expect_bad_input(run_in(d, {"plan", "--config", q(d / "run.json"), "--gpu", "RTX 4090",
                                    "--prices", q(d / "bad.json")}),
                         {"bad.json", "RTX 4090"});
    }

    // A whole bcd-train process: its peak resident set against the plan for its CPU (which counts
    // the process itself and the token data), within 10 %.
    void whole_process_peak_on_the_cpu() {
        const auto d = setup("process", "small");
        fs::remove_all(d / "model");
        QCOMPARE(run_in(d, {"init", "--preset", "small", "--out", q(d / "model")}).code, 0);
        json cfg = json::parse(std::ifstream(d / "run.json"));
        std::ifstream text(fs::path(BCD_SOURCE_DIR) / "resources/sample/shakespeare-train.txt");
        std::string s(100000, '\0');
        text.read(s.data(), static_cast<std::streamsize>(s.size()));
        std::ofstream(d / "train.txt") << s;
        cfg["data"]["seq_len"] = 128;
        cfg["train"] = {{"steps", 8}, {"batch_size", 4}};
        cfg["bcd"] = {{"switch_every", 1},
                      {"order", "ascending"},
                      {"active_blocks", 1},
                      {"switch_warmup_steps", 0}};
        cfg["device"] = {{"threads", 2}};
        std::ofstream(d / "run.json") << cfg.dump();
        const auto plan = run_in(d, {"plan", "--config", q(d / "run.json"), "--json"});
        QVERIFY2(plan.code == 0, qPrintable(plan.err));
        const double predicted =
            json::parse(plan.raw_out.toStdString())["bcd"]["peak_bytes"].get<double>();
        const auto train = run_in(d, {"train", "--config", q(d / "run.json")});
        QVERIFY2(train.code == 0, qPrintable(train.err));
        double measured = 0;
        std::ifstream metrics(d / "run" / "metrics.jsonl");
        for (std::string line; std::getline(metrics, line);) {
            const json r = json::parse(line);
            if (r["t"] == "step") measured = std::max(measured, r["peak_rss_bytes"].get<double>());
        }
        QVERIFY(measured > 0);
        QVERIFY2(std::abs(predicted - measured) <= 0.10 * measured,
                 qPrintable(QString("predicted %1, measured %2").arg(predicted).arg(measured)));
    }

    void bad_input() {
        const auto d = setup("bad");
        const QString cfg = q(d / "run.json");
        expect_bad_input(run_in(d, {"plan", "--config", cfg, "--gpu", "Mystery 9000"}),
                         {"--gpu", "Mystery 9000", "unknown GPU", ":24GiB"});
        expect_bad_input(run_in(d, {"plan", "--config", cfg, "--gpu", "RTX 4090:24"}),
                         {"--gpu", "memory size", "GiB"});
        expect_bad_input(run_in(d, {"plan", "--config", cfg, "--gpu", "RTX 4090 x0"}),
                         {"--gpu", "GPUs per node"});
        expect_bad_input(run_in(d, {"plan", "--config", cfg, "--gpu", "A100-80GB x8 @"}),
                         {"--gpu", "node count"});
        expect_bad_input(run_in(d, {"plan", "--config", cfg, "--gpu", "A100"}),
                         {"--gpu", "ambiguous", "A100-40GB"});
        expect_bad_input(
            run_in(d, {"plan", "--config", cfg, "--gpu", "H100", "--link", "carrier-pigeon"}),
            {"--link", "unknown interconnect"});
        expect_bad_input(run_in(d, {"plan", "--config", cfg, "--link", "nvlink4"}),
                         {"--link", "--gpu"});
        expect_bad_input(
            run_in(d, {"plan", "--config", cfg, "--gpu", "H100", "--sharding", "zero4"}),
            {"--sharding"});
        expect_bad_input(run_in(d, {"plan", "--gpu", "H100"}), {"--config", "required"});
        // A model folder without config.json.
        fs::remove(d / "model" / "config.json");
        expect_bad_input(run_in(d, {"plan", "--config", cfg, "--gpu", "H100"}),
                         {"model.path", "config.json"});
    }
};

QTEST_APPLESS_MAIN(TestPlanCli)
#include "tst_plan_cli.moc"
