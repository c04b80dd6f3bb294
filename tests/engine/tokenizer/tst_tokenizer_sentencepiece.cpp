// bcd::Tokenizer on SentencePiece-style tokenizer.json files (Llama 2, Mistral, Phi-3): the
// legacy normaliser (Prepend + Replace) and the Metaspace pre-tokenizer with each prepend scheme
// and split, byte fallback to <0xNN> tokens, unk with and without fuse_unk, ignore_merges, and
// the decoder chain (Replace, ByteFallback, Fuse, Strip, Metaspace) — on a hand-made vocabulary
// with ids worked out by hand, on the published Mistral 7B v0.1 and Phi-3 files when the real
// data folder is there (ids from HF tokenizers 0.20.3), and every refusal.
// tests/oracle/test_tokenizer_sp_hf.py compares the same with HF on a multilingual corpus.

#include "bcd/errors.h"
#include "bcd/tokenizer.h"

#include <QtTest>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using bcd::Tokenizer;
using nlohmann::json;
using Ids = std::vector<std::int32_t>;

namespace {

const std::string kMeta = "\xE2\x96\x81"; // U+2581, SentencePiece's space
const std::string kFffd = "\xEF\xBF\xBD";

// Ids: <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258 (unless without_bytes), then ▁ h i a b,
// then the merges ▁h ▁hi ab, then ▁ab (no merge makes it: only ignore_merges finds it).
json sp_vocab(bool with_bytes = true) {
    json vocab = json::object();
    int next = 0;
    for (const char* t : {"<unk>", "<s>", "</s>"}) vocab[t] = next++;
    static const char* hex = "0123456789ABCDEF";
    if (with_bytes)
        for (int b = 0; b < 256; ++b)
            vocab[std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">"] = next++;
    else
        next += 256;
    for (const std::string& t :
         {kMeta, std::string("h"), std::string("i"), std::string("a"), std::string("b"),
          kMeta + "h", kMeta + "hi", std::string("ab"), kMeta + "ab"})
        vocab[t] = next++;
    return vocab;
}
constexpr std::int32_t kSpace = 259, kH = 260, kI = 261, kA = 262, kB = 263, kSpaceH = 264,
                       kSpaceHi = 265, kAb = 266, kSpaceAb = 267;
constexpr std::int32_t byte_id(int b) {
    return 3 + b;
}

json special(int id, const std::string& content) {
    return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
            {"rstrip", false}, {"normalized", false}, {"special", true}};
}

json sp_decoder() {
    return {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
}

json metaspace(const std::string& scheme, bool split) {
    return {{"type", "Metaspace"},
            {"replacement", kMeta},
            {"prepend_scheme", scheme},
            {"split", split}};
}

json legacy_normalizer() {
    return {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", kMeta}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMeta}}}}};
}

// Llama 2's layout (legacy) by default; `pre` replaces the normaliser by a pre-tokenizer.
json sp_file(json pre = nullptr, bool with_bytes = true) {
    json j = {{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", {special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")}},
              {"normalizer", pre.is_null() ? legacy_normalizer() : json(nullptr)},
              {"pre_tokenizer", pre},
              {"post_processor", nullptr},
              {"decoder", sp_decoder()},
              {"model",
               {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", "<unk>"},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", true},
                {"byte_fallback", with_bytes},
                {"ignore_merges", false},
                {"vocab", sp_vocab(with_bytes)},
                {"merges", json::array({json::array({kMeta, "h"}), json::array({kMeta + "h", "i"}),
                                        json::array({"a", "b"})})}}}};
    return j;
}

Tokenizer load(const json& j) {
    return Tokenizer::parse(j.dump(), "tokenizer.json");
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const bcd::InputError& e) {
        return e.what();
    }
    return "(no error)";
}

fs::path real_tokenizer(const char* name) {
    return fs::path(BCD_REAL_DATA_DIR) / "tokenizers" / name / "tokenizer.json";
}

} // namespace

