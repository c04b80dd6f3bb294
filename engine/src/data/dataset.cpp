// Datasets (docs/data.md): records are read in a streaming way (lines, paragraphs, files),
// encoded in parallel batches, and appended to a token stream with a loss mask — in memory for
// training, or into a token shard for `bcd-train tokenize`.

#include "bcd/dataset.h"

#include "bcd/atomic_file.h"
#include "bcd/errors.h"
#include "bcd/mapped_file.h"
#include "core/json_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace bcd {

// ---------------------------------------------------------------------------------------------
// TextEncoder

TextEncoder TextEncoder::byte_level() {
    return TextEncoder();
}

TextEncoder TextEncoder::hf(Tokenizer tokenizer, TokenizerConfig config) {
    TextEncoder e;
    e.tok_.emplace(std::move(tokenizer));
    e.config_ = std::move(config);
    // transformers rebuilds the post-processor of its Llama-family tokenizer classes from
    // add_bos_token (default true) and add_eos_token (default false); every other class keeps the
    // tokenizer.json's.
    std::string cls = e.config_.tokenizer_class;
    if (cls.ends_with("Fast")) cls.resize(cls.size() - 4);
    if (cls == "LlamaTokenizer" || cls == "CodeLlamaTokenizer" || cls == "GemmaTokenizer") {
        auto id_of = [&](const std::optional<std::string>& token, const char* key) {
            std::vector<std::int32_t> ids;
            if (!token) return ids;
            const auto id = e.tok_->token_id(*token);
            if (!id)
                throw InputError(e.config_.file, key,
                                 "\"" + *token + "\" is no token of " + e.tok_->label());
            ids.push_back(*id);
            return ids;
        };
        if (e.config_.add_bos_token.value_or(true))
            e.prefix_ = id_of(e.config_.bos_token, "bos_token");
        if (e.config_.add_eos_token.value_or(false))
            e.suffix_ = id_of(e.config_.eos_token, "eos_token");
    } else {
        e.prefix_ = e.tok_->post_prefix();
        e.suffix_ = e.tok_->post_suffix();
    }
    return e;
}

std::vector<std::int32_t> TextEncoder::encode_document(std::string_view text,
                                                       bool with_suffix) const {
    if (prefix_.empty() && (suffix_.empty() || !with_suffix)) return encode(text);
    std::vector<std::int32_t> ids = prefix_;
    if (sp_)
        sp_->encode_append(text, ids);
    else
        tok_->encode_append(text, ids);
    if (with_suffix) ids.insert(ids.end(), suffix_.begin(), suffix_.end());
    return ids;
}

TextEncoder TextEncoder::from_spec(const std::string& spec) {
    if (spec == "byte") return byte_level();
    const fs::path p(spec);
    TokenizerConfig cfg;
    const fs::path cfg_path = p.parent_path() / "tokenizer_config.json";
    if (fs::exists(cfg_path)) {
        std::ifstream in(cfg_path, std::ios::binary);
        if (!in)
            throw InputError(cfg_path.string(), "",
                             std::string("cannot open: ") + std::strerror(errno));
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        cfg = parse_tokenizer_config(text, cfg_path.string());
    }
    if (p.extension() == ".model")
        return sentencepiece(SentencePieceTokenizer::load(p), std::move(cfg));
    return hf(Tokenizer::load(p), std::move(cfg));
}

TextEncoder TextEncoder::sentencepiece(SentencePieceTokenizer tokenizer, TokenizerConfig config) {
    TextEncoder e;
    e.sp_.emplace(std::move(tokenizer));
    e.config_ = std::move(config);
    // As transformers' LlamaTokenizer: BOS unless add_bos_token is false, EOS when add_eos_token.
    auto id_of = [&](const std::optional<std::string>& token, std::optional<std::int32_t> model_id,
                     const char* key) {
        std::vector<std::int32_t> ids;
        if (token) {
            const auto id = e.sp_->token_id(*token);
            if (!id)
                throw InputError(e.config_.file, key,
                                 "\"" + *token + "\" is no piece of " + e.sp_->label());
            ids.push_back(*id);
        } else if (model_id) {
            ids.push_back(*model_id);
        }
        return ids;
    };
    if (e.config_.add_bos_token.value_or(true))
        e.prefix_ = id_of(e.config_.bos_token, e.sp_->bos_id(), "bos_token");
    if (e.config_.add_eos_token.value_or(false))
        e.suffix_ = id_of(e.config_.eos_token, e.sp_->eos_id(), "eos_token");
    return e;
}

