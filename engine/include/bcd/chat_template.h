#pragma once
// Chat templates (docs/data.md#chat-templates): what tokenizer_config.json says about a model's
// chat format, the template families the engine recognises in it, and the conversation text each
// family produces — the text transformers' apply_chat_template renders for the same messages —
// with the spans of it that are loss targets (the assistant turns). The engine does not run
// Jinja: it recognises a family by the template's structure and lays the conversation out natively.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bcd {

// The parts of tokenizer_config.json the data path uses.
struct TokenizerConfig {
    std::string file;          // where it was read from ("" when there is none)
    std::string chat_template; // the default template ("" when none)
    std::optional<std::string> bos_token, eos_token;
    std::optional<bool> add_bos_token, add_eos_token;
    std::string tokenizer_class; // "" when absent
};

// Parses a tokenizer_config.json text. `chat_template` may be a string or HF's list of
// {"name", "template"} (the one named "default" is used). bos_token / eos_token may be strings or
// AddedToken objects ({"content": ...}). Anything else of the wrong type is an InputError naming
// `label` and the key. Keys the engine does not use are ignored (the file is HF's, not ours).
TokenizerConfig parse_tokenizer_config(std::string_view json_text, const std::string& label);

// Chat formats: the template families, and the engine's own plain layout.
enum class ChatFormat {
    Plain,   // "### User:" / "### Assistant:" (no template: byte-level and base models)
    ChatML,  // <|im_start|>role\n ... <|im_end|>\n
    Qwen2,   // ChatML with a default system prompt when the chat has none
    Qwen3,   // ChatML with <think> blocks after the last user turn
    Llama3,  // <|start_header_id|>role<|end_header_id|>\n\n ... <|eot_id|>
    Llama2,  // <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n ... [/INST] answer </s>
    Mistral, // <s>[INST] ... [/INST]answer</s>
    Zephyr,  // <|role|>\n ... </s>\n
    Phi3,    // <|role|>\n ... <|end|>\n, then EOS
    Gemma,   // <bos><start_of_turn>user\n ... <end_of_turn>\n, the assistant is "model"
    DeepSeek, // <｜begin▁of▁sentence｜>system<｜User｜>...<｜Assistant｜>...<｜end▁of▁sentence｜>
};

const char* chat_format_name(ChatFormat f);
// The format named `name` (a data.chat_format value other than "auto").
std::optional<ChatFormat> chat_format_from_name(std::string_view name);
// Every value data.chat_format accepts, comma-separated: "auto, plain, chatml, ...".
std::string chat_format_names();

// A recognised template: its family and the strings it writes.
struct ChatTemplate {
    ChatFormat format = ChatFormat::Plain;
    std::string bos, eos;       // the template's bos_token / eos_token ("" when it writes none)
    std::string default_system; // Qwen2: the system prompt used when the chat has none
};

// Recognises the family of `cfg.chat_template` by its structure. nullopt when it is none of them.
std::optional<ChatTemplate> recognise_chat_template(const TokenizerConfig& cfg);

// The template of family `f` chosen by name (data.chat_format), for models without one: the
// config's bos_token / eos_token where it has them, else the family's usual ones; Qwen2's
// default system prompt is "You are a helpful assistant.".
ChatTemplate chat_template_for(ChatFormat f, const TokenizerConfig& cfg);

struct ChatMessage {
    std::string role; // system | user | assistant
    std::string content;
};

// A conversation laid out as text, and the byte ranges [begin, end) of it that are loss
// targets: for each assistant turn, from the end of its header to the end of its end-of-turn
// marker (inclusive), as docs/data.md says.
struct RenderedChat {
    std::string text;
    std::vector<std::pair<std::size_t, std::size_t>> trained;
};

// The text apply_chat_template(messages, tokenize=False) gives for a template of family `t`
// (not Plain). A conversation the family cannot express (a system message after the first one in
// Llama 2, Mistral and Gemma, whose templates have no place for it) sets `error` instead.
RenderedChat render_chat(const ChatTemplate& t, const std::vector<ChatMessage>& messages,
                         std::string* error);

} // namespace bcd
