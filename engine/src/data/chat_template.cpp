// Chat templates (docs/data.md#chat-templates): tokenizer_config.json, recognising a template's
// family by its structure, and laying conversations out as the family's template does.

#include "bcd/chat_template.h"

#include "bcd/errors.h"

#include <array>
#include <nlohmann/json.hpp>

namespace bcd {

namespace {

using nlohmann::json;

// A token string (a plain string or an AddedToken object); nullopt for null.
std::optional<std::string> token_string(const json& v, const std::string& label, const char* key) {
    if (v.is_null()) return std::nullopt;
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string())
        return v["content"].get<std::string>();
    throw InputError(label, key, "expected a string or an object with a string \"content\"");
}

std::optional<bool> optional_bool(const json& j, const std::string& label, const char* key) {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    if (!j[key].is_boolean()) throw InputError(label, key, "expected true or false");
    return j[key].get<bool>();
}

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

// Python's str.isspace() for one code point (what Jinja's trim and str.strip() remove).
bool py_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

// Decodes the UTF-8 code point at s[i] (length in *len); invalid bytes are one unit, not space.
char32_t code_point(std::string_view s, std::size_t i, std::size_t* len) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) {
        *len = 1;
        return 0xfffd;
    }
    char32_t c = n == 1 ? b : b & (0x7f >> n);
    for (std::size_t k = 1; k < n; ++k) {
        const auto x = static_cast<unsigned char>(s[i + k]);
        if ((x >> 6) != 2) {
            *len = 1;
            return 0xfffd;
        }
        c = (c << 6) | (x & 0x3f);
    }
    *len = n;
    return c;
}

// Python's str.strip() / lstrip() / rstrip() without arguments (Unicode whitespace).
std::string py_strip(std::string_view s, bool left = true, bool right = true) {
    std::size_t b = 0, e = s.size();
    if (left)
        while (b < e) {
            std::size_t n;
            if (!py_space(code_point(s, b, &n))) break;
            b += n;
        }
    if (right)
        while (e > b) {
            std::size_t start = e - 1; // back to the start of the last code point
            while (start > b && (static_cast<unsigned char>(s[start]) >> 6) == 2 && e - start < 4)
                --start;
            std::size_t n;
            const char32_t c = code_point(s, start, &n);
            if (start + n != e) { // not one whole code point: an invalid byte, not space
                break;
            }
            if (!py_space(c)) break;
            e = start;
        }
    return std::string(s.substr(b, e - b));
}

// Python's str.strip(chars) / lstrip / rstrip with ASCII `chars`.
std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
    std::size_t b = 0, e = s.size();
    if (left)
        while (b < e && chars.find(s[b]) != std::string_view::npos) ++b;
    if (right)
        while (e > b && chars.find(s[e - 1]) != std::string_view::npos) --e;
    return std::string(s.substr(b, e - b));
}

// The text of a literal default system prompt in a ChatML template:
// '<|im_start|>system\nTEXT<|im_end|>\n' with TEXT free of quotes and Jinja syntax.
std::optional<std::string> chatml_default_system(std::string_view t) {
    for (std::string_view head :
         {std::string_view("<|im_start|>system\\n"), std::string_view("<|im_start|>system\n")}) {
        for (std::size_t at = t.find(head); at != std::string_view::npos;
             at = t.find(head, at + 1)) {
            const std::size_t from = at + head.size();
            const std::size_t end = t.find("<|im_end|>", from);
            if (end == std::string_view::npos) continue;
            const std::string_view text = t.substr(from, end - from);
            if (text.empty() || text.find_first_of("'\"{}+") != std::string_view::npos) continue;
            std::string out;
            for (std::size_t i = 0; i < text.size(); ++i) {
                if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'n') {
                    out += '\n';
                    ++i;
                } else {
                    out += text[i];
                }
            }
            return out;
        }
    }
    return std::nullopt;
}

struct Builder {
    RenderedChat out;
    void add(std::string_view s) { out.text += s; }
    // An assistant turn: `body` is trained, and so is `end` (the end-of-turn marker) and any
    // text between them (`middle`).
    void answer(std::string_view body, std::string_view middle, std::string_view end) {
        const std::size_t b = out.text.size();
        out.text += body;
        out.text += middle;
        out.text += end;
        out.trained.emplace_back(b, out.text.size());
    }
};

} // namespace

