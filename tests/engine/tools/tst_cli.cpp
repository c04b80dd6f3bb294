// bcd-train as users run it: exit codes (0 ok, 2 bad input with one line naming file and key),
// init → inspect → eval → validate → train → sample on a fresh model, and the eval window rule.

#include "bcd/model.h"

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

Result run(const QStringList& args) {
    QProcess p;
    p.start(BCD_TRAIN_EXE, args);
    p.waitForFinished(600000);
    Result r;
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.raw_out = p.readAllStandardOutput();
    r.out = QString::fromUtf8(r.raw_out);
    r.err = p.readAllStandardError();
    return r;
}

QString q(const fs::path& p) {
    return QString::fromStdString(p.string());
}

fs::path tmp(const char* name) {
    const fs::path d = fs::path(BCD_TEST_TMP) / "cli" / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

// One line on stderr, naming what it must, and exit code 2.
void expect_bad_input(const Result& r, const QStringList& must_contain) {
    QCOMPARE(r.code, 2);
    const QString e = r.err.trimmed();
    QVERIFY2(!e.contains('\n'), qPrintable("more than one line: " + e));
    QVERIFY2(e.startsWith("bcd-train: error: "), qPrintable(e));
    for (const auto& m : must_contain)
        QVERIFY2(e.contains(m), qPrintable(e + " (expected: " + m + ")"));
}

// A byte-level BPE tokenizer without merges (ids 0..255 are the bytes) whose Split pattern
// backtracks catastrophically on a long run of 'a' not followed by the end of a line.
void write_backtracking_tokenizer(const fs::path& dir) {
    json vocab = json::object();
    std::vector<int> cp(256, -1);
    int extra = 0;
    for (int c = 0; c < 256; ++c)
        if ((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))
            cp[static_cast<std::size_t>(c)] = c;
    for (int c = 0; c < 256; ++c) {
        int& u = cp[static_cast<std::size_t>(c)];
        if (u < 0) u = 256 + extra++;
        std::string ch;
        if (u < 0x80) {
            ch += static_cast<char>(u);
        } else {
            ch += static_cast<char>(0xC0 | (u >> 6));
            ch += static_cast<char>(0x80 | (u & 0x3F));
        }
        vocab[ch] = c;
    }
    const json split{{"type", "Split"},
                     {"pattern", {{"Regex", "(a+)+$"}}},
                     {"behavior", "Isolated"},
                     {"invert", false}};
    const json byte_level{{"type", "ByteLevel"},
                          {"add_prefix_space", false},
                          {"trim_offsets", true},
                          {"use_regex", false}};
    const json tok{
        {"version", "1.0"},
        {"added_tokens", json::array()},
        {"normalizer", nullptr},
        {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {split, byte_level}}}},
        {"decoder", byte_level},
        {"model",
         {{"type", "BPE"}, {"unk_token", nullptr}, {"vocab", vocab}, {"merges", json::array()}}}};
    std::ofstream(dir / "tokenizer.json") << tok.dump();
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void version_and_help() {
        const auto v = run({"--version"});
        QCOMPARE(v.code, 0);
        QVERIFY(v.out.startsWith("bcd-train "));
        const auto h = run({"--help"});
        QCOMPARE(h.code, 0);
        for (const char* c : {"train", "validate", "eval", "sample", "init", "inspect"})
            QVERIFY(h.out.contains(c));
        QCOMPARE(run({}).code, 2);
    }

    void argument_errors() {
        expect_bad_input(run({"frobnicate"}), {"frobnicate", "unknown command"});
        expect_bad_input(run({"init", "--out", "/tmp/x"}), {"--preset", "required"});
        expect_bad_input(run({"init", "--preset", "gpt5", "--out", "/tmp/x"}),
                         {"gpt5", "unknown preset"});
        expect_bad_input(run({"eval", "--model", "/nonexistent", "--data", "x"}),
                         {"/nonexistent/config.json"});
        expect_bad_input(run({"eval", "--bogus"}), {"--bogus", "unknown option"});
        expect_bad_input(run({"init", "--preset", "llama2-7b", "--out", "/tmp/x"}), {"--force"});
    }

    void init_inspect_eval() {
        const auto d = tmp("model");
        QCOMPARE(run({"init", "--preset", "tiny", "--out", q(d / "m"), "--seed", "3"}).code, 0);
        // A second init into the same folder is refused; the model stays.
        const auto before = fs::file_size(d / "m/model.safetensors");
        expect_bad_input(run({"init", "--preset", "tiny", "--out", q(d / "m")}),
                         {"already holds a model"});
        QCOMPARE(fs::file_size(d / "m/model.safetensors"), before);

        const auto ins = run({"inspect", "--model", q(d / "m"), "--json"});
        QCOMPARE(ins.code, 0);
        const json j = json::parse(ins.out.toStdString());
        QCOMPARE(j["architecture"].get<std::string>(), std::string("LlamaForCausalLM"));
        QCOMPARE(j["params"].get<std::uint64_t>(), bcd::ModelConfig::preset("tiny").num_params());
        QCOMPARE(j["blocks"].size(), std::size_t{4}); // embed, 2 layers, head
        QCOMPARE(j["tensors"][0]["dtype"].get<std::string>(), std::string("F32"));

        // Windows: 1000 bytes, S = 64 → starts 0, 64, …, 896 (start + 65 ≤ 1000): 15 windows.
        std::ofstream(d / "text.txt") << std::string(1000, 'a');
        const auto ev = run({"eval", "--model", q(d / "m"), "--data", q(d / "text.txt"),
                             "--seq-len", "64", "--json"});
        QCOMPARE(ev.code, 0);
        const json e = json::parse(ev.out.toStdString());
        QCOMPARE(e["tokens"].get<long>(), 15L * 64);
        // An untrained model (std 0.02) predicts nearly uniformly: loss ≈ ln 256.
        QVERIFY(std::abs(e["loss"].get<double>() - std::log(256.0)) < 0.1);
        std::ofstream(d / "short.txt") << "abc";
        expect_bad_input(
            run({"eval", "--model", q(d / "m"), "--data", q(d / "short.txt"), "--seq-len", "64"}),
            {"short.txt", "too short"});
    }

    // A tokenizer error inside the parallel encoding of the data (PCRE2's match limit) is exit
    // code 2 naming the data file and line and the tokenizer's key, not std::terminate.
    void tokenizer_error_while_encoding_is_bad_input() {
        const auto d = tmp("tokenizer_error");
        QCOMPARE(run({"init", "--preset", "tiny", "--out", q(d / "m")}).code, 0);
        write_backtracking_tokenizer(d / "m");
        std::string text;
        for (int i = 0; i < 100; ++i) text += "paragraph " + std::to_string(i) + "\n\n";
        text += std::string(60, 'a') + "c\n"; // line 201
        for (int i = 0; i < 100; ++i) text += "\nmore text\n";
        std::ofstream(d / "t.txt") << text;
        expect_bad_input(
            run({"eval", "--model", q(d / "m"), "--data", q(d / "t.txt"), "--seq-len", "16"}),
            {q(d / "t.txt") + ":201: ", "tokenizer.json", "pattern.Regex", "match limit"});
    }

    // A corrupt weights file is exit code 2 naming it, never a crash.
    void corrupt_safetensors() {
        const auto d = tmp("corrupt");
        QCOMPARE(run({"init", "--preset", "tiny", "--out", q(d / "m")}).code, 0);
        fs::resize_file(d / "m/model.safetensors", 1000); // cut inside the data
        std::ofstream(d / "t.txt") << std::string(600, 'x');
        expect_bad_input(
            run({"eval", "--model", q(d / "m"), "--data", q(d / "t.txt"), "--seq-len", "16"}),
            {"model.safetensors"});
        expect_bad_input(run({"inspect", "--model", q(d / "m")}), {"model.safetensors"});
        {
            std::ofstream f(d / "m/model.safetensors", std::ios::binary | std::ios::trunc);
            f << "garbage";
        }
        expect_bad_input(run({"inspect", "--model", q(d / "m")}), {"model.safetensors"});
    }

    void train_validate_sample() {
        const auto d = tmp("train");
        QCOMPARE(run({"init", "--preset", "tiny", "--out", q(d / "m")}).code, 0);
        {
            std::ifstream in(fs::path(BCD_SOURCE_DIR) / "resources/sample/shakespeare-train.txt");
            std::string s(30000, '\0');
            in.read(s.data(), 30000);
            std::ofstream(d / "train.txt") << s;
        }
        // Relative paths resolve against the config's folder.
        const json cfg{{"model", {{"path", "m"}}},
                       {"data", {{"train", "train.txt"}, {"seq_len", 32}}},
                       {"train", {{"steps", 6}, {"batch_size", 2}}},
                       {"bcd", {{"switch_every", 2}}},
                       {"output", {{"dir", "run"}}}};
        std::ofstream(d / "run.json") << cfg.dump();
        const auto v = run({"validate", "--config", q(d / "run.json")});
        QCOMPARE(v.code, 0);
        const json resolved = json::parse(v.out.toStdString());
        QCOMPARE(resolved["model"]["path"].get<std::string>(), (d / "m").string());
        QCOMPARE(resolved["optim"]["lr"].get<double>(), 3e-4); // a default filled in
        QCOMPARE(run({"train", "--config", q(d / "run.json")}).code, 0);
        QVERIFY(fs::exists(d / "run/final/model.safetensors"));
        // The same again is refused, and --resume of a finished run has nothing left to do.
        expect_bad_input(run({"train", "--config", q(d / "run.json")}), {"output.dir", "--resume"});
        QCOMPARE(run({"train", "--config", q(d / "run.json"), "--resume"}).code, 0);
        const auto s = run({"sample", "--model", q(d / "run/final"), "--prompt", "To be",
                            "--max-new", "20", "--temperature", "0"});
        QCOMPARE(s.code, 0);
        QVERIFY(s.out.startsWith("To be"));
        QCOMPARE(s.raw_out.size(), qsizetype(5 + 20 + 1)); // prompt, 20 new bytes, a newline
        // top-p keeps the fewest most likely tokens reaching p: a tiny p keeps the likeliest
        // alone, so any temperature and seed give the greedy text; p = 1 samples from all.
        const auto nucleus =
            run({"sample", "--model", q(d / "run/final"), "--prompt", "To be", "--max-new", "20",
                 "--temperature", "1.5", "--top-p", "1e-9", "--seed", "7"});
        QCOMPARE(nucleus.code, 0);
        QCOMPARE(nucleus.raw_out, s.raw_out);
        const auto wide =
            run({"sample", "--model", q(d / "run/final"), "--prompt", "To be", "--max-new", "20",
                 "--temperature", "1.5", "--top-p", "1", "--seed", "7"});
        QCOMPARE(wide.code, 0);
        QVERIFY(wide.raw_out != s.raw_out); // 20 bytes drawn at temperature 1.5 are not greedy's
        expect_bad_input(run({"sample", "--model", q(d / "run/final"), "--top-p", "0"}),
                         {"--top-p"});

        json bad = cfg;
        bad["bcd"]["order"] = "sideways";
        std::ofstream(d / "bad.json") << bad.dump();
        expect_bad_input(run({"train", "--config", q(d / "bad.json")}), {"bad.json", "bcd.order"});
        std::ofstream(d / "broken.json") << "{\"model\": ";
        expect_bad_input(run({"validate", "--config", q(d / "broken.json")}),
                         {"broken.json", "line 1"});
        // A number JSON cannot hold is bad input too (nlohmann reports it as out_of_range).
        std::ofstream(d / "huge.json") << "{\"train\": {\"steps\": 1e400}}";
        expect_bad_input(run({"validate", "--config", q(d / "huge.json")}),
                         {"huge.json", "valid JSON"});
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
