// The training loop (DESIGN.md §3, docs/training.md). One block is active at a time: only it has
// gradients and optimizer state, sized to it and made at the switch; the transformer truncates
// its backward to it. `mode: full` is the same loop with one block holding every tensor.

#include "bcd/trainer.h"

#include "bcd/atomic_file.h"
#include "bcd/block_schedule.h"
#include "bcd/blocks.h"
#include "bcd/data.h"
#include "bcd/dataset.h"
#include "bcd/errors.h"
#include "bcd/model.h"
#include "bcd/optimizer.h"
#include "bcd/state_file.h"
#include "bcd/transformer.h"
#include "bcd/version.h"
#include "train/run_directory.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using ojson = nlohmann::ordered_json; // records keep the documented key order

namespace bcd {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

double unix_time() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Resident set size now and at its peak, from /proc/self/status (0 where unavailable).
std::pair<std::size_t, std::size_t> rss_bytes() {
    std::ifstream in("/proc/self/status");
    std::size_t rss = 0, hwm = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("VmRSS:")) rss = std::stoul(line.substr(6)) * 1024;
        if (line.starts_with("VmHWM:")) hwm = std::stoul(line.substr(6)) * 1024;
    }
    return {rss, hwm};
}

nlohmann::ordered_json mem_json(const MemoryStats& m) {
    return {{"weights", m.weights},
            {"gradients", m.gradients},
            {"optimizer", m.optimizer},
            {"activations", m.activations},
            {"workspace", m.workspace}};
}

std::string ckpt_name(long step) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "step-%08ld", step);
    return buf;
}

