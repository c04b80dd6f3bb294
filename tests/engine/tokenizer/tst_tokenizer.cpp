// bcd::Tokenizer on hand-made tokenizer.json files: each supported feature with ids worked out by
// hand (merge ranks, ignore_merges, the GPT-2 / Llama 3 pre-tokenizers, prefix space, NFC, added
// tokens and their lstrip / rstrip / single_word / normalized flags, unknown bytes), round trips,
// invalid UTF-8, thread-count independence, the two merge loops against each other, and every
// refusal (which must name the file and the key). tests/oracle/test_tokenizer_hf.py checks the
// same against HF tokenizers itself.

#include "bcd/errors.h"
#include "bcd/tokenizer.h"
#include "tokenizer/bpe.h"

#include <QtTest>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <unistd.h>

namespace fs = std::filesystem;
using bcd::Tokenizer;
using bcd::tokenizer_detail::bytes_to_byte_level;
using nlohmann::json;
using Ids = std::vector<std::int32_t>;

namespace {

const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

json byte_level(bool use_regex, bool add_prefix_space = false) {
    return {{"type", "ByteLevel"},
            {"add_prefix_space", add_prefix_space},
            {"trim_offsets", true},
            {"use_regex", use_regex}};
}

json split(const std::string& pattern) {
    return {{"type", "Split"},
            {"pattern", {{"Regex", pattern}}},
            {"behavior", "Isolated"},
            {"invert", false}};
}

json added(int id, const std::string& content, bool special, json flags = json::object()) {
    json t = {{"id", id},          {"content", content}, {"single_word", false},
              {"lstrip", false},   {"rstrip", false},    {"normalized", !special},
              {"special", special}};
    for (auto it = flags.begin(); it != flags.end(); ++it) t[it.key()] = it.value();
    return t;
}

// A tokenizer.json whose vocabulary is the 256 bytes (byte b has id b, minus `missing`), then the
// merged tokens of `merges` (raw text, in order) with ids 256, 257, ..., then `extra` tokens.
json tiny(const std::vector<std::pair<std::string, std::string>>& merges,
          json pre = byte_level(true), const std::vector<std::string>& extra = {},
          const std::string& missing = "") {
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) {
        const std::string raw(1, static_cast<char>(b));
        if (missing.find(raw) == std::string::npos) vocab[bytes_to_byte_level(raw)] = b;
    }
    int next = 256;
    json m = json::array();
    for (const auto& [a, b] : merges) {
        const std::string merged = bytes_to_byte_level(a + b);
        if (!vocab.contains(merged)) vocab[merged] = next++;
        m.push_back({bytes_to_byte_level(a), bytes_to_byte_level(b)});
    }
    for (const auto& e : extra)
        if (!vocab.contains(bytes_to_byte_level(e))) vocab[bytes_to_byte_level(e)] = next++;
    return {{"version", "1.0"},
            {"truncation", nullptr},
            {"padding", nullptr},
            {"added_tokens", json::array()},
            {"normalizer", nullptr},
            {"pre_tokenizer", pre},
            {"post_processor", byte_level(true)},
            {"decoder", byte_level(true)},
            {"model",
             {{"type", "BPE"},
              {"dropout", nullptr},
              {"unk_token", nullptr},
              {"continuing_subword_prefix", nullptr},
              {"end_of_word_suffix", nullptr},
              {"fuse_unk", false},
              {"byte_fallback", false},
              {"ignore_merges", false},
              {"vocab", vocab},
              {"merges", m}}}};
}

Tokenizer make(const json& j) {
    return Tokenizer::parse(j.dump(), "tokenizer.json");
}

std::int32_t id_of(const Tokenizer& t, const std::string& raw) {
    const auto id = t.token_id(bytes_to_byte_level(raw));
    if (!id) throw std::runtime_error("no token for " + raw);
    return *id;
}

Ids bytes_of(const std::string& s) {
    Ids ids;
    for (const char c : s) ids.push_back(static_cast<unsigned char>(c));
    return ids;
}

Ids cat(std::initializer_list<Ids> parts) {
    Ids out;
    for (const Ids& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const bcd::InputError& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("<not an InputError: ") + e.what() + ">";
    }
    return "<no exception>";
}

