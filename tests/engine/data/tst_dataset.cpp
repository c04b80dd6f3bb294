// Datasets (docs/data.md): text paragraphs and files, JSONL, SFT with loss masks in the three chat
// formats, token shards, malformed records, and the windows cut from the stream.

#include "bcd/dataset.h"
#include "bcd/errors.h"

#include <QtTest>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path dir_for(const char* name) {
    const fs::path d = fs::path(BCD_TEST_TMP) / "dataset" / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

fs::path write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

std::vector<std::int32_t> all_tokens(const bcd::TokenDataset& d) {
    std::vector<std::int32_t> t;
    for (std::size_t i = 0; i < d.size(); ++i) t.push_back(d.token(i));
    return t;
}

std::vector<std::int32_t> bytes(const std::string& s) {
    std::vector<std::int32_t> t;
    for (unsigned char c : s) t.push_back(c);
    return t;
}

// GPT-2's byte-to-character map: the tokens of a byte-level BPE vocabulary.
std::string byte_char(int b) {
    static const auto table = [] {
        std::vector<int> cp(256, -1);
        int n = 0;
        for (int c = 0; c < 256; ++c)
            if ((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))
                cp[c] = c;
        for (int c = 0; c < 256; ++c)
            if (cp[c] < 0) cp[c] = 256 + n++;
        return cp;
    }();
    const int u = table[static_cast<std::size_t>(b)];
    std::string s;
    if (u < 0x80)
        s += static_cast<char>(u);
    else {
        s += static_cast<char>(0xC0 | (u >> 6));
        s += static_cast<char>(0x80 | (u & 0x3F));
    }
    return s;
}