int TextEncoder::vocab_size() const {
    if (sp_) return sp_->vocab_size();
    return tok_ ? tok_->vocab_size() : 256;
}

std::vector<std::int32_t> TextEncoder::encode(std::string_view text) const {
    if (sp_) return sp_->encode(text);
    if (tok_) return tok_->encode(text);
    std::vector<std::int32_t> ids(text.size());
    std::transform(text.begin(), text.end(), ids.begin(),
                   [](char c) { return static_cast<std::int32_t>(static_cast<unsigned char>(c)); });
    return ids;
}

std::vector<std::vector<std::int32_t>>
TextEncoder::encode_batch(const std::vector<std::string_view>& texts) const {
    if (tok_) return tok_->encode_batch(texts);
    if (sp_) {
        std::vector<std::vector<std::int32_t>> out(texts.size());
#pragma omp parallel for schedule(dynamic, 1)
        for (std::size_t i = 0; i < texts.size(); ++i) out[i] = sp_->encode(texts[i]);
        return out;
    }
    std::vector<std::vector<std::int32_t>> out;
    out.reserve(texts.size());
    for (auto t : texts) out.push_back(encode(t));
    return out;
}

std::string TextEncoder::decode_bytes(std::span<const std::int32_t> ids) const {
    if (tok_) return tok_->decode_bytes(ids);
    if (sp_) return sp_->decode_bytes(ids);
    std::string s;
    for (auto id : ids) s.push_back(static_cast<char>(id));
    return s;
}

std::optional<std::int32_t> TextEncoder::special(std::string_view token) const {
    if (sp_) {
        for (const auto& t : sp_->special_tokens())
            if (t == token) return sp_->token_id(t);
        return std::nullopt;
    }
    if (!tok_) return std::nullopt;
    for (const auto& a : tok_->added_tokens())
        if (a.content == token) return a.id;
    return std::nullopt;
}

std::string TextEncoder::describe() const {
    if (sp_) return sp_->summary();
    return tok_ ? tok_->summary() : "byte-level (one token per byte)";
}

