#pragma once
// A SentencePiece `tokenizer.model` (the protobuf model Llama 2, Mistral and TinyLlama ship
// beside, or instead of, tokenizer.json), read through Debian's libsentencepiece
// (docs/tokenizer.md#tokenizermodel). encode() gives the ids of transformers' LlamaTokenizer (slow,
// legacy) for `encode(text, add_special_tokens=False)`: the text is split at the model's <unk>,
// <s> and </s> pieces, which are their own ids, and every other part is encoded by SentencePiece.
//
// The library is optional at build time (CMake option BCD_WITH_SENTENCEPIECE): without it,
// available() is false and load() refuses with a message saying how to get support.
//
// Thread safety: a loaded tokenizer is immutable; every const member may be called from any
// number of threads at once. Copies are cheap and share the model.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bcd {

class SentencePieceTokenizer {
public:
    static bool available(); // built with libsentencepiece
    // Reads a tokenizer.model; InputError naming the file when it is not a SentencePiece model
    // (or when this build has no SentencePiece support).
    static SentencePieceTokenizer load(const std::filesystem::path& model);

    std::vector<std::int32_t> encode(std::string_view text) const;
    void encode_append(std::string_view text, std::vector<std::int32_t>& out) const;
    // The pieces' bytes: "▁" is a space, <0xNN> its byte, control pieces (<s>) their text.
    std::string decode_bytes(std::span<const std::int32_t> ids) const;

    int vocab_size() const;
    std::optional<std::int32_t> token_id(std::string_view piece) const;
    std::optional<std::int32_t> bos_id() const;
    std::optional<std::int32_t> eos_id() const;
    // The pieces the text is split at before SentencePiece runs (<unk>, <s>, </s>).
    std::vector<std::string> special_tokens() const;
    std::string summary() const;
    const std::string& label() const;

    struct Impl;

private:
    explicit SentencePieceTokenizer(std::shared_ptr<const Impl> m) : m_(std::move(m)) {}
    std::shared_ptr<const Impl> m_;
};

} // namespace bcd