TokenizerConfig parse_tokenizer_config(std::string_view json_text, const std::string& label) {
    json j;
    try {
        j = json::parse(json_text);
    } catch (const json::exception& e) {
        throw InputError(label, "", std::string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) throw InputError(label, "", "expected a JSON object");
    TokenizerConfig c;
    c.file = label;
    if (j.contains("chat_template") && !j["chat_template"].is_null()) {
        const json& t = j["chat_template"];
        if (t.is_string()) {
            c.chat_template = t.get<std::string>();
        } else if (t.is_array()) {
            bool found = false;
            for (std::size_t i = 0; i < t.size(); ++i) {
                const json& e = t[i];
                if (!e.is_object() || !e.contains("name") || !e["name"].is_string() ||
                    !e.contains("template") || !e["template"].is_string())
                    throw InputError(label, "chat_template[" + std::to_string(i) + "]",
                                     "expected {\"name\": string, \"template\": string}");
                if (e["name"] == "default") {
                    c.chat_template = e["template"].get<std::string>();
                    found = true;
                }
            }
            if (!found)
                throw InputError(label, "chat_template",
                                 "the list of templates has none named \"default\"");
        } else {
            throw InputError(label, "chat_template",
                             "expected a string or a list of {\"name\", \"template\"}");
        }
    }
    if (j.contains("bos_token")) c.bos_token = token_string(j["bos_token"], label, "bos_token");
    if (j.contains("eos_token")) c.eos_token = token_string(j["eos_token"], label, "eos_token");
    if (j.contains("tokenizer_class") && !j["tokenizer_class"].is_null()) {
        if (!j["tokenizer_class"].is_string())
            throw InputError(label, "tokenizer_class", "expected a string");
        c.tokenizer_class = j["tokenizer_class"].get<std::string>();
    }
    c.add_bos_token = optional_bool(j, label, "add_bos_token");
    c.add_eos_token = optional_bool(j, label, "add_eos_token");
    return c;
}

namespace {

struct FormatName {
    ChatFormat format;
    const char* name;
};
constexpr std::array<FormatName, 11> kFormats{{
    {ChatFormat::Plain, "plain"},
    {ChatFormat::ChatML, "chatml"},
    {ChatFormat::Qwen2, "qwen2"},
    {ChatFormat::Qwen3, "qwen3"},
    {ChatFormat::Llama3, "llama3"},
    {ChatFormat::Llama2, "llama2"},
    {ChatFormat::Mistral, "mistral"},
    {ChatFormat::Zephyr, "zephyr"},
    {ChatFormat::Phi3, "phi3"},
    {ChatFormat::Gemma, "gemma"},
    {ChatFormat::DeepSeek, "deepseek"},
}};

} // namespace

const char* chat_format_name(ChatFormat f) {
    for (const auto& n : kFormats)
        if (n.format == f) return n.name;
    return "?";
}

std::optional<ChatFormat> chat_format_from_name(std::string_view name) {
    for (const auto& n : kFormats)
        if (name == n.name) return n.format;
    return std::nullopt;
}

std::string chat_format_names() {
    std::string s = "auto";
    for (const auto& n : kFormats) s += std::string(", ") + n.name;
    return s;
}

std::optional<ChatTemplate> recognise_chat_template(const TokenizerConfig& cfg) {
    const std::string_view t = cfg.chat_template;
    if (t.empty()) return std::nullopt;
    ChatTemplate c;
    c.bos = cfg.bos_token.value_or("");
    c.eos = cfg.eos_token.value_or("");
    const bool mentions_bos = contains(t, "bos_token");
    const bool mentions_eos = contains(t, "eos_token");
    if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>") &&
        contains(t, "<|eot_id|>")) {
        // Llama 3.1 and later add a dated system header and tool prompts: another layout.
        if (contains(t, "Cutting Knowledge Date") || contains(t, "tools")) return std::nullopt;
        c.format = ChatFormat::Llama3;
    } else if (contains(t, "<|im_start|>") && contains(t, "<|im_end|>")) {
        if (contains(t, "<think>")) {
            c.format = ChatFormat::Qwen3;
        } else if (auto sys = chatml_default_system(t)) {
            c.format = ChatFormat::Qwen2;
            c.default_system = *sys;
        } else {
            c.format = ChatFormat::ChatML;
        }
    } else if (contains(t, "<start_of_turn>") && contains(t, "<end_of_turn>")) {
        c.format = ChatFormat::Gemma;
    } else if (contains(t, "<｜User｜>") && contains(t, "<｜Assistant｜>")) {
        c.format = ChatFormat::DeepSeek;
        if (c.eos.empty()) c.eos = "<｜end▁of▁sentence｜>";
    } else if (contains(t, "<|user|>") && contains(t, "<|assistant|>") && contains(t, "<|end|>")) {
        c.format = ChatFormat::Phi3;
    } else if (contains(t, "<|user|>") && contains(t, "<|assistant|>") && mentions_eos) {
        c.format = ChatFormat::Zephyr;
    } else if (contains(t, "[INST]") && contains(t, "[/INST]")) {
        c.format = contains(t, "<<SYS>>") ? ChatFormat::Llama2 : ChatFormat::Mistral;
    } else {
        return std::nullopt;
    }
    // The layouts write bos_token / eos_token only where the family's templates do; a template
    // that never names them writes none.
    if (!mentions_bos && c.format != ChatFormat::Llama3 && c.format != ChatFormat::Gemma)
        c.bos.clear();
    if (!mentions_eos && (c.format == ChatFormat::Zephyr || c.format == ChatFormat::Phi3 ||
                          c.format == ChatFormat::Mistral || c.format == ChatFormat::Llama2))
        c.eos.clear();
    return c;
}