namespace {

// The special tokens a family's layout writes: each must be one of the tokenizer's added tokens,
// or the text would be split into ordinary pieces.
std::vector<std::string> family_tokens(const ChatTemplate& t) {
    std::vector<std::string> v;
    switch (t.format) {
    case ChatFormat::ChatML:
    case ChatFormat::Qwen2:
    case ChatFormat::Qwen3:
        v = {"<|im_start|>", "<|im_end|>"};
        break;
    case ChatFormat::Llama3:
        v = {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
        break;
    case ChatFormat::Phi3:
        v = {"<|user|>", "<|assistant|>", "<|end|>"};
        break;
    case ChatFormat::Gemma:
        v = {"<start_of_turn>", "<end_of_turn>"};
        break;
    case ChatFormat::DeepSeek:
        v = {"<｜User｜>", "<｜Assistant｜>"};
        break;
    default:
        break;
    }
    if (!t.bos.empty()) v.push_back(t.bos);
    if (!t.eos.empty() && t.format != ChatFormat::Qwen2 && t.format != ChatFormat::ChatML &&
        t.format != ChatFormat::Qwen3 && t.format != ChatFormat::Llama3)
        v.push_back(t.eos);
    return v;
}

} // namespace

ChatTemplate resolve_chat_template(const TextEncoder& enc, const std::string& chat_format,
                                   std::string* why) {
    const TokenizerConfig& cfg = enc.config();
    ChatTemplate t;
    if (chat_format != "auto") {
        const auto f = chat_format_from_name(chat_format);
        if (!f)
            throw InputError("", "data.chat_format",
                             "expected one of " + chat_format_names() + ", got \"" + chat_format +
                                 "\"");
        t = *f == ChatFormat::Plain ? ChatTemplate{} : chat_template_for(*f, cfg);
        *why = "data.chat_format selects it";
    } else if (!cfg.chat_template.empty()) {
        const auto r = recognise_chat_template(cfg);
        if (!r)
            throw InputError(cfg.file, "chat_template",
                             "not a chat template family the engine recognises (Llama 3.0, "
                             "ChatML / Qwen2 / Qwen3, Llama 2, Mistral [INST], Zephyr, Phi-3, "
                             "Gemma, DeepSeek); set data.chat_format to one of " +
                                 chat_format_names() + " to lay conversations out explicitly");
        t = *r;
        *why =
            "tokenizer_config.json's chat template is " + std::string(chat_format_name(t.format));
    } else if (enc.special("<|im_start|>") && enc.special("<|im_end|>")) {
        t = chat_template_for(ChatFormat::ChatML, cfg);
        *why = "no chat template; the tokenizer has ChatML's special tokens";
    } else if (enc.special("<|start_header_id|>") && enc.special("<|end_header_id|>") &&
               enc.special("<|eot_id|>")) {
        t = chat_template_for(ChatFormat::Llama3, cfg);
        if (!enc.special(t.bos)) t.bos.clear();
        *why = "no chat template; the tokenizer has Llama 3's header tokens";
    } else {
        *why = "no chat template";
        return t;
    }
    if (t.format == ChatFormat::Plain) return t;
    for (const auto& tok : family_tokens(t))
        if (!enc.special(tok))
            throw InputError(enc.tokenizer()       ? enc.tokenizer()->label()
                             : enc.sentencepiece() ? enc.sentencepiece()->label()
                                                   : "data.tokenizer",
                             "added_tokens",
                             "the " + std::string(chat_format_name(t.format)) +
                                 " chat format needs the special token " + tok +
                                 ", which the tokenizer does not have (" + *why + ")");
    return t;
}

// ---------------------------------------------------------------------------------------------
// Reading records

namespace {

struct Record {
    std::string text;  // text, jsonl; the raw line for sft
    std::string where; // "FILE:LINE" for messages
};

bool blank(const std::string& line) {
    return std::all_of(line.begin(), line.end(),
                       [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::vector<fs::path> input_files(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(path, ec))
            if (e.is_regular_file() && !e.path().filename().string().starts_with("."))
                files.push_back(e.path());
        std::sort(files.begin(), files.end());
        if (files.empty())
            throw InputError(path.string(), "", "the folder holds no files (expected data files)");
        return files;
    }
    if (!fs::is_regular_file(path, ec))
        throw InputError(path.string(), "", "no such file (expected a data file or folder)");
    return {path};
}

// Calls emit for every record of the input in order. A folder of text files gives one record
// per file; a text file one per paragraph (docs/data.md); jsonl and sft one per non-blank line.
template <class Emit> void read_records(const fs::path& path, const DataOptions& o, Emit emit) {
    const auto files = input_files(path);
    const bool folder = files.size() > 1 || fs::is_directory(path);
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in)
            throw InputError(f.string(), "", std::string("cannot open: ") + std::strerror(errno));
        if (o.format == "text" && folder) {
            Record r{
                std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()),
                f.string()};
            emit(std::move(r));
            continue;
        }
        std::string line, doc, pending_blank;
        std::size_t line_no = 0, doc_line = 1;
        bool content = false; // the current document has a non-blank line
        auto flush = [&] {
            if (doc.empty() && pending_blank.empty()) return;
            Record r;
            if (o.eos_id >= 0) {
                while (!doc.empty() && (doc.back() == '\n' || doc.back() == '\r')) doc.pop_back();
                r.text = std::move(doc);
            } else {
                r.text =
                    std::move(doc) + pending_blank; // the file's text, exactly, over all records
            }
            r.where = f.string() + ":" + std::to_string(doc_line);
            doc.clear();
            pending_blank.clear();
            content = false;
            if (!r.text.empty()) emit(std::move(r));
        };
        while (std::getline(in, line)) {
            ++line_no;
            if (!in.eof()) line += '\n';
            if (o.format != "text") {
                if (blank(line)) continue;
                emit(Record{std::move(line), f.string() + ":" + std::to_string(line_no)});
                continue;
            }
            if (blank(line)) {
                if (!content && o.eos_id < 0)
                    doc += line; // leading blank lines stay with the text
                else if (content)
                    pending_blank += line;
                continue;
            }
            if (!pending_blank.empty()) flush(); // a blank line ended the previous paragraph
            if (!content) doc_line = line_no;
            content = true;
            doc += line;
        }
        if (in.bad()) throw InputError(f.string(), "", "read error");
        flush();
    }
}