// A byte-level BPE tokenizer without merges (ids 0..255 are the bytes) and three special tokens.
fs::path write_chatml_tokenizer(const fs::path& dir, bool with_template) {
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
    json added = json::array();
    int id = 256;
    for (const char* t : {"<|im_start|>", "<|im_end|>", "<|endoftext|>"})
        added.push_back({{"id", id++},
                         {"content", t},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", true}});
    const json tok{{"version", "1.0"},
                   {"truncation", nullptr},
                   {"padding", nullptr},
                   {"added_tokens", added},
                   {"normalizer", nullptr},
                   {"pre_tokenizer",
                    {{"type", "ByteLevel"},
                     {"add_prefix_space", false},
                     {"trim_offsets", true},
                     {"use_regex", true}}},
                   {"post_processor", nullptr},
                   {"decoder",
                    {{"type", "ByteLevel"},
                     {"add_prefix_space", true},
                     {"trim_offsets", true},
                     {"use_regex", true}}},
                   {"model",
                    {{"type", "BPE"},
                     {"dropout", nullptr},
                     {"unk_token", nullptr},
                     {"continuing_subword_prefix", nullptr},
                     {"end_of_word_suffix", nullptr},
                     {"fuse_unk", false},
                     {"byte_fallback", false},
                     {"vocab", vocab},
                     {"merges", json::array()}}}};
    std::ofstream(dir / "tokenizer.json") << tok.dump();
    if (with_template)
        std::ofstream(dir / "tokenizer_config.json") << json{
            {"chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content "
                              "}}<|im_end|>\n{% endfor %}"}}.dump();
    return dir / "tokenizer.json";
}

} // namespace

class TestDataset : public QObject {
    Q_OBJECT
private slots:
    // Byte-level without EOS: the stream is the file's bytes, exactly.
    void text_without_eos_is_the_file() {
        const auto d = dir_for("text_plain");
        const std::string text =
            "\n\nFirst paragraph,\nline two.\n\n\n  \nSecond.\n\nThird, no newline";
        const auto f = write(d / "a.txt", text);
        const auto ds = bcd::TokenDataset::load(f, bcd::TextEncoder::byte_level(), {});
        QCOMPARE(all_tokens(ds), bytes(text));
        QCOMPARE(ds.documents(), std::size_t{3});
        QCOMPARE(ds.masked(), std::size_t{0});
    }

    // With an EOS id: paragraphs are documents, blank lines become one EOS.
    void text_with_eos_packs_paragraphs() {
        const auto d = dir_for("text_eos");
        const auto f = write(d / "a.txt", "\nAb\ncd\n\n \n\nEf\n");
        bcd::DataOptions o;
        o.eos_id = 300;
        const auto ds = bcd::TokenDataset::load(f, bcd::TextEncoder::byte_level(), o);
        auto expect = bytes("Ab\ncd");
        expect.push_back(300);
        for (int t : bytes("Ef")) expect.push_back(t);
        expect.push_back(300);
        QCOMPARE(all_tokens(ds), expect);
        QCOMPARE(ds.documents(), std::size_t{2});
    }

    void folder_of_text_files_is_one_document_each() {
        const auto d = dir_for("text_folder");
        fs::create_directories(d / "docs");
        write(d / "docs/2.txt", "two\n\nstill two");
        write(d / "docs/1.txt", "one");
        bcd::DataOptions o;
        o.eos_id = 257;
        const auto ds = bcd::TokenDataset::load(d / "docs", bcd::TextEncoder::byte_level(), o);
        auto expect = bytes("one");
        expect.push_back(257);
        for (int t : bytes("two\n\nstill two")) expect.push_back(t);
        expect.push_back(257);
        QCOMPARE(all_tokens(ds), expect);
        QCOMPARE(ds.documents(), std::size_t{2});
    }

    void jsonl_and_malformed_lines() {
        const auto d = dir_for("jsonl");
        const auto f =
            write(d / "a.jsonl",
                  "{\"text\": \"hi\"}\n\n{\"text\": \"yo\", \"id\": 3}\n{\"txt\": 1}\nnot json\n");
        bcd::DataOptions o;
        o.format = "jsonl";
        o.eos_id = 256;
        try {
            bcd::TokenDataset::load(f, bcd::TextEncoder::byte_level(), o);
            QFAIL("expected an InputError");
        } catch (const bcd::InputError& e) {
            // Line numbers count every line of the file, the blank one too.
            QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(f.string() + ":4")),
                     e.what());
            QVERIFY2(QString(e.what()).contains("\"text\""), e.what());
        }
        o.skip_malformed = true;
        const auto ds = bcd::TokenDataset::load(f, bcd::TextEncoder::byte_level(), o);
        QCOMPARE(all_tokens(ds), (std::vector<std::int32_t>{'h', 'i', 256, 'y', 'o', 256}));
        QCOMPARE(ds.skipped(), std::size_t{2});
        QCOMPARE(ds.documents(), std::size_t{2});
    }

    // SFT in the plain format (byte-level): only the answers (and their end) are loss targets.
    void sft_plain_masks_prompts() {
        const auto d = dir_for("sft_plain");
        const auto f = write(
            d / "a.jsonl",
            "{\"instruction\": \"Add\", \"input\": \"1+1\", \"output\": \"2\"}\n"
            "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", "
            "\"content\": \"Q\"}, {\"role\": \"assistant\", \"content\": \"A\"}]}\n");
        bcd::DataOptions o;
        o.format = "sft";
        const auto ds = bcd::TokenDataset::load(f, bcd::TextEncoder::byte_level(), o);
        const std::string first = "### User:\nAdd\n\n1+1\n\n### Assistant:\n2\n\n";
        const std::string second = "S\n\n### User:\nQ\n\n### Assistant:\nA\n\n";
        QCOMPARE(all_tokens(ds), bytes(first + second));
        std::string trained;
        for (std::size_t i = 0; i < ds.size(); ++i)
            if (ds.trainable(i)) trained += static_cast<char>(ds.token(i));
        QCOMPARE(trained, std::string("2\n\nA\n\n"));
        // Windows: a masked target is -100, the input stays.
        std::vector<std::int32_t> in(8), tg(8);
        ds.copy_window(0, 8, in.data(), tg.data());
        for (int j = 0; j < 8; ++j) {
            QCOMPARE(in[static_cast<std::size_t>(j)],
                     static_cast<std::int32_t>(
                         static_cast<unsigned char>(first[static_cast<std::size_t>(j)])));
            QCOMPARE(tg[static_cast<std::size_t>(j)], -100);
        }
        const std::size_t answer = first.find("2\n\n");
        std::vector<std::int32_t> in2(4), tg2(4);
        const std::size_t w = (answer - 1) / 4; // the window whose targets include the answer
        ds.copy_window(w, 4, in2.data(), tg2.data());
        bool saw_answer = false;
        for (int j = 0; j < 4; ++j) saw_answer |= tg2[static_cast<std::size_t>(j)] == '2';
        QVERIFY(saw_answer);
    }

    void sft_chatml_from_template() {
        const auto d = dir_for("sft_chatml");
        const auto tok = write_chatml_tokenizer(d, true);
        const auto enc = bcd::TextEncoder::from_spec(tok.string());
        std::string why;
        QCOMPARE(bcd::resolve_chat_template(enc, "auto", &why).format, bcd::ChatFormat::ChatML);
        const auto f =
            write(d / "a.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, "
                                 "{\"role\": \"assistant\", \"content\": \"Yo\"}]}\n");
        bcd::DataOptions o;
        o.format = "sft";
        o.eos_id = 258;
        const auto ds = bcd::TokenDataset::load(f, enc, o);
        std::vector<std::int32_t> expect{256};
        for (int t : bytes("user\nHi")) expect.push_back(t);
        expect.push_back(257);
        expect.push_back('\n');
        expect.push_back(256);
        for (int t : bytes("assistant\nYo")) expect.push_back(t);
        expect.push_back(257);
        expect.push_back('\n');
        expect.push_back(258);
        QCOMPARE(all_tokens(ds), expect);
        std::vector<std::int32_t> trained;
        for (std::size_t i = 0; i < ds.size(); ++i)
            if (ds.trainable(i)) trained.push_back(ds.token(i));
        QCOMPARE(trained, (std::vector<std::int32_t>{'Y', 'o', 257}));
        // Without a template the special tokens decide.
        fs::remove(d / "tokenizer_config.json");
        QCOMPARE(bcd::resolve_chat_template(bcd::TextEncoder::from_spec(tok.string()), "auto", &why)
                     .format,
                 bcd::ChatFormat::ChatML);
        // A template of another family needs that family's special tokens: one error naming them.
        std::ofstream(d / "tokenizer_config.json")
            << json{{"chat_template", "[INST] {{ m }} [/INST]"}}.dump();
        QCOMPARE(bcd::resolve_chat_template(bcd::TextEncoder::from_spec(tok.string()), "auto", &why)
                     .format,
                 bcd::ChatFormat::Mistral);
        // A template of no known family is an error listing data.chat_format's names, and
        // data.chat_format overrides it.
        std::ofstream(d / "tokenizer_config.json")
            << json{{"chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}"}}.dump();
        const auto unknown = bcd::TextEncoder::from_spec(tok.string());
        try {
            bcd::resolve_chat_template(unknown, "auto", &why);
            QFAIL("an unknown template was accepted");
        } catch (const bcd::InputError& e) {
            const std::string m = e.what();
            QVERIFY2(m.find("tokenizer_config.json") != std::string::npos, m.c_str());
            QVERIFY2(m.find("chat_template") != std::string::npos, m.c_str());
            QVERIFY2(m.find("data.chat_format") != std::string::npos, m.c_str());
            QVERIFY2(m.find("auto, plain, chatml, qwen2, qwen3, llama3, llama2, mistral, zephyr, "
                            "phi3, gemma, deepseek") != std::string::npos,
                     m.c_str());
        }
        QCOMPARE(bcd::resolve_chat_template(unknown, "chatml", &why).format,
                 bcd::ChatFormat::ChatML);
        QCOMPARE(bcd::resolve_chat_template(unknown, "plain", &why).format, bcd::ChatFormat::Plain);
        QVERIFY_THROWS_EXCEPTION(bcd::InputError,
                                 bcd::resolve_chat_template(unknown, "llama3", &why));
    }

    // A tokenizer.model that is not a SentencePiece model is one error naming it; a build
    // without libsentencepiece says so instead (oracle_tokenizer_model_hf checks real models).
    void tokenizer_model_refusals() {
        const auto d = dir_for("sp_model");
        write(d / "tokenizer.model", "not a protobuf");
        try {
            (void)bcd::TextEncoder::from_spec((d / "tokenizer.model").string());
            QFAIL("a broken tokenizer.model was accepted");
        } catch (const bcd::InputError& e) {
            const std::string m = e.what();
            QVERIFY2(m.find("tokenizer.model") != std::string::npos, m.c_str());
            QVERIFY2(m.find(bcd::SentencePieceTokenizer::available()
                                ? "not a readable SentencePiece model"
                                : "without libsentencepiece") != std::string::npos,
                     m.c_str());
        }
    }

    // One encoding of the whole conversation: a BPE merge across the border between the role
    // header and the answer is kept (segment-wise encoding would split it), and the merged token,
    // holding answer text, is trained.
    void sft_template_encodes_the_whole_conversation() {
        const auto d = dir_for("sft_merge");
        json vocab = json::object();
        for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
        vocab["<|im_start|>"] = 256;
        vocab["<|im_end|>"] = 257;
        vocab[byte_char('\n') + "Y"] = 258; // a merge of the header's "\n" with the answer's "Y"
        auto added = [](int id, const char* content) {
            return json{{"id", id},        {"content", content}, {"single_word", false},
                        {"lstrip", false}, {"rstrip", false},    {"normalized", false},
                        {"special", true}};
        };
        // ByteLevel without its regex: the text between special tokens is one pre-token.
        const json tokj{{"version", "1.0"},
                        {"truncation", nullptr},
                        {"padding", nullptr},
                        {"added_tokens", {added(256, "<|im_start|>"), added(257, "<|im_end|>")}},
                        {"normalizer", nullptr},
                        {"pre_tokenizer",
                         {{"type", "ByteLevel"},
                          {"add_prefix_space", false},
                          {"trim_offsets", true},
                          {"use_regex", false}}},
                        {"post_processor", nullptr},
                        {"decoder",
                         {{"type", "ByteLevel"},
                          {"add_prefix_space", false},
                          {"trim_offsets", true},
                          {"use_regex", false}}},
                        {"model",
                         {{"type", "BPE"},
                          {"dropout", nullptr},
                          {"unk_token", nullptr},
                          {"continuing_subword_prefix", nullptr},
                          {"end_of_word_suffix", nullptr},
                          {"fuse_unk", false},
                          {"byte_fallback", false},
                          {"vocab", vocab},
                          {"merges", json::array({byte_char('\n') + " Y"})}}}};
        std::ofstream(d / "tokenizer.json") << tokj.dump();
        std::ofstream(d / "tokenizer_config.json") << json{
            {"chat_template",
             "{% for m in messages %}{{'<|im_start|>' + m.role + '\n' + "
             "m.content + '<|im_end|>\n'}}{% endfor %}"}}.dump();
        const auto enc = bcd::TextEncoder::from_spec((d / "tokenizer.json").string());
        bcd::DataOptions o;
        o.format = "sft";
        const auto r = bcd::encode_record(
            R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]})",
            enc, o);
        QVERIFY2(r.error.empty(), r.error.c_str());
        std::vector<std::int32_t> expect{256};
        for (int t : bytes("user\nHi")) expect.push_back(t);
        expect.insert(expect.end(), {257, '\n', 256});
        for (int t : bytes("assistant")) expect.push_back(t);
        expect.insert(expect.end(), {258, 'o', 257, '\n'});
        QCOMPARE(r.ids, expect);
        std::vector<std::int32_t> trained;
        for (std::size_t i = 0; i < r.ids.size(); ++i)
            if (r.mask[i]) trained.push_back(r.ids[i]);
        QCOMPARE(trained, (std::vector<std::int32_t>{258, 'o', 257}));
    }

    // A tokenizer error raised while records are encoded in parallel (here PCRE2's match limit
    // on a pattern that backtracks catastrophically) is an InputError naming the record's file
    // and line and the tokenizer's key, never std::terminate out of the OpenMP region.
    void tokenizer_error_in_parallel_encoding_names_the_record() {
        const auto d = dir_for("tokenizer_error");
        const auto tok = write_chatml_tokenizer(d, false);
        json t = json::parse(std::ifstream(tok));
        t["pre_tokenizer"] = {{"type", "Sequence"},
                              {"pretokenizers",
                               {{{"type", "Split"},
                                 {"pattern", {{"Regex", "(a+)+$"}}},
                                 {"behavior", "Isolated"},
                                 {"invert", false}},
                                {{"type", "ByteLevel"},
                                 {"add_prefix_space", false},
                                 {"trim_offsets", true},
                                 {"use_regex", false}}}}};
        std::ofstream(tok) << t.dump();
        const auto enc = bcd::TextEncoder::from_spec(tok.string());
        std::string lines;
        for (int i = 0; i < 200; ++i)
            lines += "{\"text\": \"fine line " + std::to_string(i) + "\"}\n";
        lines += "{\"text\": \"" + std::string(60, 'a') + "c\"}\n"; // line 201
        for (int i = 0; i < 200; ++i) lines += "{\"text\": \"fine again\"}\n";
        const auto f = write(d / "a.jsonl", lines);
        bcd::DataOptions o;
        o.format = "jsonl";
        try {
            bcd::TokenDataset::load(f, enc, o);
            QFAIL("expected an InputError");
        } catch (const bcd::InputError& e) {
            const QString m = e.what();
            QVERIFY2(m.startsWith(QString::fromStdString(f.string() + ":201: ")), e.what());
            QVERIFY2(m.contains("tokenizer.json") && m.contains("pattern.Regex"), e.what());
            QVERIFY2(m.contains("match limit"), e.what());
        }
    }

    void sft_malformed_records_data() {
        QTest::addColumn<QString>("line");
        QTest::addColumn<QString>("expect");
        QTest::newRow("role") << R"({"messages": [{"role": "bot", "content": "x"}]})"
                              << "role";
        QTest::newRow("no answer") << R"({"messages": [{"role": "user", "content": "x"}]})"
                                   << "assistant";
        QTest::newRow("alpaca") << R"({"instruction": "x"})"
                                << "output";
        QTest::newRow("neither") << R"({"prompt": "x"})"
                                 << "messages";
        QTest::newRow("content") << R"({"messages": [{"role": "user", "content": 3}]})"
                                 << "content";
    }
    void sft_malformed_records() {
        QFETCH(QString, line);
        QFETCH(QString, expect);
        const auto d = dir_for("sft_bad");
        const auto f = write(d / "a.jsonl", line.toStdString() + "\n");
        bcd::DataOptions o;
        o.format = "sft";
        try {
            bcd::TokenDataset::load(f, bcd::TextEncoder::byte_level(), o);
            QFAIL("expected an InputError");
        } catch (const bcd::InputError& e) {
            QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(f.string() + ":1")),
                     e.what());
            QVERIFY2(QString(e.what()).contains(expect), e.what());
        }
    }

    // A shard holds what loading the source gives, masks included, in 2-byte ids when they fit.
    void token_shards_round_trip() {
        const auto d = dir_for("shard");
        const auto f =
            write(d / "a.jsonl", "{\"instruction\": \"Add\", \"output\": \"2\"}\n{\"instruction\": "
                                 "\"Sub\", \"output\": \"0\"}\n");
        bcd::DataOptions o;
        o.format = "sft";
        o.eos_id = 256;
        const auto mem = bcd::TokenDataset::load(f, bcd::TextEncoder::byte_level(), o);
        const auto st =
            bcd::tokenize_to_shard(f, bcd::TextEncoder::byte_level(), o, d / "a.tokens");
        QCOMPARE(st.tokens, mem.size());
        QCOMPARE(st.masked, mem.masked());
        QCOMPARE(fs::file_size(d / "a.tokens"), std::uintmax_t(32 + 2 * mem.size() + mem.size()));
        bcd::DataOptions t;
        t.format = "tokens";
        t.vocab_limit = 300;
        const auto shard =
            bcd::TokenDataset::load(d / "a.tokens", bcd::TextEncoder::byte_level(), t);
        QCOMPARE(all_tokens(shard), all_tokens(mem));
        for (std::size_t i = 0; i < mem.size(); ++i) QCOMPARE(shard.trainable(i), mem.trainable(i));
        // The model's vocabulary is checked against the shard's.
        t.vocab_limit = 200;
        QVERIFY_THROWS_EXCEPTION(
            bcd::InputError,
            bcd::TokenDataset::load(d / "a.tokens", bcd::TextEncoder::byte_level(), t));
        t.vocab_limit = 300;
        // Corruption: a truncated shard and a foreign file are refused by name.
        fs::resize_file(d / "a.tokens", 40);
        try {
            bcd::TokenDataset::load(d / "a.tokens", bcd::TextEncoder::byte_level(), t);
            QFAIL("expected an InputError");
        } catch (const bcd::InputError& e) {
            QVERIFY2(QString(e.what()).contains("a.tokens") && QString(e.what()).contains("count"),
                     e.what());
        }
        write(d / "b.tokens", std::string(64, 'x'));
        QVERIFY_THROWS_EXCEPTION(
            bcd::InputError,
            bcd::TokenDataset::load(d / "b.tokens", bcd::TextEncoder::byte_level(), t));
        // A text shard without masks has no mask section.
        const auto txt = write(d / "t.txt", "hello world");
        bcd::tokenize_to_shard(txt, bcd::TextEncoder::byte_level(), {}, d / "t.tokens");
        QCOMPARE(fs::file_size(d / "t.tokens"), std::uintmax_t(32 + 2 * 11));
        const auto ts = bcd::TokenDataset::load(d / "t.tokens", bcd::TextEncoder::byte_level(), t);
        QCOMPARE(all_tokens(ts), bytes("hello world"));
        QVERIFY(!fs::exists(d / "t.tokens.tmp"));
    }

    void windows() {
        const auto d = dir_for("windows");
        const auto f = write(d / "a.txt", std::string("abcdefghij"));
        const auto ds = bcd::TokenDataset::load(f, bcd::TextEncoder::byte_level(), {});
        QCOMPARE(ds.num_windows(3), std::size_t{3}); // starts 0, 3, 6 (6 + 4 <= 10)
        QCOMPARE(ds.num_windows(9), std::size_t{1});
        QCOMPARE(ds.num_windows(10), std::size_t{0});
        std::vector<std::int32_t> in(3), tg(3);
        ds.copy_window(2, 3, in.data(), tg.data());
        QCOMPARE(in, bytes("ghi"));
        QCOMPARE(tg, bytes("hij"));
    }
};

QTEST_APPLESS_MAIN(TestDataset)
#include "tst_dataset.moc"
