#include "bcd/run_config.h"

#include "bcd/chat_template.h"
#include "bcd/errors.h"
#include "core/json_reader.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace bcd {

namespace {

constexpr long kMaxSteps = 1L << 40;

fs::path resolve(const fs::path& base, const std::string& p) {
    fs::path path(p);
    if (path.is_relative()) path = base / path;
    return path.lexically_normal();
}

// Why `p` cannot be used, or "" when it exists. Never throws: a path a user wrote may be too
// long or cross an unreadable folder, and that is an answer for the error message, not a crash.
std::string missing_reason(const fs::path& p) {
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (fs::exists(st)) return "";
    if (!ec || ec == std::errc::no_such_file_or_directory) return "not found";
    return ec.message();
}

void require_file(const JsonObject& o, std::string_view key, const fs::path& p, bool dir) {
    std::error_code ec;
    const bool ok = dir ? fs::is_directory(p, ec) : fs::is_regular_file(p, ec);
    if (!ok) {
        const std::string why = missing_reason(p);
        o.fail(key, std::string("expected an existing ") + (dir ? "folder" : "file") + ", got '" +
                        p.string() + "' (" + (why.empty() ? "wrong kind" : why) + ")");
    }
}

void require_exists(const JsonObject& o, std::string_view key, const fs::path& p) {
    if (const std::string why = missing_reason(p); !why.empty())
        o.fail(key, "expected an existing file or folder, got '" + p.string() + "' (" + why + ")");
}

} // namespace

RunConfig RunConfig::load(const fs::path& path) {
    return from_json(read_json_file(path), path);
}