// One record's tokens and mask (empty mask: all train); `error` non-empty when malformed.
struct Example {
    std::vector<std::int32_t> ids;
    std::vector<std::uint8_t> mask;
    std::string error;
};

struct Segment {
    std::string text;
    std::int32_t id = -1; // a special token instead of text
    bool train = false;
};

// The conversation of an SFT record: alpaca (instruction, input, output) or chat messages.
std::vector<ChatMessage> sft_messages(const json& j, std::string* error) {
    std::vector<ChatMessage> msgs;
    if (!j.is_object()) {
        *error = "expected a JSON object";
        return msgs;
    }
    if (j.contains("messages")) {
        const auto& m = j["messages"];
        if (!m.is_array() || m.empty()) {
            *error = "messages: expected a non-empty list";
            return msgs;
        }
        for (std::size_t i = 0; i < m.size(); ++i) {
            const auto& x = m[i];
            if (!x.is_object() || !x.contains("role") || !x["role"].is_string() ||
                !x.contains("content") || !x["content"].is_string()) {
                *error = "messages[" + std::to_string(i) +
                         "]: expected {\"role\": string, \"content\": string}";
                return {};
            }
            const std::string role = x["role"];
            if (role != "system" && role != "user" && role != "assistant") {
                *error = "messages[" + std::to_string(i) +
                         "].role: expected system, user or assistant, got \"" + role + "\"";
                return {};
            }
            msgs.push_back({role, x["content"].get<std::string>()});
        }
        if (std::none_of(msgs.begin(), msgs.end(),
                         [](const auto& p) { return p.role == "assistant"; })) {
            *error = "messages: expected at least one assistant message (nothing to train on)";
            return {};
        }
        return msgs;
    }
    if (j.contains("instruction") || j.contains("output")) {
        for (const char* k : {"instruction", "output"})
            if (!j.contains(k) || !j[k].is_string()) {
                *error = std::string(k) +
                         ": expected a string (alpaca format: instruction, input, output)";
                return {};
            }
        std::string user = j["instruction"];
        if (j.contains("input") && !j["input"].is_null()) {
            if (!j["input"].is_string()) {
                *error = "input: expected a string";
                return {};
            }
            if (!j["input"].get<std::string>().empty())
                user += "\n\n" + j["input"].get<std::string>();
        }
        msgs.push_back({"user", user});
        msgs.push_back({"assistant", j["output"].get<std::string>()});
        return msgs;
    }
    *error = "expected \"messages\" (chat) or \"instruction\"/\"output\" (alpaca)";
    return msgs;
}