// Complete checkpoints (with DONE), oldest first.
std::vector<std::pair<long, fs::path>> complete_checkpoints(const fs::path& run_dir) {
    std::vector<std::pair<long, fs::path>> out;
    std::error_code ec;
    const fs::path dir = run_dir / "checkpoints";
    if (!fs::is_directory(dir, ec)) return out;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (!name.starts_with("step-") || name.size() != 13 || !fs::exists(e.path() / "DONE"))
            continue;
        try {
            out.emplace_back(std::stol(name.substr(5)), e.path());
        } catch (const std::exception&) {
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The keys of a resumed run's config that must equal the original's for the resumed run to be
// the same run. Output settings, threads and the number of steps may change.
const char* const kResumeFixedKeys[] = {"data", "optim", "bcd"};
const char* const kResumeFixedTrainKeys[] = {"batch_size", "grad_accum", "seed", "precision"};

struct BlockOptState {
    FloatBuffer m, v;
    long t = 0; // optimizer steps taken by this block's state
};

class Trainer {
public:
    Trainer(const RunConfig& cfg, const TrainOptions& opts) : cfg_(cfg), opts_(opts) {}
    int run();

private:
    void validate_and_load();
    std::vector<std::size_t> packed_offsets(int block, std::size_t* total) const;
    void activate(int block);
    std::vector<TensorSlot> slots();
    double train_step(long s, double* grad_norm_out);
    double evaluate();
    void write_checkpoint(long s);
    bool restore();
    void restore_from(const fs::path& dir);
    MemoryStats memory() const;
    void copy_tokenizer_files(const fs::path& dst) const;
    ojson step_record(long s, double loss, double lr, double gnorm, double step_s,
                      std::uint64_t step_tokens);
    std::string file() const { return cfg_.source.string(); }

    const RunConfig& cfg_;
    TrainOptions opts_;
    std::optional<Model> model_;
    std::unique_ptr<Transformer> tf_;
    TextEncoder enc_ = TextEncoder::byte_level();
    std::optional<TokenDataset> train_data_, val_data_;
    std::vector<std::string> data_log_; // what was loaded, logged once the run folder exists
    std::vector<Block> blocks_;
    std::optional<BlockSchedule> schedule_;
    std::optional<WindowStream> stream_;
    OptimizerSettings opt_;
    LrSchedule lr_;

    int active_ = -1;
    std::vector<std::size_t> offsets_; // per tensor of the active block, into grads_/state
    FloatBuffer grads_;
    std::map<int, BlockOptState> states_;
    long step_ = 0;
    std::uint64_t tokens_ = 0;
    double elapsed_before_ = 0.0;
    long last_ckpt_ = -1;
    fs::path resumed_from_;
    std::unique_ptr<RunDirectory> dir_;
};

void Trainer::validate_and_load() {
    if (cfg_.device.kind == "cuda")
        throw InputError(file(), "device.kind",
                         "\"cuda\" needs the CUDA backend, which this engine build does not have "
                         "(expected \"cpu\" or \"auto\")");
    if (cfg_.train.precision != "fp32")
        throw InputError(
            file(), "train.precision",
            "\"bf16\" needs the CUDA backend; the CPU backend trains in fp32 (expected \"fp32\")");
    set_cpu_threads(cfg_.device.threads);

    const ModelConfig mc = load_model_config(cfg_.model.path);
    if (mc.vocab_size < 256)
        throw InputError((cfg_.model.path / "config.json").string(), "vocab_size",
                         "expected at least 256 for byte-level data, got " +
                             std::to_string(mc.vocab_size));
    if (cfg_.data.seq_len > mc.max_position_embeddings)
        throw InputError(file(), "data.seq_len",
                         "expected at most the model's max_position_embeddings (" +
                             std::to_string(mc.max_position_embeddings) + "), got " +
                             std::to_string(cfg_.data.seq_len));
    if (mc.sliding_window > 0 && cfg_.data.seq_len > mc.sliding_window)
        throw InputError(file(), "data.seq_len",
                         "expected at most the model's sliding_window (" +
                             std::to_string(mc.sliding_window) +
                             "); sliding-window attention is not supported");

    // Data: tokenised (or mapped, for shards) before anything is written.
    const bool pretokenized = cfg_.data.format == "tokens";
    enc_ = pretokenized ? TextEncoder::byte_level() : TextEncoder::from_spec(cfg_.data.tokenizer);
    if (!pretokenized && enc_.byte_level_encoding() && mc.vocab_size < 256)
        throw InputError((cfg_.model.path / "config.json").string(), "vocab_size",
                         "expected at least 256 for byte-level data, got " +
                             std::to_string(mc.vocab_size));
    if (!pretokenized && enc_.vocab_size() > mc.vocab_size)
        throw InputError(file(), "data.tokenizer",
                         "the tokenizer has " + std::to_string(enc_.vocab_size()) +
                             " ids, more than the model's vocab_size (" +
                             std::to_string(mc.vocab_size) + ")");
    DataOptions dopt;
    dopt.format = cfg_.data.format;
    dopt.eos_id = mc.eos_token_id >= 0 && mc.eos_token_id < mc.vocab_size ? mc.eos_token_id : -1;
    dopt.skip_malformed = cfg_.data.skip_malformed;
    dopt.vocab_limit = mc.vocab_size;
    train_data_.emplace(TokenDataset::load(cfg_.data.train, enc_, dopt));
    const std::size_t windows = train_data_->num_windows(cfg_.data.seq_len);
    if (windows == 0)
        throw InputError(
            cfg_.data.train.string(), "",
            "too short for one training window: " + std::to_string(train_data_->size()) +
                " tokens, expected at least data.seq_len + 1 = " +
                std::to_string(cfg_.data.seq_len + 1));
    data_log_.push_back("train data: " + train_data_->describe());
    if (!cfg_.data.val.empty()) {
        val_data_.emplace(TokenDataset::load(cfg_.data.val, enc_, dopt));
        if (val_data_->num_windows(cfg_.data.seq_len) == 0)
            throw InputError(cfg_.data.val.string(), "",
                             "too short for one validation window of data.seq_len + 1 = " +
                                 std::to_string(cfg_.data.seq_len + 1) + " tokens");
        data_log_.push_back("validation data: " + val_data_->describe());
    }
    data_log_.push_back(
        "tokenizer: " + (pretokenized ? std::string("pre-tokenized shards") : enc_.describe()) +
        (dopt.eos_id >= 0 ? ", EOS " + std::to_string(dopt.eos_id) : ", no EOS"));
    if (cfg_.data.format == "sft") {
        std::string why;
        const ChatFormat f = resolve_chat_format(enc_, &why);
        data_log_.push_back(std::string("chat format: ") + chat_format_name(f) + " (" + why + ")");
    }

    // Blocks. They need the layout only, so a bad partition is reported before loading weights.
    const ParamLayout layout(mc);
    if (cfg_.bcd.mode == "full") {
        std::vector<std::vector<std::string>> all{{"model.", "lm_head."}};
        if (layout.lm_head() < 0) all[0].pop_back();
        blocks_ = prefix_blocks(layout, all, file(), "bcd.mode");
        blocks_[0].name = "all";
    } else if (cfg_.bcd.blocks) {
        blocks_ = prefix_blocks(layout, *cfg_.bcd.blocks, file(), "bcd.blocks");
    } else {
        blocks_ = default_blocks(layout, cfg_.bcd.layers_per_block, cfg_.bcd.embed_block,
                                 cfg_.bcd.head_block);
    }
    if (blocks_.empty())
        throw InputError(file(), "bcd",
                         "the partition has no block (expected at least one trainable block)");
    const int D = static_cast<int>(blocks_.size());
    const bool full = cfg_.bcd.mode == "full";
    std::string order = full ? "ascending" : cfg_.bcd.order;
    std::vector<int> fixed = full ? std::vector<int>{} : cfg_.bcd.fixed_order;
    for (int b : fixed)
        if (b >= D)
            throw InputError(file(), "bcd.fixed_order",
                             "block id " + std::to_string(b) +
                                 " does not exist (the partition has " + std::to_string(D) +
                                 " blocks, ids 0.." + std::to_string(D - 1) + ")");
    int start = -1;
    if (!full && cfg_.bcd.start_block) {
        start = *cfg_.bcd.start_block;
        if (start >= D)
            throw InputError(file(), "bcd.start_block",
                             "expected a block id below " + std::to_string(D) + ", got " +
                                 std::to_string(start));
        if (order == "fixed" && std::find(fixed.begin(), fixed.end(), start) == fixed.end())
            throw InputError(file(), "bcd.start_block",
                             "expected a block that appears in fixed_order");
    }
    schedule_.emplace(D, order, fixed, cfg_.bcd.switch_every, start, cfg_.train.seed);
    stream_.emplace(windows, cfg_.train.seed);

    opt_.name = cfg_.optim.name;
    opt_.beta1 = cfg_.optim.beta1;
    opt_.beta2 = cfg_.optim.beta2;
    opt_.eps = cfg_.optim.eps;
    opt_.weight_decay = cfg_.optim.weight_decay;
    opt_.momentum = cfg_.optim.momentum;
    lr_.kind = cfg_.optim.schedule;
    lr_.lr = cfg_.optim.lr;
    lr_.min_lr = cfg_.optim.min_lr;
    lr_.warmup_steps = cfg_.optim.warmup_steps;
    lr_.total_steps = cfg_.train.steps;
}

std::vector<std::size_t> Trainer::packed_offsets(int block, std::size_t* total) const {
    std::vector<std::size_t> off;
    std::size_t n = 0;
    for (int t : blocks_[static_cast<std::size_t>(block)].tensors) {
        off.push_back(n);
        n += (model_->layout().params()[static_cast<std::size_t>(t)].numel + 15) / 16 * 16;
    }
    *total = n;
    return off;
}

// Makes `block` the active one: its gradient buffer and optimizer state are created here (the
// previous block's gradient buffer is released first; its state too under reset_state_on_switch).
void Trainer::activate(int block) {
    if (block == active_) return;
    grads_.release();
    if (cfg_.bcd.reset_state_on_switch) states_.clear();
    std::size_t total = 0;
    offsets_ = packed_offsets(block, &total);
    grads_.resize(total);
    auto& st = states_[block];
    const int per_param = state_floats_per_param(opt_);
    if (per_param >= 1 && st.m.empty()) st.m.resize(total);
    if (per_param >= 2 && st.v.empty()) st.v.resize(total);
    std::vector<float*> targets(model_->layout().params().size(), nullptr);
    const auto& ts = blocks_[static_cast<std::size_t>(block)].tensors;
    for (std::size_t i = 0; i < ts.size(); ++i)
        targets[static_cast<std::size_t>(ts[i])] = grads_.data() + offsets_[i];
    tf_->set_grad_targets(std::move(targets));
    active_ = block;
}

std::vector<TensorSlot> Trainer::slots() {
    auto& st = states_[active_];
    std::vector<TensorSlot> out;
    const auto& ts = blocks_[static_cast<std::size_t>(active_)].tensors;
    for (std::size_t i = 0; i < ts.size(); ++i) {
        const auto& p = model_->layout().params()[static_cast<std::size_t>(ts[i])];
        TensorSlot s;
        s.param = model_->params() + p.offset;
        s.grad = grads_.data() + offsets_[i];
        s.m = st.m.empty() ? nullptr : st.m.data() + offsets_[i];
        s.v = st.v.empty() ? nullptr : st.v.data() + offsets_[i];
        s.n = p.numel;
        s.decay = p.decays();
        out.push_back(s);
    }
    return out;
}

double Trainer::train_step(long s, double* grad_norm_out) {
    activate(schedule_->block_at(s));
    grads_.zero();
    const int B = cfg_.train.batch_size, T = cfg_.data.seq_len, A = cfg_.train.grad_accum;
    const std::size_t micro = static_cast<std::size_t>(B) * T;
    std::vector<std::int32_t> in(micro * A), tg(micro * A);
    for (int i = 0; i < A * B; ++i)
        train_data_->copy_window(stream_->next(), T, in.data() + static_cast<std::size_t>(i) * T,
                                 tg.data() + static_cast<std::size_t>(i) * T);
    const long count = std::count_if(tg.begin(), tg.end(), [](std::int32_t t) { return t >= 0; });
    double loss_sum = 0.0;
    for (int a = 0; a < A; ++a) {
        const auto r = tf_->forward(in.data() + a * micro, tg.data() + a * micro, B, T);
        loss_sum += r.sum;
        tf_->backward(1.0f / static_cast<float>(std::max(1L, count)));
    }
    const auto sl = slots();
    const double norm = grad_norm(sl);
    if (cfg_.optim.grad_clip > 0.0) clip_gradients(sl, norm, cfg_.optim.grad_clip);
    auto& st = states_[active_];
    st.t += 1;
    optimizer_step(opt_, sl, lr_.at(s), st.t);
    tokens_ += static_cast<std::uint64_t>(A) * micro;
    *grad_norm_out = norm;
    return loss_sum / static_cast<double>(std::max(1L, count));
}

double Trainer::evaluate() {
    // A separate instance without gradients: it keeps no activations, and is gone afterwards.
    auto tf = make_cpu_transformer(*model_);
    tf->set_grad_targets(std::vector<float*>(model_->layout().params().size(), nullptr));
    const int T = cfg_.data.seq_len, B = cfg_.train.batch_size;
    const std::size_t windows = val_data_->num_windows(T);
    std::vector<std::int32_t> in(static_cast<std::size_t>(B) * T), tg(in.size());
    double sum = 0.0;
    long count = 0;
    for (std::size_t w0 = 0; w0 < windows; w0 += static_cast<std::size_t>(B)) {
        const int b = static_cast<int>(std::min<std::size_t>(B, windows - w0));
        for (int i = 0; i < b; ++i)
            val_data_->copy_window(w0 + static_cast<std::size_t>(i), T,
                                   in.data() + static_cast<std::size_t>(i) * T,
                                   tg.data() + static_cast<std::size_t>(i) * T);
        const auto r = tf->forward(in.data(), tg.data(), b, T);
        sum += r.sum;
        count += r.count;
    }
    return sum / static_cast<double>(std::max(1L, count));
}

// A checkpoint or final model is a complete HF folder: it takes the tokenizer files of the model
// it was trained from (or the tokenizer the run used).
void Trainer::copy_tokenizer_files(const fs::path& dst) const {
    std::error_code ec;
    for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                             "generation_config.json"}) {
        fs::path src = cfg_.model.path / name;
        if (std::string(name) == "tokenizer.json" && cfg_.data.tokenizer != "byte")
            src = cfg_.data.tokenizer;
        if (fs::exists(src))
            fs::copy_file(src, dst / name, fs::copy_options::overwrite_existing, ec);
        if (ec)
            throw InternalError("cannot copy " + src.string() + " to " + dst.string() + ": " +
                                ec.message());
    }
}