RunConfig RunConfig::from_json(const nlohmann::json& j, const fs::path& source, FileChecks files) {
    const bool check = files == FileChecks::Required;
    auto require_file = [check](const JsonObject& o, std::string_view key, const fs::path& p,
                                bool dir) {
        if (check) bcd::require_file(o, key, p, dir);
    };
    auto require_exists = [check](const JsonObject& o, std::string_view key, const fs::path& p) {
        if (check) bcd::require_exists(o, key, p);
    };
    RunConfig c;
    c.source = source;
    const std::string file = source.string();
    const fs::path base =
        source.has_parent_path() ? fs::absolute(source).parent_path() : fs::current_path();
    const JsonObject top(j, file, "");
    top.reject_unknown({"model", "data", "optim", "train", "bcd", "device", "output"});

    // model
    {
        const JsonObject o = top.object("model");
        o.reject_unknown({"path"});
        c.model.path = resolve(base, o.string("path"));
        require_file(o, "path", c.model.path, true);
        require_file(o, "path", c.model.path / "config.json", false);
    }
    // data
    {
        const JsonObject o = top.object("data");
        o.reject_unknown(
            {"train", "val", "format", "tokenizer", "seq_len", "skip_malformed", "chat_format"});
        c.data.train = resolve(base, o.string("train"));
        require_exists(o, "train", c.data.train);
        if (o.has("val")) {
            c.data.val = resolve(base, o.string("val"));
            require_exists(o, "val", c.data.val);
        }
        c.data.format = o.choice("format", "text", {"text", "jsonl", "sft", "tokens"});
        // The model folder's tokenizer.json, else its SentencePiece tokenizer.model, else bytes.
        const fs::path model_tok = c.model.path / "tokenizer.json";
        const fs::path model_sp = c.model.path / "tokenizer.model";
        std::string tok =
            o.string("tokenizer", missing_reason(model_tok).empty()  ? model_tok.string()
                                  : missing_reason(model_sp).empty() ? model_sp.string()
                                                                     : "byte");
        if (tok != "byte") {
            tok = resolve(base, tok).string();
            require_file(o, "tokenizer", tok, false);
        }
        c.data.tokenizer = tok;
        c.data.seq_len = static_cast<int>(o.integer("seq_len", 256, 1, 1 << 20));
        c.data.skip_malformed = o.boolean("skip_malformed", false);
        c.data.chat_format = o.string("chat_format", "auto");
        if (c.data.chat_format != "auto" && !chat_format_from_name(c.data.chat_format))
            throw InputError(o.file(), o.key_path("chat_format"),
                             "expected one of " + chat_format_names() + ", got \"" +
                                 c.data.chat_format + "\"");
    }
    // optim
    if (auto o = top.optional_object("optim")) {
        o->reject_unknown({"name", "lr", "betas", "eps", "weight_decay", "momentum", "schedule",
                           "warmup_steps", "min_lr", "grad_clip"});
        c.optim.name = o->choice("name", "adamw", {"adamw", "sgd"});
        c.optim.lr = o->number("lr", 3e-4, 0.0, 1e3);
        if (o->has("betas")) {
            const auto& b = o->raw("betas");
            if (!b.is_array() || b.size() != 2 || !b[0].is_number() || !b[1].is_number() ||
                !(b[0].get<double>() >= 0 && b[0].get<double>() < 1) ||
                !(b[1].get<double>() >= 0 && b[1].get<double>() < 1))
                o->fail("betas", "expected two numbers in [0, 1), got " + json_brief(b));
            c.optim.beta1 = b[0].get<double>();
            c.optim.beta2 = b[1].get<double>();
        }
        c.optim.eps = o->number("eps", 1e-8, 0.0, 1.0);
        c.optim.weight_decay = o->number("weight_decay", 0.0, 0.0, 1e3);
        c.optim.momentum = o->number("momentum", 0.0, 0.0, 0.999999);
        c.optim.schedule = o->choice("schedule", "constant", {"constant", "cosine", "linear"});
        c.optim.warmup_steps = o->integer("warmup_steps", 0, 0, kMaxSteps);
        c.optim.min_lr = o->number("min_lr", 0.0, 0.0, 1e3);
        c.optim.grad_clip = o->number("grad_clip", 1.0, 0.0, 1e9);
        if (c.optim.min_lr > c.optim.lr) o->fail("min_lr", "expected a value no larger than lr");
    }
    // train
    if (auto o = top.optional_object("train")) {
        o->reject_unknown({"steps", "batch_size", "grad_accum", "seed", "precision", "recompute"});
        c.train.steps = o->integer("steps", 1000, 1, kMaxSteps);
        c.train.batch_size = static_cast<int>(o->integer("batch_size", 8, 1, 1 << 20));
        c.train.grad_accum = static_cast<int>(o->integer("grad_accum", 1, 1, 1 << 20));
        c.train.seed = static_cast<std::uint64_t>(o->integer("seed", 1, 0, INT64_MAX));
        c.train.precision = o->choice("precision", "fp32", {"fp32", "bf16"});
        c.train.recompute = o->boolean("recompute", false);
    }
    // bcd
    c.bcd.defaulted = {"order", "active_blocks", "switch_warmup_steps"};
    if (auto o = top.optional_object("bcd")) {
        o->reject_unknown({"mode", "layers_per_block", "embed_block", "head_block", "blocks",
                           "order", "fixed_order", "switch_every", "start_block",
                           "reset_state_on_switch", "offload_states", "active_blocks",
                           "switch_warmup_steps"});
        c.bcd.mode = o->choice("mode", "bcd", {"bcd", "full"});
        c.bcd.layers_per_block = static_cast<int>(o->integer("layers_per_block", 1, 1, 1 << 16));
        c.bcd.embed_block = o->boolean("embed_block", true);
        c.bcd.head_block = o->boolean("head_block", true);
        if (o->has("blocks")) {
            const auto& b = o->raw("blocks");
            const std::string expect =
                "expected a list of blocks, each a list of tensor-name prefixes";
            if (!b.is_array() || b.empty()) o->fail("blocks", expect + ", got " + json_brief(b));
            std::vector<std::vector<std::string>> blocks;
            for (std::size_t i = 0; i < b.size(); ++i) {
                const std::string key = "blocks[" + std::to_string(i) + "]";
                if (!b[i].is_array() || b[i].empty())
                    o->fail(key, expect + ", got " + json_brief(b[i]));
                std::vector<std::string> prefixes;
                for (const auto& p : b[i]) {
                    if (!p.is_string() || p.get<std::string>().empty())
                        o->fail(key,
                                "expected non-empty tensor-name prefixes, got " + json_brief(p));
                    prefixes.push_back(p.get<std::string>());
                }
                blocks.push_back(std::move(prefixes));
            }
            c.bcd.blocks = std::move(blocks);
        }
        for (const char* k : {"order", "active_blocks", "switch_warmup_steps"})
            if (o->has(k)) c.bcd.defaulted.erase(k);
        c.bcd.order =
            o->choice("order", c.bcd.order,
                      {"ascending", "descending", "random", "fixed", "lisa", "importance"});
        if (o->has("fixed_order")) {
            const auto& f = o->raw("fixed_order");
            if (!f.is_array() || f.empty())
                o->fail("fixed_order",
                        "expected a non-empty list of block ids, got " + json_brief(f));
            for (const auto& x : f) {
                if (!x.is_number_integer() || x.get<long>() < 0)
                    o->fail("fixed_order",
                            "expected block ids (integers >= 0), got " + json_brief(x));
                c.bcd.fixed_order.push_back(x.get<int>());
            }
        }
        if (c.bcd.order == "fixed" && c.bcd.fixed_order.empty())
            o->fail("fixed_order", "is required when order is \"fixed\"");
        c.bcd.switch_every = o->integer("switch_every", 50, 1, kMaxSteps);
        if (o->has("start_block"))
            c.bcd.start_block = static_cast<int>(o->integer("start_block", 0, 1 << 20));
        c.bcd.reset_state_on_switch = o->boolean("reset_state_on_switch", true);
        c.bcd.offload_states = o->boolean("offload_states", false);
        c.bcd.active_blocks =
            static_cast<int>(o->integer("active_blocks", c.bcd.active_blocks, 1, 1 << 16));
        c.bcd.switch_warmup_steps =
            o->integer("switch_warmup_steps", c.bcd.switch_warmup_steps, 0, kMaxSteps);
        if ((c.bcd.order == "lisa" || c.bcd.order == "importance") && c.bcd.start_block)
            o->fail("start_block", "has no meaning for order \"" + c.bcd.order +
                                       "\" (expected it absent or null)");
        if (c.bcd.order == "lisa" && c.bcd.blocks)
            o->fail("order", "\"lisa\" needs the default partition (embed, layers, head); "
                             "expected bcd.blocks absent or null");
    }
    // device
    if (auto o = top.optional_object("device")) {
        o->reject_unknown({"kind", "threads"});
        c.device.kind = o->has("kind") ? o->string("kind") : "auto";
        {
            const std::string& k = c.device.kind;
            const std::string n = k.starts_with("cuda:") ? k.substr(5) : "";
            const bool index_ok =
                !n.empty() && n.size() <= 4 &&
                std::all_of(n.begin(), n.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
            if (k != "auto" && k != "cpu" && k != "cuda" && !index_ok)
                throw InputError(o->file(), o->key_path("kind"),
                                 "expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\" (N a GPU "
                                 "index), got " +
                                     json_brief(o->raw("kind")));
        }
        c.device.threads = static_cast<int>(o->integer("threads", 0, 0, 4096));
    }
    // output
    {
        const JsonObject o = top.object("output");
        o.reject_unknown({"dir", "log_every", "eval_every", "eval_batches", "checkpoint_every",
                          "keep_checkpoints"});
        c.output.dir = resolve(base, o.string("dir"));
        c.output.log_every = o.integer("log_every", 1, 1, kMaxSteps);
        c.output.eval_every = o.integer("eval_every", 0, 0, kMaxSteps);
        c.output.eval_batches = o.integer("eval_batches", 0, 0, kMaxSteps);
        c.output.checkpoint_every = o.integer("checkpoint_every", 0, 0, kMaxSteps);
        c.output.keep_checkpoints = static_cast<int>(o.integer("keep_checkpoints", 2, 1, 1 << 20));
    }
    return c;
}

nlohmann::json RunConfig::to_json() const {
    nlohmann::json j;
    j["model"] = {{"path", model.path.string()}};
    j["data"] = {{"train", data.train.string()},
                 {"val", data.val.empty() ? nlohmann::json() : nlohmann::json(data.val.string())},
                 {"format", data.format},
                 {"tokenizer", data.tokenizer},
                 {"seq_len", data.seq_len},
                 {"skip_malformed", data.skip_malformed},
                 {"chat_format", data.chat_format}};
    j["optim"] = {{"name", optim.name},
                  {"lr", optim.lr},
                  {"betas", {optim.beta1, optim.beta2}},
                  {"eps", optim.eps},
                  {"weight_decay", optim.weight_decay},
                  {"momentum", optim.momentum},
                  {"schedule", optim.schedule},
                  {"warmup_steps", optim.warmup_steps},
                  {"min_lr", optim.min_lr},
                  {"grad_clip", optim.grad_clip}};
    j["train"] = {{"steps", train.steps},           {"batch_size", train.batch_size},
                  {"grad_accum", train.grad_accum}, {"seed", train.seed},
                  {"precision", train.precision},   {"recompute", train.recompute}};
    j["bcd"] = {
        {"mode", bcd.mode},
        {"layers_per_block", bcd.layers_per_block},
        {"embed_block", bcd.embed_block},
        {"head_block", bcd.head_block},
        {"blocks", bcd.blocks ? nlohmann::json(*bcd.blocks) : nlohmann::json()},
        {"order", bcd.order},
        {"fixed_order",
         bcd.fixed_order.empty() ? nlohmann::json() : nlohmann::json(bcd.fixed_order)},
        {"switch_every", bcd.switch_every},
        {"start_block", bcd.start_block ? nlohmann::json(*bcd.start_block) : nlohmann::json()},
        {"reset_state_on_switch", bcd.reset_state_on_switch},
        {"offload_states", bcd.offload_states},
        {"active_blocks", bcd.active_blocks},
        {"switch_warmup_steps", bcd.switch_warmup_steps}};
    j["device"] = {{"kind", device.kind}, {"threads", device.threads}};
    j["output"] = {{"dir", output.dir.string()},
                   {"log_every", output.log_every},
                   {"eval_every", output.eval_every},
                   {"eval_batches", output.eval_batches},
                   {"checkpoint_every", output.checkpoint_every},
                   {"keep_checkpoints", output.keep_checkpoints}};
    return j;
}

} // namespace bcd