// The engine's own layout for models without a chat template (docs/data.md).
std::vector<Segment> format_plain(const std::vector<ChatMessage>& msgs, std::int32_t eos) {
    std::vector<Segment> s;
    for (const auto& [role, content] : msgs) {
        if (role == "system") {
            s.push_back({content + "\n\n", -1, false});
        } else if (role == "user") {
            s.push_back({"### User:\n" + content + "\n\n", -1, false});
        } else {
            s.push_back({"### Assistant:\n", -1, false});
            s.push_back({content, -1, true});
            // The end of an answer is learnt: EOS where there is one, else a blank line.
            if (eos >= 0)
                s.push_back({"", eos, true});
            else
                s.push_back({"\n\n", -1, true});
        }
    }
    return s;
}

// How many leading ids a and b share.
std::size_t common_prefix(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b) {
    const std::size_t n = std::min(a.size(), b.size());
    std::size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

// A conversation in a template family: the rendered text is encoded once (so that pieces merge
// across turn borders exactly as apply_chat_template's ids do), and the tokens of each trained
// span [a, b) are those past the ids the text before a shares with the whole, up to the ids the
// text before b shares with it (docs/data.md#chat-templates).
void encode_chat(const RenderedChat& r, const TextEncoder& enc, Example& e) {
    e.ids = enc.encode(r.text);
    e.mask.assign(e.ids.size(), 0);
    for (const auto& [a, b] : r.trained) {
        const std::size_t from = common_prefix(e.ids, enc.encode(r.text.substr(0, a)));
        const std::size_t to = b == r.text.size()
                                   ? e.ids.size()
                                   : common_prefix(e.ids, enc.encode(r.text.substr(0, b)));
        for (std::size_t i = from; i < to; ++i) e.mask[i] = 1;
    }
}

Example build_example(const Record& r, const TextEncoder& enc, const DataOptions& o,
                      const ChatTemplate& chat) {
    Example e;
    if (o.format == "text") {
        e.ids = enc.encode_document(r.text);
        if (o.eos_id >= 0 && (e.ids.empty() || e.ids.back() != o.eos_id)) e.ids.push_back(o.eos_id);
        return e;
    }
    json j;
    try {
        j = json::parse(r.text);
    } catch (const json::exception& err) { // parse errors, and numbers out of range
        e.error =
            "expected one JSON object per line (" + std::string(err.what()).substr(0, 120) + ")";
        return e;
    }
    if (o.format == "jsonl") {
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
            e.error = "expected a JSON object with a string \"text\"";
            return e;
        }
        e.ids = enc.encode_document(j["text"].get<std::string>());
        if (o.eos_id >= 0 && (e.ids.empty() || e.ids.back() != o.eos_id)) e.ids.push_back(o.eos_id);
        return e;
    }
    const auto msgs = sft_messages(j, &e.error);
    if (!e.error.empty()) return e;
    if (chat.format != ChatFormat::Plain) {
        const RenderedChat rendered = render_chat(chat, msgs, &e.error);
        if (!e.error.empty()) return e;
        encode_chat(rendered, enc, e);
        // EOS separates packed examples, unless the template already ended with it.
        if (o.eos_id >= 0 && (e.ids.empty() || e.ids.back() != o.eos_id)) {
            e.ids.push_back(o.eos_id);
            e.mask.push_back(0);
        }
        return e;
    }
    for (const auto& seg : format_plain(msgs, o.eos_id)) {
        std::vector<std::int32_t> ids =
            seg.id >= 0 ? std::vector<std::int32_t>{seg.id} : enc.encode(seg.text);
        e.ids.insert(e.ids.end(), ids.begin(), ids.end());
        e.mask.insert(e.mask.end(), ids.size(), seg.train ? 1 : 0);
    }
    return e;
}

// Raises an exception caught while encoding the record at `where` ("FILE:LINE"). A tokenizer
// error names tokenizer.json and its key; the record that triggered it is what the user can fix.
[[noreturn]] void rethrow_for_record(const std::exception_ptr& failure, const std::string& where) {
    try {
        std::rethrow_exception(failure);
    } catch (const InputError& e) {
        throw InputError(where, "", "cannot be encoded: " + std::string(e.what()));
    }
}