MemoryStats Trainer::memory() const {
    MemoryStats m = tf_->memory();
    m.gradients = grads_.bytes();
    m.optimizer = 0;
    for (const auto& [id, st] : states_) m.optimizer += st.m.bytes() + st.v.bytes();
    return m;
}

void Trainer::write_checkpoint(long s) {
    const fs::path root = dir_->path() / "checkpoints";
    const fs::path dir = root / ckpt_name(s);
    std::error_code ec;
    fs::remove_all(dir, ec); // an incomplete attempt at the same step
    fs::create_directories(dir, ec);
    if (ec) throw InternalError("cannot create " + dir.string() + ": " + ec.message());
    model_->save(dir, DType::F32);
    copy_tokenizer_files(dir);

    json header{{"format", "bcd-train state"},
                {"engine", BCD_VERSION},
                {"step", s},
                {"tokens", tokens_},
                {"elapsed_s", elapsed_before_},
                {"data", {{"epoch", stream_->epoch()}, {"index", stream_->index()}}},
                {"active_block", active_},
                {"schedule", {{"place", schedule_->place_at(s)}}},
                {"threads", cpu_threads()},
                {"config", cfg_.to_json()}};
    json blocks = json::array();
    std::vector<StateArray> arrays;
    for (const auto& [id, st] : states_) {
        json b{{"id", id}, {"t", st.t}};
        if (!st.m.empty()) {
            b["m"] = "block" + std::to_string(id) + ".m";
            arrays.push_back({b["m"], st.m.span()});
        }
        if (!st.v.empty()) {
            b["v"] = "block" + std::to_string(id) + ".v";
            arrays.push_back({b["v"], st.v.span()});
        }
        blocks.push_back(b);
    }
    header["blocks"] = blocks;
    write_state_file(dir / "state.bin", header, arrays);
    write_file_atomic(dir / "DONE", std::to_string(s) + "\n", true);
    last_ckpt_ = s;

    // Keep the newest keep_checkpoints complete ones; drop incomplete leftovers of crashes.
    auto done = complete_checkpoints(dir_->path());
    while (static_cast<int>(done.size()) > cfg_.output.keep_checkpoints) {
        fs::remove_all(done.front().second, ec);
        done.erase(done.begin());
    }
    for (const auto& e : fs::directory_iterator(root, ec))
        if (!fs::exists(e.path() / "DONE")) fs::remove_all(e.path(), ec);
    dir_->metric({{"t", "ckpt"}, {"step", s}, {"path", "checkpoints/" + ckpt_name(s)}});
}