class TestTokenizerSentencePiece : public QObject {
    Q_OBJECT

private slots:
    void legacyNormalizer() {
        const Tokenizer t = load(sp_file());
        QCOMPARE(t.normalize("hi hi"), kMeta + "hi" + kMeta + "hi");
        QCOMPARE(t.normalize(""), std::string());
        QCOMPARE(t.encode("hi"), (Ids{kSpaceHi}));
        QCOMPARE(t.encode("hi hi"), (Ids{kSpaceHi, kSpaceHi}));
        QCOMPARE(t.encode(" hi"), (Ids{kSpace, kSpaceHi}));
        QCOMPARE(t.encode(""), Ids{});
        // The legacy form prepends to the text after an added token too.
        QCOMPARE(t.encode("<s>hi</s>"), (Ids{1, kSpaceHi, 2}));
        QCOMPARE(t.encode("<s>"), Ids{1});
        QCOMPARE(t.decode(Ids{kSpaceHi, kSpaceHi}), std::string("hi hi"));
        QCOMPARE(t.decode(Ids{1, kSpaceHi, 2}), std::string("<s> hi</s>"));
        QCOMPARE(t.decode(Ids{1, kSpaceHi, 2}, true), std::string("hi"));
        QVERIFY(!t.round_trips());
        QVERIFY(t.summary().find("byte_fallback") != std::string::npos);
        QVERIFY(t.summary().find("Prepend") != std::string::npos);
    }

    void metaspacePrependSchemes() {
        const Tokenizer first = load(sp_file(metaspace("first", false)));
        QCOMPARE(first.encode("hi"), (Ids{kSpaceHi}));
        // "first": only the text at the very start gets the prefix, not the text after <s>.
        QCOMPARE(first.encode("<s>hi"), (Ids{1, kH, kI}));
        QCOMPARE(first.encode("hi<s>hi"), (Ids{kSpaceHi, 1, kH, kI}));
        QCOMPARE(first.encode(" hi"), (Ids{kSpaceHi})); // it starts with the replacement already
        QCOMPARE(first.pre_tokenize("hi  hi"),
                 (std::vector<std::string>{kMeta + "hi" + kMeta + kMeta + "hi"}));
        const Tokenizer always = load(sp_file(metaspace("always", false)));
        QCOMPARE(always.encode("<s>hi"), (Ids{1, kSpaceHi}));
        const Tokenizer never = load(sp_file(metaspace("never", false)));
        QCOMPARE(never.encode("hi"), (Ids{kH, kI}));
        QCOMPARE(never.encode("h i"), (Ids{kH, kSpace, kI}));
        // split: a piece starts at every replacement (merged with what follows).
        const Tokenizer split = load(sp_file(metaspace("first", true)));
        QCOMPARE(split.pre_tokenize("hi  hi"),
                 (std::vector<std::string>{kMeta + "hi", kMeta, kMeta + "hi"}));
        QCOMPARE(split.encode("hi  hi"), (Ids{kSpaceHi, kSpace, kSpaceHi}));
        // The older key: add_prefix_space true is "always", false "never".
        json old = sp_file(json{{"type", "Metaspace"}, {"replacement", kMeta}});
        old["pre_tokenizer"]["add_prefix_space"] = false;
        QCOMPARE(load(old).encode("hi"), (Ids{kH, kI}));
        old["pre_tokenizer"]["add_prefix_space"] = true;
        QCOMPARE(load(old).encode("<s>hi"), (Ids{1, kSpaceHi}));
    }

