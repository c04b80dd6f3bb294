#pragma once
// The post_processor of a tokenizer.json (docs/tokenizer.md#bos-and-eos): the special-token ids HF
// puts around one sequence when `tokenizer(text)` adds special tokens.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace bcd::tokenizer_detail {

struct PostTemplate {
    std::vector<std::int32_t> prefix, suffix; // ids before and after the sequence's own
    std::string description;                  // for the summary ("" when it adds nothing)
};

// Parses `post_processor` (null, ByteLevel, TemplateProcessing, BertProcessing,
// RobertaProcessing or a Sequence of them). Anything else is an InputError naming `label` and
// the key.
PostTemplate parse_post_processor(const nlohmann::json& p, const std::string& label);

} // namespace bcd::tokenizer_detail