// Loads the newest complete checkpoint. Writes nothing: a checkpoint that cannot be used is an
// InputError that leaves the run folder exactly as it was.
bool Trainer::restore() {
    const auto done = complete_checkpoints(cfg_.output.dir);
    if (done.empty()) return false;
    const fs::path dir = done.back().second;
    const std::string sfile = (dir / "state.bin").string();
    try {
        restore_from(dir);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(sfile, "header", std::string("unexpected content (") + e.what() + ")");
    }
    resumed_from_ = dir;
    return true;
}

void Trainer::restore_from(const fs::path& dir) {
    auto st = read_state_file(dir / "state.bin");
    const json& h = st.header;
    const std::string sfile = (dir / "state.bin").string();
    // The resumed run must be the same run.
    const json now = cfg_.to_json();
    const json& then = h.at("config");
    for (const char* k : kResumeFixedKeys)
        if (now.at(k) != then.at(k)) {
            for (auto it = now.at(k).begin(); it != now.at(k).end(); ++it)
                if (!then.at(k).contains(it.key()) || then.at(k).at(it.key()) != it.value())
                    throw InputError(file(), std::string(k) + "." + it.key(),
                                     "differs from the run being resumed (it had " +
                                         then.at(k).value(it.key(), json()).dump() + ")");
        }
    for (const char* k : kResumeFixedTrainKeys)
        if (now.at("train").at(k) != then.at("train").at(k))
            throw InputError(file(), std::string("train.") + k,
                             "differs from the run being resumed (it had " +
                                 then.at("train").at(k).dump() + ")");

    model_.emplace(Model::load(dir));
    tf_ = make_cpu_transformer(*model_);
    tf_->set_recompute(cfg_.train.recompute);
    step_ = h.at("step").get<long>();
    tokens_ = h.at("tokens").get<std::uint64_t>();
    elapsed_before_ = h.at("elapsed_s").get<double>();
    stream_->seek(h.at("data").at("epoch").get<std::uint64_t>(),
                  h.at("data").at("index").get<std::uint64_t>());
    activate(h.at("active_block").get<int>());
    for (const auto& b : h.at("blocks")) {
        const int id = b.at("id").get<int>();
        if (id < 0 || id >= static_cast<int>(blocks_.size()))
            throw InputError(sfile, "blocks", "block id out of range for this partition");
        std::size_t total = 0;
        packed_offsets(id, &total);
        auto& dst = states_[id];
        dst.t = b.at("t").get<long>();
        for (const char* which : {"m", "v"}) {
            if (!b.contains(which)) continue;
            FloatBuffer* src = st.find(b.at(which).get<std::string>());
            if (!src || src->size() != total)
                throw InputError(sfile, std::string("blocks.") + which,
                                 "optimizer state does not match the block's size");
            FloatBuffer& d = std::string(which) == "m" ? dst.m : dst.v;
            d = std::move(*src);
        }
    }
    last_ckpt_ = step_;
}