ChatTemplate chat_template_for(ChatFormat f, const TokenizerConfig& cfg) {
    ChatTemplate c;
    c.format = f;
    std::string bos, eos;
    switch (f) {
    case ChatFormat::Llama3:
        bos = "<|begin_of_text|>";
        eos = "<|eot_id|>";
        break;
    case ChatFormat::Llama2:
    case ChatFormat::Mistral:
    case ChatFormat::Zephyr:
        bos = "<s>";
        eos = "</s>";
        break;
    case ChatFormat::Phi3:
        eos = "<|endoftext|>";
        break;
    case ChatFormat::Gemma:
        bos = "<bos>";
        eos = "<eos>";
        break;
    case ChatFormat::DeepSeek:
        bos = "<｜begin▁of▁sentence｜>";
        eos = "<｜end▁of▁sentence｜>";
        break;
    case ChatFormat::Qwen2:
        c.default_system = "You are a helpful assistant.";
        break;
    default:
        break;
    }
    c.bos = cfg.bos_token.value_or(bos);
    c.eos = cfg.eos_token.value_or(eos);
    if (f == ChatFormat::Phi3 || f == ChatFormat::ChatML || f == ChatFormat::Qwen2 ||
        f == ChatFormat::Qwen3)
        c.bos.clear(); // their templates write no BOS
    return c;
}