// Reads, encodes in parallel batches, and hands each example to `sink` in input order.
template <class Sink>
void encode_records(const fs::path& path, const TextEncoder& enc, const DataOptions& o,
                    std::size_t* documents, std::size_t* skipped, Sink sink) {
    if (o.format != "text" && o.format != "jsonl" && o.format != "sft")
        throw InputError(path.string(), "format", "expected text, jsonl or sft here");
    std::string why;
    const ChatTemplate chat =
        o.format == "sft" ? resolve_chat_template(enc, o.chat_format, &why) : ChatTemplate{};
    std::vector<Record> batch;
    std::size_t bytes = 0;
    auto run = [&] {
        std::vector<Example> ex(batch.size());
        // An exception leaving an OpenMP region is std::terminate: each one stays with its record
        // and the first in input order is raised after the region, as for any malformed line.
        std::vector<std::exception_ptr> failed(batch.size());
#pragma omp parallel for schedule(dynamic, 1)
        for (std::size_t i = 0; i < batch.size(); ++i) {
            try {
                ex[i] = build_example(batch[i], enc, o, chat);
            } catch (...) {
                failed[i] = std::current_exception();
            }
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (failed[i]) rethrow_for_record(failed[i], batch[i].where);
            if (!ex[i].error.empty()) {
                if (!o.skip_malformed)
                    throw InputError(batch[i].where, "",
                                     ex[i].error + " (data.skip_malformed skips such lines)");
                ++*skipped;
                continue;
            }
            for (auto id : ex[i].ids)
                if (id < 0 || (o.vocab_limit > 0 && id >= o.vocab_limit))
                    throw InputError(batch[i].where, "token id " + std::to_string(id),
                                     "the tokenizer gives an id outside the model's vocabulary (" +
                                         std::to_string(o.vocab_limit) + ")");
            ++*documents;
            sink(ex[i]);
        }
        batch.clear();
        bytes = 0;
    };
    read_records(path, o, [&](Record&& r) {
        bytes += r.text.size();
        batch.push_back(std::move(r));
        if (batch.size() >= 4096 || bytes >= (16u << 20)) run();
    });
    run();
}

// ---------------------------------------------------------------------------------------------
// Token shards

constexpr char kShardMagic[8] = {'B', 'C', 'D', 'T', 'O', 'K', 'E', 'N'};
constexpr std::size_t kShardHeader = 32;

} // namespace

RecordTokens encode_record(std::string_view record, const TextEncoder& enc, const DataOptions& o) {
    std::string why;
    const ChatTemplate chat =
        o.format == "sft" ? resolve_chat_template(enc, o.chat_format, &why) : ChatTemplate{};
    Example e = build_example(Record{std::string(record), "record"}, enc, o, chat);
    return RecordTokens{std::move(e.ids), std::move(e.mask), std::move(e.error)};
}

std::size_t TokenDataset::num_windows(int S) const {
    if (S <= 0 || n_ < static_cast<std::size_t>(S) + 1) return 0;
    return (n_ - 1) / static_cast<std::size_t>(S);
}

std::int32_t TokenDataset::token(std::size_t i) const {
    if (!map_ids_) return static_cast<std::int32_t>(ids_[i]);
    if (width_ == 2) {
        std::uint16_t v;
        std::memcpy(&v, map_ids_ + 2 * i, 2);
        return v;
    }
    std::uint32_t v;
    std::memcpy(&v, map_ids_ + 4 * i, 4);
    return static_cast<std::int32_t>(v);
}

bool TokenDataset::trainable(std::size_t i) const {
    if (map_ids_) return !map_mask_ || map_mask_[i] != 0;
    return mask_.empty() || mask_[i] != 0;
}

std::size_t TokenDataset::masked() const {
    std::size_t m = 0;
    for (std::size_t i = 0; i < n_; ++i) m += trainable(i) ? 0 : 1;
    return m;
}