    void byteFallback() {
        const Tokenizer t = load(sp_file(metaspace("never", false)));
        // é is C3 A9; no character token, so its bytes' tokens.
        QCOMPARE(t.encode("\xC3\xA9"), (Ids{byte_id(0xC3), byte_id(0xA9)}));
        QCOMPARE(t.encode("a\xC3\xA9"
                          "b"),
                 (Ids{kA, byte_id(0xC3), byte_id(0xA9), kB}));
        QCOMPARE(t.decode(t.encode("a\xC3\xA9 b")), std::string("a\xC3\xA9 b"));
        // HF's ByteFallback decoder: an invalid run of byte tokens is one U+FFFD per byte.
        QCOMPARE(t.decode(Ids{kA, byte_id(0xC3), kB}), "a" + kFffd + "b");
        QCOMPARE(t.decode(Ids{byte_id(0xE2), byte_id(0x96)}), kFffd + kFffd);
        QCOMPARE(t.decode(Ids{byte_id(0x41), byte_id(0x0A)}), std::string("A\n"));
        // decode_bytes: each token's own bytes, so that pieces concatenate to the whole.
        QCOMPARE(t.decode_bytes(Ids{byte_id(0xC3)}), std::string("\xC3"));
        QCOMPARE(t.decode_bytes(Ids{kSpaceHi}) + t.decode_bytes(Ids{byte_id(0xC3)}) +
                     t.decode_bytes(Ids{byte_id(0xA9)}),
                 std::string(" hi\xC3\xA9"));
        // Invalid UTF-8 in the text is repaired first: U+FFFD is EF BF BD.
        QCOMPARE(t.encode("\xFF"), (Ids{byte_id(0xEF), byte_id(0xBF), byte_id(0xBD)}));
    }

    void unknownCharacters() {
        json j = sp_file(metaspace("first", false), false);
        QCOMPARE(load(j).encode("\xC3\xA9\xC3\xA9h"), (Ids{kSpace, 0, kH})); // fused
        j["model"]["fuse_unk"] = false;
        QCOMPARE(load(j).encode("\xC3\xA9\xC3\xA9h"), (Ids{kSpace, 0, 0, kH}));
        j["model"]["unk_token"] = nullptr;
        QCOMPARE(load(j).encode("\xC3\xA9\xC3\xA9h"), (Ids{kSpaceH})); // dropped, as HF does
    }

    void ignoreMerges() {
        json j = sp_file();
        QCOMPARE(load(j).encode("ab"), (Ids{kSpace, kAb}));
        j["model"]["ignore_merges"] = true;
        QCOMPARE(load(j).encode("ab"), (Ids{kSpaceAb}));
        QCOMPARE(load(j).encode("hi"), (Ids{kSpaceHi}));
    }

    void wordByWord() {
        // A token made of "▁" only ("▁▁", as Llama's vocabulary has) keeps runs of spaces with
        // the word after them; a token with "▁" after another character makes BPE run on the
        // whole pre-token. Both give the ids of BPE on the whole pre-token (HF's, checked).
        json j = sp_file();
        j["model"]["vocab"][kMeta + kMeta] = 268;
        j["model"]["merges"].push_back(json::array({kMeta, kMeta}));
        const Tokenizer runs = load(j);
        QCOMPARE(runs.encode("hi  hi"), (Ids{kSpaceHi, kSpace, kSpaceHi}));
        QCOMPARE(runs.encode("   hi "), (Ids{268, kSpace, kSpaceHi, kSpace}));
        QCOMPARE(runs.encode("ab ab"), (Ids{kSpace, kAb, kSpace, kAb}));
        // "b▁", merged first, joins the words.
        j["model"]["vocab"]["b" + kMeta] = 269;
        j["model"]["merges"].insert(j["model"]["merges"].begin(), json::array({"b", kMeta}));
        QCOMPARE(load(j).encode("ab ab"), (Ids{kSpace, kA, 269, kAb}));
    }