const std::vector<std::string>& varied_texts() {
    static const std::vector<std::string> texts = {
        "",
        "Hello, world!",
        "  leading and trailing  ",
        "I'm sure it's fine; WE'LL see. They'd've",
        "def f(x):\n\treturn x ** 2  # square\n\n\n",
        "1234567890 3.14159 1,000,000 0xFF",
        "Café naïve Straße ÅNGSTRÖM",
        "日本語のテキスト 中文 한국어 العربية हिन्दी",
        "emoji 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
        "\r\n\r\n\t \u00a0\u3000\u2028x",
        std::string("nul\0inside", 10),
        std::string(500, ' ') + std::string(300, 'a') + std::string(200, '7'),
    };
    return texts;
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private:
    fs::path dir_;

private slots:
    void initTestCase() {
        dir_ = fs::path(BCD_TEST_TMP) / ("tokenizer-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void cleanupTestCase() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    // --- the BPE model ---------------------------------------------------------------------

    void bytesOnly() {
        const Tokenizer t = make(tiny({}));
        QCOMPARE(t.encode("ab c"), bytes_of("ab c"));
        QCOMPARE(t.vocab_size(), 256);
        QVERIFY(t.round_trips());
        QCOMPARE(t.encode(""), Ids{});
    }

    void mergeRanks() {
        // "abc": (a, b) ranks before (b, c) → ab c; the other order → a bc.
        const Tokenizer ab_first = make(tiny({{"a", "b"}, {"b", "c"}}));
        QCOMPARE(ab_first.encode("abc"), (Ids{id_of(ab_first, "ab"), 'c'}));
        const Tokenizer bc_first = make(tiny({{"b", "c"}, {"a", "b"}}));
        QCOMPARE(bc_first.encode("abc"), (Ids{'a', id_of(bc_first, "bc")}));
        // Equal pairs merge leftmost first: "aaa" → aa a.
        const Tokenizer aa = make(tiny({{"a", "a"}}));
        QCOMPARE(aa.encode("aaa"), (Ids{id_of(aa, "aa"), 'a'}));
        QCOMPARE(aa.encode("aaaa"), (Ids{id_of(aa, "aa"), id_of(aa, "aa")}));
        // Chains: h e → he, l l → ll, he ll → hell, hell o → hello.
        const Tokenizer hello = make(tiny({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}}));
        QCOMPARE(hello.encode("hello"), Ids{id_of(hello, "hello")});
        QCOMPARE(hello.encode("ello"), (Ids{'e', id_of(hello, "ll"), 'o'}));
        QCOMPARE(hello.encode("hellohello"), (Ids{id_of(hello, "hello"), id_of(hello, "hello")}));
    }

    void mergeForms() {
        // The older "a b" strings and the pair form give the same tokenizer; "#version" lines
        // are skipped.
        json pairs = tiny({{"h", "e"}, {"l", "l"}, {"he", "ll"}});
        json strings = pairs;
        strings["model"]["merges"] = json::array({"#version: 0.2", "h e", "l l", "he ll"});
        const Tokenizer a = make(pairs), b = make(strings);
        QCOMPARE(a.encode("hell hello"), b.encode("hell hello"));
        QCOMPARE(a.encode("hell"), Ids{id_of(a, "hell")});
        QVERIFY(a.summary().find("3 merges") != std::string::npos);
        QVERIFY(b.summary().find("3 merges") != std::string::npos);
    }

    void ignoreMerges() {
        // "abc" is in the vocabulary but no merge builds it: only ignore_merges finds it.
        json j = tiny({{"b", "c"}}, byte_level(true), {"abc"});
        const Tokenizer plain = make(j);
        QCOMPARE(plain.encode("abc"), (Ids{'a', id_of(plain, "bc")}));
        j["model"]["ignore_merges"] = true;
        const Tokenizer ignoring = make(j);
        QCOMPARE(ignoring.encode("abc"), Ids{id_of(ignoring, "abc")});
        QCOMPARE(ignoring.encode("abcd"), (Ids{'a', id_of(ignoring, "bc"), 'd'}));
        QVERIFY(ignoring.summary().find("ignore_merges") != std::string::npos);
    }

    void mergeLoopsAgree() {
        // The linear scan (short words) and HF's priority queue (long words) on random merge
        // tables over a 4-letter alphabet, where ties and chains are frequent.
        std::mt19937 rng(5);
        for (int trial = 0; trial < 40; ++trial) {
            bcd::tokenizer_detail::BpeModel m;
            int next = 4;
            std::uint32_t rank = 0;
            for (int k = 0; k < 60; ++k) {
                const auto a = static_cast<std::int32_t>(rng() % static_cast<unsigned>(next));
                const auto b = static_cast<std::int32_t>(rng() % static_cast<unsigned>(next));
                m.merges.insert(a, b, {rank++, next++});
            }
            bcd::tokenizer_detail::BpeScratch scratch;
            for (int w = 0; w < 50; ++w) {
                std::vector<std::int32_t> word(1 + rng() % 60);
                for (auto& s : word) s = static_cast<std::int32_t>(rng() % 4);
                auto linear = word, heap = word;
                m.merge(linear, scratch, false);
                m.merge(heap, scratch, true);
                QCOMPARE(linear, heap);
            }
        }
    }

    void unknownBytes() {
        // Without unk_token a byte that has no token vanishes, as in HF.
        json j = tiny({}, byte_level(true), {"<unk>"}, "z");
        const Tokenizer dropping = make(j);
        QCOMPARE(dropping.encode("azza"), bytes_of("aa"));
        QVERIFY(!dropping.round_trips());
        j["model"]["unk_token"] = "<unk>";
        const Tokenizer unk = make(j);
        const std::int32_t u = *unk.token_id("<unk>");
        QCOMPARE(unk.encode("azza"), (Ids{'a', u, u, 'a'}));
        j["model"]["fuse_unk"] = true;
        const Tokenizer fused = make(j);
        QCOMPARE(fused.encode("azza"), (Ids{'a', u, 'a'}));
    }

    // --- pre-tokenizers --------------------------------------------------------------------

    void gpt2PreTokenizer() {
        const Tokenizer t = make(tiny({}));
        const std::vector<std::string> want = {"I", "'m", " ", " 42", " cats", "!!", "\n\n"};
        QCOMPARE(t.pre_tokenize("I'm  42 cats!!\n\n"), want);
        const std::vector<std::string> spaces = {"a", "   ", " b", "\t"};
        QCOMPARE(t.pre_tokenize("a    b\t"), spaces);
        // Merges never cross pre-tokens: "a b" with a merge (a, space) stays a, " b".
        const Tokenizer m = make(tiny({{"a", " "}}));
        QCOMPARE(m.encode("a b"), bytes_of("a b"));
    }

    void llama3PreTokenizer() {
        const Tokenizer t =
            make(tiny({}, json{{"type", "Sequence"},
                               {"pretokenizers", {split(kLlama3Pattern), byte_level(false)}}}));
        const std::vector<std::string> digits = {"123", "456", "7", " apples", "\n\n", "  ", " x"};
        QCOMPARE(t.pre_tokenize("1234567 apples\n\n   x"), digits);
        const std::vector<std::string> contractions = {"WE", "'LL", " go", "'s"};
        QCOMPARE(t.pre_tokenize("WE'LL go's"), contractions);
        QVERIFY(t.summary().find("Split(Llama 3 regex)") != std::string::npos);
    }

    void prefixSpace() {
        const Tokenizer t = make(tiny({}, byte_level(true, true)));
        const std::vector<std::string> want = {" hi", " there"};
        QCOMPARE(t.pre_tokenize("hi there"), want);
        QCOMPARE(t.encode("hi"), bytes_of(" hi"));
        QCOMPARE(t.encode(" hi"), bytes_of(" hi")); // no second space
        QCOMPARE(t.decode(t.encode("hi")), std::string(" hi"));
        QVERIFY(!t.round_trips());
    }

    void literalSplit() {
        json pre = {{"type", "Sequence"},
                    {"pretokenizers",
                     {{{"type", "Split"},
                       {"pattern", {{"String", "."}}},
                       {"behavior", "Isolated"},
                       {"invert", false}},
                      byte_level(false)}}};
        const Tokenizer t = make(tiny({{"a", "."}}, pre));
        const std::vector<std::string> want = {"a", ".", "b", ".", "."};
        QCOMPARE(t.pre_tokenize("a.b.."), want);
        QCOMPARE(t.encode("a.b"), bytes_of("a.b")); // the merge (a, .) cannot cross the split
    }

    void nfcNormalizer() {
        json j = tiny({});
        j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFC"}}})}};
        const Tokenizer t = make(j);
        QCOMPARE(t.encode("e\u0301"), t.encode("é"));
        QCOMPARE(t.encode("é"), bytes_of("é"));
        QCOMPARE(t.normalize("Cafe\u0301"), std::string("Café"));
        QVERIFY(t.summary().find("normalizer NFC") != std::string::npos);
        const Tokenizer raw = make(tiny({}));
        QCOMPARE(raw.encode("e\u0301"), bytes_of("e\u0301"));
    }

    // --- added tokens ----------------------------------------------------------------------

    void addedTokens() {
        json j = tiny({{"a", "b"}});
        j["added_tokens"] = {added(257, "<|eot|>", true), added(258, "<x>", false),
                             added(259, "<x>y", true), added(256, "ab", false)};
        const Tokenizer t = make(j);
        QCOMPARE(t.encode("ab<|eot|>ab"), (Ids{256, 257, 256}));
        QCOMPARE(t.encode("<|eot"), bytes_of("<|eot"));
        QCOMPARE(t.encode("<x>yz<x>"), (Ids{259, 'z', 258})); // leftmost-longest
        QCOMPARE(t.decode(Ids{256, 257, 'c'}), std::string("ab<|eot|>c"));
        QCOMPARE(t.decode(Ids{256, 257, 'c'}, true), std::string("abc"));
        QCOMPARE(t.special_tokens(), (std::vector<std::string>{"<|eot|>", "<x>y"}));
        QCOMPARE(t.vocab_size(), 260);
        QCOMPARE(t.token_id("<x>"), std::optional<std::int32_t>(258));
        QCOMPARE(t.token(257), std::optional<std::string>("<|eot|>"));
        QCOMPARE(t.token(1000), std::optional<std::string>());
        QCOMPARE(t.added_tokens().size(), std::size_t{4});
        QVERIFY(t.round_trips());
        QVERIFY(t.summary().find("<|eot|>") != std::string::npos);
    }

    void addedTokenFlags() {
        json j = tiny({});
        j["added_tokens"] = {added(256, "<m>", true, {{"lstrip", true}}),
                             added(257, "[S]", true, {{"rstrip", true}}),
                             added(258, "cat", false, {{"single_word", true}}),
                             added(259, "e\u0301", false, {{"normalized", true}})};
        j["normalizer"] = {{"type", "NFC"}};
        const Tokenizer t = make(j);
        // lstrip takes the spaces before the token, rstrip those after it.
        QCOMPARE(t.encode("a  <m> b"), cat({bytes_of("a"), {256}, bytes_of(" b")}));
        QCOMPARE(t.encode("a [S]  b"), cat({bytes_of("a "), {257}, bytes_of("b")}));
        QCOMPARE(t.decode(t.encode("a  <m> b")), std::string("a<m> b"));
        // single_word: only where no word character touches it.
        QCOMPARE(t.encode("cat"), Ids{258});
        QCOMPARE(t.encode("a cat."), cat({bytes_of("a "), {258}, bytes_of(".")}));
        QCOMPARE(t.encode("concat"), bytes_of("concat"));
        QCOMPARE(t.encode("cats"), bytes_of("cats"));
        // A normalized token matches the normalised text: é in either form.
        QCOMPARE(t.encode("é"), Ids{259});
        QCOMPARE(t.encode("e\u0301"), Ids{259});
        QVERIFY(!t.round_trips());
    }

    void addedTokenDecodedBytes() {
        // HF's ByteLevel decoder: a token made of byte characters decodes to those bytes ("Ġx" is
        // " x"), any other to its UTF-8.
        json j = tiny({});
        j["added_tokens"] = {added(256, "\xC4\xA0x", false), added(257, "<｜end｜>", true)};
        const Tokenizer t = make(j);
        QCOMPARE(t.decode(Ids{256, 257}), std::string(" x<｜end｜>"));
        QVERIFY(!t.round_trips());
    }

    // --- round trips, threads, invalid UTF-8 ------------------------------------------------

    void roundTrip_data() {
        QTest::addColumn<QByteArray>("text");
        for (std::size_t i = 0; i < varied_texts().size(); ++i) {
            const std::string& s = varied_texts()[i];
            QTest::newRow(("text" + std::to_string(i)).c_str())
                << QByteArray(s.data(), static_cast<qsizetype>(s.size()));
        }
    }
    void roundTrip() {
        QFETCH(QByteArray, text);
        const std::string s(text.constData(), static_cast<std::size_t>(text.size()));
        const json pre_l3 = {{"type", "Sequence"},
                             {"pretokenizers", {split(kLlama3Pattern), byte_level(false)}}};
        for (const json& pre : {byte_level(true), pre_l3}) {
            const Tokenizer t = make(tiny({{" ", " "},
                                           {"  ", "  "},
                                           {"e", " "},
                                           {"t", "h"},
                                           {"th", "e"},
                                           {"a", "a"},
                                           {"7", "7"}},
                                          pre));
            QVERIFY(t.round_trips());
            const Ids ids = t.encode(s);
            QCOMPARE(t.decode(ids), s);
            QCOMPARE(t.decode_bytes(ids), s);
        }
    }

    void batchMatchesEncode() {
        const Tokenizer t = make(tiny({{"t", "h"}, {"th", "e"}, {" ", "the"}}));
        std::vector<std::string> docs;
        for (int k = 0; k < 20; ++k)
            for (const auto& s : varied_texts()) docs.push_back(s + std::to_string(k));
        const std::vector<std::string_view> views(docs.begin(), docs.end());
        const auto one = t.encode_batch(views, 1);
        for (const int threads : {2, 3, 0}) QCOMPARE(t.encode_batch(views, threads), one);
        for (std::size_t i = 0; i < docs.size(); ++i) QCOMPARE(one[i], t.encode(docs[i]));
        QVERIFY(t.encode_batch({}).empty());
        // Copies share the loaded tables and give the same ids.
        const Tokenizer copy = t;
        QCOMPARE(copy.encode(docs[3]), one[3]);
    }

    void invalidUtf8() {
        const Tokenizer t = make(tiny({}));
        const std::string fffd = "\xEF\xBF\xBD";
        // One U+FFFD per maximal invalid subsequence, as Python's decode("utf-8", "replace").
        QCOMPARE(t.encode("a\xFF"
                          "b"),
                 t.encode("a" + fffd + "b"));
        QCOMPARE(t.encode("\xE2\x82"), t.encode(fffd));                   // truncated 3-byte
        QCOMPARE(t.encode("\xED\xA0\x80"), t.encode(fffd + fffd + fffd)); // a surrogate
        QCOMPARE(t.encode("\xF0\x9F\x98"), t.encode(fffd));               // truncated emoji
        QCOMPARE(t.encode("\xC0\xAF"), t.encode(fffd + fffd));            // overlong
        QCOMPARE(t.normalize("x\x80"), "x" + fffd);
        // Decoding a lone part of a character gives U+FFFD; decode_bytes gives the raw byte.
        const Ids e_acute = t.encode("é");
        QCOMPARE(e_acute.size(), std::size_t{2});
        QCOMPARE(t.decode(Ids{e_acute[0]}), fffd);
        QCOMPARE(t.decode_bytes(Ids{e_acute[0]}), std::string("\xC3"));
        QCOMPARE(t.decode_bytes(Ids{e_acute[0]}) + t.decode_bytes(Ids{e_acute[1]}),
                 std::string("é"));
    }

    void decodeSkipsUnknownIds() {
        const Tokenizer t = make(tiny({}));
        QCOMPARE(t.decode(Ids{'a', -1, 256, 100000, 'b'}), std::string("ab"));
    }

    // --- refusals --------------------------------------------------------------------------

    // JSON text in raw strings; "\u0028" is "(", which moc would otherwise take for a parenthesis.
    void refusals_data() {
        QTest::addColumn<QString>("edit");
        QTest::addColumn<QString>("expected");
        const auto row = [](const char* name, const char* edit, const char* expected) {
            QTest::newRow(name) << QString(edit) << QString(expected);
        };
        row("model type", R"~({"model": {"type": "WordPiece"}})~",
            R"~(tokenizer.json: model.type: "WordPiece" is not supported (expected BPE))~");
        row("dropout", R"~({"model": {"dropout": 0.1}})~",
            "tokenizer.json: model.dropout: 0.1 is not supported");
        row("byte fallback", R"~({"model": {"byte_fallback": true}})~",
            "tokenizer.json: model.byte_fallback: true is not supported");
        row("prefix", R"~({"model": {"continuing_subword_prefix": "##"}})~",
            R"~(tokenizer.json: model.continuing_subword_prefix: "##" is not supported)~");
        row("suffix", R"~({"model": {"end_of_word_suffix": "</w>"}})~",
            R"~(tokenizer.json: model.end_of_word_suffix: "</w>" is not supported)~");
        row("unk", R"~({"model": {"unk_token": "<unk>"}})~",
            R"~(tokenizer.json: model.unk_token: "<unk>" is not in model.vocab)~");
        row("vocab type", R"~({"model": {"vocab": []}})~",
            "tokenizer.json: model.vocab: expected an object");
        row("vocab id", R"~({"model": {"vocab": {"a": -1}}})~",
            R"~(tokenizer.json: model.vocab."a": expected a token id)~");
        row("vocab huge id", R"~({"model": {"vocab": {"a": 99999999}}})~",
            R"~(tokenizer.json: model.vocab."a": expected a token id)~");
        row("vocab duplicate id", R"~({"model": {"vocab": {"a": 0, "b": 0}, "merges": []}})~",
            "is also the id of");
        row("no merges", R"~({"model": {"merges": null}})~",
            "tokenizer.json: model.merges: is required");
        row("merge string", R"~({"model": {"merges": ["a b c"]}})~",
            "tokenizer.json: model.merges[0]: expected two tokens separated by one space");
        row("merge unknown", R"~({"model": {"merges": [["a", "zz"]]}})~",
            R"~(tokenizer.json: model.merges[0]: "zz" is not in model.vocab)~");
        row("merge result", R"~({"model": {"merges": [["q", "j"]]}})~",
            R"~(tokenizer.json: model.merges[0]: "qj" is not in model.vocab)~");
        row("merge forms mixed", R"~({"model": {"merges": [["a", "b"], "a b"]}})~",
            "tokenizer.json: model.merges[1]: expected a pair of strings");
        row("normalizer", R"~({"normalizer": {"type": "NFKC"}})~",
            R"~(tokenizer.json: normalizer.type: "NFKC" is not supported (expected NFC, Prepend, Replace, Sequence))~");
        row("normalizer seq",
            R"~({"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]}})~",
            R"~(tokenizer.json: normalizer.normalizers[1].type: "Lowercase" is not supported)~");
        row("pre-tokenizer type", R"~({"pre_tokenizer": {"type": "Whitespace"}})~",
            R"~(tokenizer.json: pre_tokenizer.type: "Whitespace" is not supported (expected ByteLevel, Split, Metaspace, Sequence))~");
        // Without a ByteLevel step the file is SentencePiece style, whose decoder is not ByteLevel.
        row("no pre-tokenizer", R"~({"pre_tokenizer": null})~",
            R"~(tokenizer.json: decoder.type: "ByteLevel" needs a ByteLevel pre-tokenizer)~");
        row("split only",
            R"~({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated", "invert": false}})~",
            R"~(tokenizer.json: decoder.type: "ByteLevel" needs a ByteLevel pre-tokenizer)~");
        row("two bytelevel",
            R"~({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}})~",
            "tokenizer.json: pre_tokenizer: 2 ByteLevel steps");
        row("split behavior",
            R"~({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Removed", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}})~",
            R"~(tokenizer.json: pre_tokenizer.pretokenizers[0].behavior: "Removed" is not supported (expected "Isolated"))~");
        row("split invert",
            R"~({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated", "invert": true}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}})~",
            "tokenizer.json: pre_tokenizer.pretokenizers[0].invert: true is not supported");
        row("bad regex",
            R"~({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\u0028a"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}})~",
            "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: the pattern cannot be "
            "used: PCRE2 cannot compile it");
        row("posix class",
            R"~({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "[[:alpha:]]"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}})~",
            "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: the pattern cannot be "
            "used: nested and POSIX character classes are not supported");
        row("split after bytelevel",
            R"~({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}, {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Isolated", "invert": false}]}})~",
            "tokenizer.json: pre_tokenizer.pretokenizers[1]: a Split after ByteLevel is not "
            "supported");
        row("bytelevel field", R"~({"pre_tokenizer": {"add_prefix_space": null}})~",
            "tokenizer.json: pre_tokenizer.add_prefix_space: is required");
        row("decoder", R"~({"decoder": {"type": "WordPiece"}})~",
            R"~(tokenizer.json: decoder.type: "WordPiece" is not supported (expected ByteLevel with a ByteLevel pre-tokenizer))~");
        row("no decoder", R"~({"decoder": null})~",
            "tokenizer.json: decoder: null is not supported (expected ByteLevel)");
        row("version", R"~({"version": "2.0"})~",
            R"~(tokenizer.json: version: "2.0" is not supported (expected "1.0"))~");
        row("added id",
            R"~({"added_tokens": [{"id": 300, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}]})~",
            R"~(tokenizer.json: added_tokens[0].id: 300 differs from the id HF tokenizers gives "<s>" (257))~");
        row("added vocab id",
            R"~({"added_tokens": [{"id": 5, "content": "a", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}]})~",
            R"~(tokenizer.json: added_tokens[0].id: 5 differs from the id HF tokenizers gives "a" (97))~");
        row("added twice",
            R"~({"added_tokens": [{"id": 257, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}, {"id": 258, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}]})~",
            R"~(tokenizer.json: added_tokens[1].content: "<s>" is already added_tokens[0])~");
        row("added flag",
            R"~({"added_tokens": [{"id": 256, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "special": true}]})~",
            "tokenizer.json: added_tokens[0].normalized: is required");
        row("top level", R"~([1, 2])~", "tokenizer.json: (top level): expected a JSON object");
        row("deep nesting",
            R"~({"normalizer": {"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": [{"type": "Sequence", "normalizers": []}]}]}]}]}]}]}]}]}]}})~",
            "Sequences nested too deep (at most 8)");
    }
    void refusals() {
        QFETCH(QString, edit);
        QFETCH(QString, expected);
        json base = tiny({{"a", "b"}});
        const json patch = json::parse(edit.toStdString());
        std::string text;
        if (patch.is_object()) {
            base.merge_patch(patch); // null removes a key, as absence and null mean the same
            text = base.dump();
        } else {
            text = patch.dump();
        }
        const std::string got = error_of([&] { (void)Tokenizer::parse(text, "tokenizer.json"); });
        if (got.find(expected.toStdString()) == std::string::npos)
            QFAIL(("expected \"" + expected.toStdString() + "\", got \"" + got + "\"").c_str());
        QVERIFY2(got.rfind("tokenizer.json: ", 0) == 0, got.c_str());
    }

    void corruptFiles_data() {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("expected");
        const std::string good = tiny({{"a", "b"}}).dump(2);
        QTest::newRow("truncated")
            << QByteArray(good.data(), static_cast<qsizetype>(good.size() / 2))
            << QString("expected valid JSON");
        QTest::newRow("empty") << QByteArray() << QString("line 1: expected valid JSON");
        QTest::newRow("binary") << QByteArray("\x00\xFF\xFE garbage", 11)
                                << QString("expected valid JSON");
        QTest::newRow("bad utf8 in json")
            << QByteArray("{\"model\": \"\xFF\"}") << QString("expected valid JSON");
    }
    void corruptFiles() {
        QFETCH(QByteArray, content);
        QFETCH(QString, expected);
        const fs::path p = dir_ / "corrupt.json";
        {
            std::ofstream out(p, std::ios::binary);
            out.write(content.constData(), content.size());
        }
        const std::string got = error_of([&] { (void)Tokenizer::load(p); });
        QVERIFY2(got.rfind(p.string() + ": ", 0) == 0, got.c_str());
        QVERIFY2(got.find(expected.toStdString()) != std::string::npos, got.c_str());
    }

    void missingFile() {
        const fs::path p = dir_ / "absent" / "tokenizer.json";
        const std::string got = error_of([&] { (void)Tokenizer::load(p); });
        QCOMPARE(got, p.string() + ": cannot open the file (expected a tokenizer.json)");
        QCOMPARE(error_of([&] { (void)Tokenizer::load(dir_); }),
                 dir_.string() + ": is a folder (expected a tokenizer.json file)");
    }

    void loadFromFile() {
        const fs::path p = dir_ / "tokenizer.json";
        {
            std::ofstream out(p);
            out << tiny({{"a", "b"}}).dump();
        }
        const Tokenizer t = Tokenizer::load(p);
        QCOMPARE(t.encode("ab"), Ids{256});
        QCOMPARE(t.label(), p.string());
    }
};

QTEST_APPLESS_MAIN(TestTokenizer)
#include "tst_tokenizer.moc"