void TokenDataset::copy_window(std::size_t w, int S, std::int32_t* inputs,
                               std::int32_t* targets) const {
    const std::size_t s = w * static_cast<std::size_t>(S);
    for (int j = 0; j < S; ++j) {
        inputs[j] = token(s + static_cast<std::size_t>(j));
        const std::size_t t = s + static_cast<std::size_t>(j) + 1;
        targets[j] = trainable(t) ? token(t) : -100;
    }
}

std::string TokenDataset::describe() const {
    std::string d = source_ + ": " + std::to_string(n_) + " tokens";
    if (documents_) d += " in " + std::to_string(documents_) + " documents";
    if (skipped_) d += ", " + std::to_string(skipped_) + " malformed records skipped";
    if (!mask_.empty() || map_mask_)
        d += ", " + std::to_string(masked()) + " masked out of the loss";
    return d;
}

TokenDataset TokenDataset::load(const fs::path& path, const TextEncoder& enc,
                                const DataOptions& o) {
    TokenDataset d;
    d.source_ = path.string();
    if (o.format == "tokens") {
        if (fs::is_directory(path))
            throw InputError(path.string(), "",
                             "expected one token shard file (bcd-train tokenize writes one)");
        auto map = std::make_shared<MappedFile>(MappedFile::open(path, "a token shard"));
        const std::size_t size = map->size();
        if (size < kShardHeader)
            throw InputError(path.string(), "header", "file too short for a token shard");
        const auto* b = reinterpret_cast<const std::uint8_t*>(map->bytes().data());
        std::uint32_t version, width, vocab, flags;
        std::uint64_t count;
        std::memcpy(&version, b + 8, 4);
        std::memcpy(&width, b + 12, 4);
        std::memcpy(&count, b + 16, 8);
        std::memcpy(&vocab, b + 24, 4);
        std::memcpy(&flags, b + 28, 4);
        if (std::memcmp(b, kShardMagic, 8) != 0)
            throw InputError(path.string(), "magic", "not a token shard (expected BCDTOKEN)");
        if (version != 1)
            throw InputError(path.string(), "version",
                             "expected 1, got " + std::to_string(version));
        if (width != 2 && width != 4)
            throw InputError(path.string(), "width", "expected 2 or 4 bytes per id");
        if (flags > 1) throw InputError(path.string(), "flags", "unknown flags");
        if (count > (size - kShardHeader) / width)
            throw InputError(path.string(), "count",
                             "the header promises more ids than the file holds");
        const std::size_t expect = kShardHeader + count * width + ((flags & 1) ? count : 0);
        if (size != expect)
            throw InputError(path.string(), "count",
                             "file size " + std::to_string(size) + " does not match the header (" +
                                 std::to_string(expect) + " bytes expected)");
        if (o.vocab_limit > 0 && vocab > static_cast<std::uint32_t>(o.vocab_limit))
            throw InputError(path.string(), "vocab_size",
                             "the shard's tokenizer has " + std::to_string(vocab) +
                                 " ids, more than the model's " + std::to_string(o.vocab_limit));
        d.map_ = map;
        d.map_ids_ = b + kShardHeader;
        d.map_mask_ = (flags & 1) ? b + kShardHeader + count * width : nullptr;
        d.width_ = static_cast<int>(width);
        d.n_ = count;
        for (std::size_t i = 0; i < d.n_; ++i)
            if (o.vocab_limit > 0 && d.token(i) >= o.vocab_limit)
                throw InputError(path.string(), "id " + std::to_string(i),
                                 "token id " + std::to_string(d.token(i)) +
                                     " is outside the model's vocabulary");
        return d;
    }
    bool masked = false; // the mask is made at the first example that masks anything
    encode_records(path, enc, o, &d.documents_, &d.skipped_, [&](const Example& e) {
        if (!e.mask.empty() && !masked) {
            d.mask_.assign(d.ids_.size(), 1);
            masked = true;
        }
        d.ids_.insert(d.ids_.end(), e.ids.begin(), e.ids.end());
        if (masked) {
            if (e.mask.empty())
                d.mask_.insert(d.mask_.end(), e.ids.size(), 1);
            else
                d.mask_.insert(d.mask_.end(), e.mask.begin(), e.mask.end());
        }
    });
    d.n_ = d.ids_.size();
    return d;
}