RenderedChat render_chat(const ChatTemplate& t, const std::vector<ChatMessage>& msgs,
                         std::string* error) {
    Builder b;
    const bool first_system = !msgs.empty() && msgs[0].role == "system";
    const std::size_t first_turn = first_system ? 1 : 0;
    // Families whose templates hold one system message, at the start, folded into the first turn.
    auto system_only_first = [&]() {
        for (std::size_t i = 1; i < msgs.size(); ++i)
            if (msgs[i].role == "system") {
                *error = "messages[" + std::to_string(i) + "]: the " + chat_format_name(t.format) +
                         " chat format has a system message only at the start";
                return false;
            }
        return true;
    };
    switch (t.format) {
    case ChatFormat::Plain:
        *error = "the plain format is not a template";
        break;
    case ChatFormat::ChatML:
    case ChatFormat::Qwen2:
        if (t.format == ChatFormat::Qwen2 && !first_system)
            b.add("<|im_start|>system\n" + t.default_system + "<|im_end|>\n");
        for (const auto& m : msgs) {
            b.add("<|im_start|>" + m.role + "\n");
            if (m.role == "assistant") {
                b.answer(m.content, "", "<|im_end|>");
                b.add("\n");
            } else {
                b.add(m.content + "<|im_end|>\n");
            }
        }
        break;
    case ChatFormat::Qwen3: {
        // The index of the last user turn; answers after it show their (possibly empty)
        // reasoning in a <think> block, earlier ones lose it.
        std::size_t last_query = msgs.size() - 1;
        for (std::size_t i = msgs.size(); i-- > 0;)
            if (msgs[i].role == "user" && !(msgs[i].content.starts_with("<tool_response>") &&
                                            msgs[i].content.ends_with("</tool_response>"))) {
                last_query = i;
                break;
            }
        if (first_system) b.add("<|im_start|>system\n" + msgs[0].content + "<|im_end|>\n");
        for (std::size_t i = 0; i < msgs.size(); ++i) {
            const auto& m = msgs[i];
            if (m.role == "user" || (m.role == "system" && i != 0)) {
                b.add("<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n");
            } else if (m.role == "assistant") {
                std::string content = m.content, reasoning;
                const std::size_t close = m.content.rfind("</think>");
                if (close != std::string::npos) {
                    content = strip_chars(m.content.substr(close + 8), "\n", true, false);
                    std::string before = strip_chars(
                        m.content.substr(0, m.content.find("</think>")), "\n", false, true);
                    const std::size_t open = before.rfind("<think>");
                    if (open != std::string::npos) before = before.substr(open + 7);
                    reasoning = strip_chars(before, "\n", true, false);
                }
                b.add("<|im_start|>assistant\n");
                std::string body;
                if (i > last_query && (i + 1 == msgs.size() || !reasoning.empty()))
                    body = "<think>\n" + strip_chars(reasoning, "\n", true, true) +
                           "\n</think>\n\n" + strip_chars(content, "\n", true, false);
                else
                    body = content;
                b.answer(body, "", "<|im_end|>");
                b.add("\n");
            }
        }
        break;
    }
    case ChatFormat::Llama3:
        for (std::size_t i = 0; i < msgs.size(); ++i) {
            const auto& m = msgs[i];
            if (i == 0) b.add(t.bos);
            b.add("<|start_header_id|>" + m.role + "<|end_header_id|>\n\n");
            if (m.role == "assistant")
                b.answer(py_strip(m.content), "", "<|eot_id|>");
            else
                b.add(py_strip(m.content) + "<|eot_id|>");
        }
        break;
    case ChatFormat::Llama2:
        if (!system_only_first()) break;
        for (std::size_t i = first_turn; i < msgs.size(); ++i) {
            const auto& m = msgs[i];
            std::string content = m.content;
            if (i == first_turn && first_system)
                content = "<<SYS>>\n" + msgs[0].content + "\n<</SYS>>\n\n" + content;
            if (m.role == "user")
                b.add(t.bos + "[INST] " + py_strip(content) + " [/INST]");
            else
                b.answer(" " + py_strip(content), " ", t.eos);
        }
        break;
    case ChatFormat::Mistral:
        if (!system_only_first()) break;
        b.add(t.bos);
        for (std::size_t i = first_turn; i < msgs.size(); ++i) {
            const auto& m = msgs[i];
            std::string content = m.content;
            if (i == first_turn && first_system) content = msgs[0].content + "\n\n" + content;
            if (m.role == "user")
                b.add("[INST] " + content + " [/INST]");
            else
                b.answer(content, "", t.eos);
        }
        break;
    case ChatFormat::Zephyr:
        for (const auto& m : msgs) {
            b.add("<|" + m.role + "|>\n");
            if (m.role == "assistant")
                b.answer(m.content, "", t.eos);
            else
                b.add(m.content + t.eos);
            b.add("\n");
        }
        break;
    case ChatFormat::Phi3:
        for (const auto& m : msgs) {
            b.add("<|" + m.role + "|>\n");
            if (m.role == "assistant")
                b.answer(m.content, "", "<|end|>");
            else
                b.add(m.content + "<|end|>");
            b.add("\n");
        }
        b.add(t.eos);
        break;
    case ChatFormat::Gemma:
        if (!system_only_first()) break;
        b.add(t.bos);
        for (std::size_t i = first_turn; i < msgs.size(); ++i) {
            const auto& m = msgs[i];
            const std::string prefix =
                i == first_turn && first_system ? msgs[0].content + "\n\n" : std::string();
            const std::string content = prefix + py_strip(m.content);
            if (m.role == "assistant") {
                b.add("<start_of_turn>model\n");
                b.answer(content, "", "<end_of_turn>");
                b.add("\n");
            } else {
                b.add("<start_of_turn>" + m.role + "\n" + content + "<end_of_turn>\n");
            }
        }
        break;
    case ChatFormat::DeepSeek: {
        std::string system;
        bool first = true;
        for (const auto& m : msgs)
            if (m.role == "system") {
                system += (first ? "" : "\n\n") + m.content;
                first = false;
            }
        b.add(t.bos + system);
        for (const auto& m : msgs) {
            if (m.role == "user") {
                b.add("<｜User｜>" + m.content);
            } else if (m.role == "assistant") {
                b.add("<｜Assistant｜>");
                b.answer(m.content, "", t.eos);
            }
        }
        break;
    }
    }
    return std::move(b.out);
}

} // namespace bcd