ojson Trainer::step_record(long s, double loss, double lr, double gnorm, double step_s,
                           std::uint64_t step_tokens) {
    const auto [rss, hwm] = rss_bytes();
    return {{"t", "step"},
            {"step", s},
            {"tokens", tokens_},
            {"loss", loss},
            {"lr", lr},
            {"block", active_},
            {"grad_norm", gnorm},
            {"step_s", step_s},
            {"tok_s", static_cast<double>(step_tokens) / std::max(step_s, 1e-9)},
            {"mem_bytes", memory().total()},
            {"mem", mem_json(memory())},
            {"rss_bytes", rss},
            {"peak_rss_bytes", hwm},
            {"elapsed_s", elapsed_before_}};
}

int Trainer::run() {
    validate_and_load();

    // The output folder: a new run never overwrites another; --resume needs one.
    const fs::path out = cfg_.output.dir;
    const bool has_run = fs::exists(out / "run.json") || fs::exists(out / "metrics.jsonl");
    if (has_run && !opts_.resume)
        throw InputError(
            file(), "output.dir",
            "'" + out.string() +
                "' already holds a run (pass --resume to continue it, or choose another folder)");
    if (opts_.resume && !has_run)
        throw InputError(file(), "output.dir", "'" + out.string() + "' holds no run to resume");

    const bool resumed = opts_.resume && restore(); // may refuse; nothing written yet
    dir_ = std::make_unique<RunDirectory>(out);
    const long S = cfg_.train.steps;
    try {
        if (resumed) {
            dir_->metric({{"t", "resume"},
                          {"step", step_},
                          {"checkpoint", "checkpoints/" + resumed_from_.filename().string()}});
            dir_->log("resumed from " + resumed_from_.string() + " at step " +
                      std::to_string(step_));
        } else {
            model_.emplace(Model::load(cfg_.model.path));
            tf_ = make_cpu_transformer(*model_);
            tf_->set_recompute(cfg_.train.recompute);
            if (opts_.resume) {
                dir_->metric({{"t", "resume"}, {"step", 0}, {"checkpoint", nullptr}});
                dir_->log("no complete checkpoint in " + out.string() +
                          "; starting again from step 0");
            }
        }
        json blocks = json::array();
        std::uint64_t trainable = 0;
        for (const auto& b : blocks_) {
            blocks.push_back({{"id", b.id}, {"name", b.name}, {"params", b.params}});
            trainable += b.params;
        }
        if (!opts_.resume || !fs::exists(out / "run.json")) {
            json run{{"engine", {{"name", "bcd-train"}, {"version", BCD_VERSION}}},
                     {"config", cfg_.to_json()},
                     {"created", unix_time()},
                     {"plan",
                      {{"device", "cpu"},
                       {"world_size", 1},
                       {"params", model_->num_params()},
                       {"trainable_params", trainable},
                       {"blocks", blocks}}}};
            dir_->write_run_json(run);
        }
        if (!resumed && !opts_.resume)
            dir_->metric(ojson{{"t", "start"},
                               {"time", unix_time()},
                               {"device", "cpu"},
                               {"world_size", 1},
                               {"threads", cpu_threads()},
                               {"mode", cfg_.bcd.mode},
                               {"params", model_->num_params()},
                               {"trainable_params", trainable},
                               {"steps", S},
                               {"blocks", blocks}});
        dir_->status("running", step_, S);
        dir_->log("bcd-train " + std::string(BCD_VERSION) + ": " + model_->config().architecture +
                  " " + std::to_string(model_->num_params()) + " parameters, " +
                  std::to_string(blocks_.size()) + " block(s), mode " + cfg_.bcd.mode +
                  ", device cpu (" + std::to_string(cpu_threads()) + " threads)");
        for (const auto& line : data_log_) dir_->log(line);

        const auto t_start = Clock::now();
        const double elapsed0 = elapsed_before_;
        for (long s = step_ + 1; s <= S; ++s) {
            const auto t0 = Clock::now();
            const std::uint64_t tokens_before = tokens_;
            double gnorm = 0.0;
            const double loss = train_step(s, &gnorm);
            const double dt = seconds_since(t0);
            step_ = s;
            elapsed_before_ = elapsed0 + seconds_since(t_start);
            if (!std::isfinite(loss))
                throw InternalError("the loss is not finite at step " + std::to_string(s));
            const double lr = lr_.at(s);
            if (s % cfg_.output.log_every == 0 || s == S) {
                dir_->metric(step_record(s, loss, lr, gnorm, dt, tokens_ - tokens_before));
                char line[256];
                std::snprintf(
                    line, sizeof line,
                    "step %ld/%ld  loss %.4f  lr %.3e  block %d (%s)  grad_norm %.3f  %.0f tok/s",
                    s, S, loss, lr, active_,
                    blocks_[static_cast<std::size_t>(active_)].name.c_str(), gnorm,
                    static_cast<double>(tokens_ - tokens_before) / std::max(dt, 1e-9));
                dir_->log(line);
                dir_->status("running", s, S);
            }
            if (val_data_ &&
                ((cfg_.output.eval_every > 0 && s % cfg_.output.eval_every == 0) || s == S)) {
                const double vl = evaluate();
                dir_->metric({{"t", "eval"}, {"step", s}, {"val_loss", vl}});
                char line[96];
                std::snprintf(line, sizeof line, "eval step %ld  val_loss %.4f", s, vl);
                dir_->log(line);
            }
            if (s < S && s % cfg_.bcd.switch_every == 0) {
                const int next = schedule_->block_at(s + 1);
                if (next != active_)
                    dir_->metric({{"t", "switch"}, {"step", s}, {"from", active_}, {"to", next}});
            }
            // The last step gets a checkpoint too, so that a finished run can be extended with
            // --resume and more train.steps.
            if (cfg_.output.checkpoint_every > 0 &&
                (s % cfg_.output.checkpoint_every == 0 || s == S))
                write_checkpoint(s);
            if (opts_.cancel && opts_.cancel->load() != 0 && s < S) {
                if (last_ckpt_ != s) write_checkpoint(s);
                dir_->metric({{"t", "end"},
                              {"status", "cancelled"},
                              {"step", s},
                              {"message", "cancelled by signal"}});
                dir_->status("cancelled", s, S, "cancelled by signal");
                dir_->log("cancelled at step " + std::to_string(s) + "; resume with --resume");
                return kExitCancelled;
            }
        }
        model_->save(out / "final", DType::F32);
        copy_tokenizer_files(out / "final");
        dir_->metric({{"t", "end"}, {"status", "finished"}, {"step", step_}, {"message", ""}});
        dir_->status("finished", step_, S);
        dir_->log("finished " + std::to_string(step_) + " steps; model in " +
                  (out / "final").string());
        return kExitOk;
    } catch (const std::exception& e) {
        try {
            dir_->metric(
                {{"t", "end"}, {"status", "failed"}, {"step", step_}, {"message", e.what()}});
            dir_->status("failed", step_, S, e.what());
            dir_->log(std::string("failed: ") + e.what());
        } catch (...) {
        }
        throw;
    }
}

} // namespace

int train(const RunConfig& cfg, const TrainOptions& opts) {
    Trainer t(cfg, opts);
    return t.run();
}

} // namespace bcd