    void decoders() {
        // The Metaspace decoder drops every replacement of the first token (HF does so).
        json j = sp_file(metaspace("first", false));
        j["decoder"] = {{"type", "Sequence"},
                        {"decoders", {{{"type", "ByteFallback"}}, metaspace("first", false)}}};
        Tokenizer t = load(j);
        QCOMPARE(t.decode(Ids{kSpaceHi, kSpaceHi}), std::string("hi hi"));
        QCOMPARE(t.decode(Ids{kSpace, kSpaceHi}), std::string(" hi"));
        j["decoder"] = metaspace("never", false);
        QCOMPARE(load(j).decode(Ids{kSpaceHi}), std::string(" hi"));
        // Strip at both ends, before Fuse: per token.
        j["decoder"] = {
            {"type", "Sequence"},
            {"decoders",
             {{{"type", "Strip"}, {"content", "h"}, {"start", 0}, {"stop", 1}},
              {{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", "_"}}}}};
        QCOMPARE(load(j).decode(Ids{kSpaceH, kH, kI}), std::string("_i"));
    }

    void realFiles() {
        if (!fs::exists(real_tokenizer("mistral-7b-v0.1")))
            QSKIP(("the real data folder is absent: " + real_tokenizer("").string()).c_str());
        const Tokenizer mistral = Tokenizer::load(real_tokenizer("mistral-7b-v0.1"));
        QCOMPARE(mistral.encode("Hello world"), (Ids{22557, 1526}));
        const Ids ids = mistral.encode("<s>\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 "
                                       "\xF0\x9F\xA6\x99");
        QCOMPARE(ids, (Ids{1, 28847, 892, 8496, 28705, 243, 162, 169, 156}));
        QCOMPARE(mistral.decode(ids), std::string("<s>\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1"
                                                  "\x82 \xF0\x9F\xA6\x99"));
        const Tokenizer phi3 = Tokenizer::load(real_tokenizer("phi-3-mini"));
        const Ids chat = phi3.encode("<|user|>\nHi there<|end|>\n<|assistant|>");
        QCOMPARE(chat, (Ids{32010, 6324, 727, 32007, 32001})); // rstrip takes the newlines
        QCOMPARE(phi3.decode(chat), std::string("<|user|> Hi there<|end|><|assistant|>"));
        QCOMPARE(phi3.encode(" x\xC3\xA9"), (Ids{29871, 921, 29948}));
        QCOMPARE(phi3.vocab_size(), 32011);
    }

    void refusals_data() {
        QTest::addColumn<QString>("edit");
        QTest::addColumn<QString>("expected");
        const auto row = [](const char* name, json edit, const char* expected) {
            QTest::newRow(name) << QString::fromStdString(edit.dump()) << QString(expected);
        };
        row("replace regex",
            {{"normalizer",
              {{"type", "Replace"}, {"pattern", {{"Regex", " "}}}, {"content", "x"}}}},
            "tokenizer.json: normalizer.pattern: expected {\"String\": \"...\"} (a Regex pattern "
            "is not supported)");
        row("replace empty",
            {{"normalizer",
              {{"type", "Replace"}, {"pattern", {{"String", ""}}}, {"content", "x"}}}},
            "tokenizer.json: normalizer.pattern.String: expected a non-empty string");
        row("prepend type", {{"normalizer", {{"type", "Prepend"}, {"prepend", 3}}}},
            "tokenizer.json: normalizer.prepend: expected a string, got 3");
        row("metaspace replacement",
            {{"normalizer", nullptr},
             {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "ab"}}}},
            "tokenizer.json: pre_tokenizer.replacement: expected one character, got \"ab\"");
        row("prepend scheme",
            {{"normalizer", nullptr},
             {"pre_tokenizer",
              {{"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "sometimes"}}}},
            "tokenizer.json: pre_tokenizer.prepend_scheme: \"sometimes\" is not supported "
            "(expected \"always\", \"first\" or \"never\")");
        row("metaspace split type",
            {{"normalizer", nullptr},
             {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "_"}, {"split", "yes"}}}},
            "tokenizer.json: pre_tokenizer.split: expected true or false");
        row("metaspace with bytelevel",
            {{"pre_tokenizer",
              {{"type", "Sequence"},
               {"pretokenizers",
                {{{"type", "Metaspace"}, {"replacement", "_"}},
                 {{"type", "ByteLevel"},
                  {"add_prefix_space", false},
                  {"trim_offsets", true},
                  {"use_regex", false}}}}}}},
            "tokenizer.json: pre_tokenizer: Metaspace and ByteLevel together are not supported");
        row("no decoder", {{"decoder", nullptr}},
            "tokenizer.json: decoder: null is not supported (expected Sequence of Replace, "
            "ByteFallback, Fuse, Strip, Metaspace for a SentencePiece-style BPE)");
        row("decoder step",
            {{"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "CTC"}}}}}}},
            "tokenizer.json: decoder.decoders[0].type: \"CTC\" is not supported (expected "
            "Replace, ByteFallback, Fuse, Strip, Metaspace)");
        row("decoders list", {{"decoder", {{"type", "Sequence"}, {"decoders", 1}}}},
            "tokenizer.json: decoder.decoders: expected a list of decoders");
        row("strip content",
            {{"decoder", {{"type", "Strip"}, {"content", ""}, {"start", 1}, {"stop", 0}}}},
            "tokenizer.json: decoder.content: expected one character, got \"\"");
        row("strip count",
            {{"decoder", {{"type", "Strip"}, {"content", " "}, {"start", -1}, {"stop", 0}}}},
            "tokenizer.json: decoder.start: expected a count of characters");
        row("bytelevel decoder", {{"decoder", {{"type", "ByteLevel"}}}},
            "tokenizer.json: decoder.type: \"ByteLevel\" needs a ByteLevel pre-tokenizer");
        row("post-processor type", {{"post_processor", {{"type", "Magic"}}}},
            "tokenizer.json: post_processor.type: \"Magic\" is not supported (expected "
            "TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing or Sequence)");
        row("template without A", json::parse(R"({"post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [1]}}}})"),
            "tokenizer.json: post_processor.single: expected the sequence");
        row("template unknown special", json::parse(R"({"post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<x>", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}}],
                "special_tokens": {}}})"),
            "tokenizer.json: post_processor.special_tokens: has no entry \"<x>\"");
        row("template id out of vocab", json::parse(R"({"post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [99999]}}}})"),
            "tokenizer.json: post_processor: names id 99999, which is no token");
    }

    // The post_processor's ids around one sequence: TemplateProcessing (inside a Sequence, as
    // Llama 3.1 has it), and Bert/Roberta's cls and sep.
    void postProcessor() {
        json j = sp_file();
        j["post_processor"] = json::parse(R"({"type": "Sequence", "processors": [
            {"type": "ByteLevel", "trim_offsets": false},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "</s>", "type_id": 0}}],
             "special_tokens": {"<s>": {"id": "<s>", "ids": [1]},
                                "</s>": {"id": "</s>", "ids": [2]}}}]})");
        const Tokenizer t = load(j);
        QCOMPARE(t.post_prefix(), (std::vector<std::int32_t>{1}));
        QCOMPARE(t.post_suffix(), (std::vector<std::int32_t>{2}));
        QVERIFY(t.encode("hi") == load(sp_file()).encode("hi")); // encode() adds nothing
        j["post_processor"] =
            json::parse(R"({"type": "RobertaProcessing", "cls": ["<s>", 1], "sep": ["</s>", 2]})");
        QCOMPARE(load(j).post_prefix(), (std::vector<std::int32_t>{1}));
        QCOMPARE(load(j).post_suffix(), (std::vector<std::int32_t>{2}));
        j["post_processor"] = nullptr;
        QVERIFY(load(j).post_prefix().empty());
    }

    void refusals() {
        QFETCH(QString, edit);
        QFETCH(QString, expected);
        json base = sp_file();
        base.merge_patch(json::parse(edit.toStdString()));
        const std::string got = error_of([&] { (void)load(base); });
        QVERIFY2(got.rfind(expected.toStdString(), 0) == 0,
                 ("expected \"" + expected.toStdString() + "\", got \"" + got + "\"").c_str());
    }
};

QTEST_APPLESS_MAIN(TestTokenizerSentencePiece)
#include "tst_tokenizer_sentencepiece.moc"