ShardStats tokenize_to_shard(const fs::path& input, const TextEncoder& enc, const DataOptions& o,
                             const fs::path& out,
                             const std::function<void(const std::string&)>& progress) {
    const std::uint32_t vocab =
        static_cast<std::uint32_t>(std::max(enc.vocab_size(), o.eos_id + 1));
    const std::uint32_t width = vocab <= 65536 ? 2 : 4;
    // The shard is written through the durable writer; the mask goes to a scratch file beside
    // it (removed in every case) and is appended once the token count is known.
    // The output path is the user's (tokenize --out): a folder that cannot be written is input.
    std::optional<AtomicFileWriter> writer;
    try {
        writer.emplace(out);
    } catch (const DiskFullError&) {
        throw;
    } catch (const InternalError& e) {
        throw InputError(out.string(), "",
                         std::string("cannot write the shard (") + e.what() + ")");
    }
    AtomicFileWriter& f = *writer;
    const fs::path mask_tmp = f.temp_path().string() + ".mask";
    struct Scratch {
        fs::path path;
        std::FILE* file = nullptr;
        ~Scratch() {
            if (file) std::fclose(file);
            ::unlink(path.c_str());
        }
    } m{mask_tmp, std::fopen(mask_tmp.c_str(), "w+b")};
    if (!m.file) throw_write_error(mask_tmp, "create", errno);
    ShardStats st;
    bool any_mask = false;
    std::uint8_t header[kShardHeader] = {};
    f.write(header, kShardHeader);
    std::vector<std::uint8_t> buf;
    encode_records(input, enc, o, &st.documents, &st.skipped, [&](const Example& e) {
        buf.resize(e.ids.size() * width);
        for (std::size_t i = 0; i < e.ids.size(); ++i) {
            const auto v = static_cast<std::uint32_t>(e.ids[i]);
            std::memcpy(buf.data() + i * width, &v, width); // little-endian host
        }
        f.write(buf.data(), buf.size());
        if (e.mask.empty()) {
            buf.assign(e.ids.size(), 1);
        } else {
            buf.assign(e.mask.begin(), e.mask.end());
            any_mask = true;
            st.masked += static_cast<std::size_t>(std::count(e.mask.begin(), e.mask.end(), 0));
        }
        if (std::fwrite(buf.data(), 1, buf.size(), m.file) != buf.size())
            throw_write_error(mask_tmp, "write", errno);
        st.tokens += e.ids.size();
        if (progress && st.documents % 100000 == 0)
            progress(std::to_string(st.documents) + " documents, " + std::to_string(st.tokens) +
                     " tokens");
    });
    if (any_mask) {
        if (std::fflush(m.file) != 0) throw_write_error(mask_tmp, "write", errno);
        std::rewind(m.file);
        std::vector<char> chunk(1 << 16);
        std::size_t got;
        while ((got = std::fread(chunk.data(), 1, chunk.size(), m.file)) > 0)
            f.write(chunk.data(), got);
        if (std::ferror(m.file)) throw_write_error(mask_tmp, "read", errno);
    }
    std::memcpy(header, kShardMagic, 8);
    const std::uint32_t version = 1, flags = any_mask ? 1 : 0;
    const std::uint64_t count = st.tokens;
    std::memcpy(header + 8, &version, 4);
    std::memcpy(header + 12, &width, 4);
    std::memcpy(header + 16, &count, 8);
    std::memcpy(header + 24, &vocab, 4);
    std::memcpy(header + 28, &flags, 4);
    f.seek(0);
    f.write(header, kShardHeader);
    f.commit();
    return st;
}

} // namespace bcd
