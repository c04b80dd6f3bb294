// The training loop (DESIGN.md §3, docs/training.md). One block is active at a time: only it has
// gradients and optimizer state, made by the backend at the switch; the backend truncates its
// backward to it. `mode: full` is the same loop with one block holding every tensor. The trainer
// reaches the device only through the Backend interface (bcd/backend.h).

#include "bcd/trainer.h"

#include "bcd/active_sets.h"
#include "bcd/atomic_file.h"
#include "bcd/backend.h"
#include "bcd/block_schedule.h"
#include "bcd/blocks.h"
#include "bcd/communicator.h"
#include "bcd/data.h"
#include "bcd/dataset.h"
#include "bcd/errors.h"
#include "bcd/model.h"
#include "bcd/optimizer.h"
#include "bcd/state_file.h"
#include "bcd/version.h"
#include "core/json_reader.h"
#include "train/checkpoint.h"
#include "train/run_directory.h"
#include "train/run_lock.h"
#include "train/system_metrics.h"

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

// At most one progress record a second of a phase (evaluation): a long evaluation shows that it
// moves without a line per batch.
constexpr double kPhaseProgressEvery = 1.0;

// The bytes under a folder (a checkpoint just written).
std::uint64_t folder_bytes(const fs::path& dir) {
    std::uint64_t n = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec)) n += it->file_size(ec);
    return n;
}

nlohmann::ordered_json mem_json(const MemoryStats& m) {
    return {{"weights", m.weights},
            {"gradients", m.gradients},
            {"optimizer", m.optimizer},
            {"activations", m.activations},
            {"workspace", m.workspace}};
}

// The keys of a resumed run's config that must equal the original's for the resumed run to be
// the same run. Output settings, threads and the number of steps may change.
const char* const kResumeFixedKeys[] = {"data", "optim", "bcd"};
const char* const kResumeFixedTrainKeys[] = {"batch_size", "grad_accum", "seed", "precision"};

class Trainer {
public:
    Trainer(const RunConfig& cfg, const TrainOptions& opts) : cfg_(cfg), opts_(opts) {
        if (!opts_.comm) {
            own_comm_ = make_single_communicator();
            opts_.comm = own_comm_.get();
        }
        comm_ = opts_.comm;
        lead_ = comm_->rank() == 0;
    }
    int run();

private:
    void validate_and_load();
    void keep_schedule_of_resumed_run();
    void make_backend_for(Model& model);
    void switch_to(const std::vector<int>& set);
    std::string active_names() const;
    double train_step(long s, double* grad_norm_out);
    double evaluate();
    void write_checkpoint(long s);
    bool restore();
    void restore_from(const fs::path& dir);
    void copy_tokenizer_files(const fs::path& dst) const;
    ojson step_record(long s, double loss, double lr, double gnorm, double step_s,
                      std::uint64_t step_tokens);
    // {"t":"phase"} records (DESIGN.md §3): evaluation, checkpoint and final-model phases with
    // their progress, so that a reader shows them and measures their time.
    void phase(const char* name, const char* state, long s, Clock::time_point begun,
               std::optional<long> done = {}, std::optional<long> total = {},
               std::optional<std::uint64_t> bytes = {});
    double run_elapsed() const { return elapsed0_ + seconds_since(run_t0_); }
    long eval_batches() const;
    std::size_t eval_windows() const;
    std::uint64_t eval_tokens() const {
        return eval_windows() * static_cast<std::uint64_t>(cfg_.data.seq_len);
    }
    void make_system_sampler();
    std::string file() const { return cfg_.source.string(); }
    void reduce_gradients();
    // The run folder is rank 0's: the other ranks write nothing (a failing rank excepted).
    void metric(const ojson& record) {
        if (dir_) dir_->metric(record);
    }
    void log(const std::string& line) {
        if (dir_) dir_->log(line);
    }
    void status(const std::string& state, long step, long steps, const std::string& msg = "") {
        if (dir_) dir_->status(state, step, steps, msg);
    }
    void report_failure_of_rank(const std::string& what) const;

    RunConfig cfg_; // a copy: a resumed run may keep its own schedule keys
    TrainOptions opts_;
    std::string schedule_note_; // what keep_schedule_of_resumed_run kept, for train.log
    std::unique_ptr<Communicator> own_comm_; // a world of one when none is given
    Communicator* comm_ = nullptr;
    std::unique_ptr<Communicator> device_comm_; // NCCL, when the gradients live on GPUs
    bool lead_ = true;                          // rank 0: writes the run folder
    bool cancel_agreed_ = false;                // every rank saw a cancel request by this step
    std::uint64_t step_comm_bytes_ = 0;
    std::optional<RunLock> lock_;
    std::optional<Model> model_;
    std::unique_ptr<Backend> backend_;
    DeviceChoice device_;
    TrainPrecision precision_ = TrainPrecision::FP32;
    TextEncoder enc_ = TextEncoder::byte_level();
    std::optional<TokenDataset> train_data_, val_data_;
    std::vector<std::string> data_log_; // what was loaded, logged once the run folder exists
    std::vector<Block> blocks_;
    std::optional<BlockSchedule> schedule_;
    std::optional<ActiveSets> sets_;
    ImportanceState importance_;
    std::optional<WindowStream> stream_;
    OptimizerSettings opt_;
    LrSchedule lr_;

    std::vector<int> active_; // the trained set, ascending ids
    long since_switch_ = 0;   // steps trained since the set became active (the switch warm-up)
    long warmup_ = 0;         // bcd.switch_warmup_steps (0 in mode full)
    double step_lr_ = 0.0;    // the lr of the last step, warm-up included
    long step_ = 0;
    std::uint64_t tokens_ = 0;
    double elapsed_before_ = 0.0;
    long last_ckpt_ = -1;
    bool in_checkpoint_ = false;              // a failure inside write_checkpoint is not retried
    Clock::time_point run_t0_ = Clock::now(); // this process's training loop began
    double elapsed0_ = 0.0;                   // the run's elapsed seconds then (resumed runs)
    long eval_step_ = 0;                      // the step the running evaluation follows
    std::optional<SystemSampler> sys_;
    fs::path resumed_from_;
    std::unique_ptr<RunDirectory> dir_;
};

void Trainer::validate_and_load() {
    // The device first: a run that cannot have the device it asks for writes nothing.
    try {
        device_ = resolve_device(cfg_.device.kind);
    } catch (const DeviceUnavailable& e) {
        throw InputError(file(), "device.kind",
                         "\"" + cfg_.device.kind + "\" cannot be used: " + e.what() +
                             " (use \"cpu\" or \"auto\" to train on the CPU)");
    }
    // Several ranks on a node share its GPUs: each takes its own (its rank on the node modulo
    // their number) unless the config names one.
    if (comm_->size() > 1 && device_.device.starts_with("cuda") &&
        !cfg_.device.kind.starts_with("cuda:")) {
        const int gpus = static_cast<int>(probe_cuda().gpus.size());
        device_.device =
            "cuda:" +
            std::to_string(device_for_local_rank(launcher_environment().local_rank, gpus));
    }
    precision_ = parse_precision(cfg_.train.precision);
    if (device_.device == "cpu" && precision_ != TrainPrecision::FP32)
        throw InputError(file(), "train.precision",
                         "\"" + cfg_.train.precision +
                             "\" needs a GPU; the CPU backend trains in fp32 (expected \"fp32\"" +
                             (device_.note.empty() ? "" : "; " + device_.note) + ")");
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
    dopt.chat_format = cfg_.data.chat_format;
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
        const ChatTemplate t = resolve_chat_template(enc_, cfg_.data.chat_format, &why);
        data_log_.push_back(std::string("chat format: ") + chat_format_name(t.format) + " (" + why +
                            ")");
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
    int gamma = full ? 1 : cfg_.bcd.active_blocks;
    std::vector<int> always, pool;
    for (const auto& b : blocks_)
        (b.name == "embed" || b.name == "head" ? always : pool).push_back(b.id);
    if (cfg_.bcd.defaulted.count("active_blocks")) // the default, not the user's: as many as exist
        gamma = std::max(1, std::min(gamma, static_cast<int>(order == "lisa" ? pool.size() : D)));
    if (order == "lisa" && gamma > static_cast<int>(pool.size()))
        throw InputError(file(), "bcd.active_blocks",
                         "expected at most the number of layer blocks (" +
                             std::to_string(pool.size()) + ") for order \"lisa\", got " +
                             std::to_string(gamma));
    if (order != "lisa" && gamma > D)
        throw InputError(file(), "bcd.active_blocks",
                         "expected at most the number of blocks (" + std::to_string(D) + "), got " +
                             std::to_string(gamma));
    const bool cyclic = order != "lisa" && order != "importance";
    schedule_.emplace(D, cyclic ? order : "ascending", fixed, cfg_.bcd.switch_every, start,
                      cfg_.train.seed);
    sets_.emplace(*schedule_, order, gamma, always, pool, cfg_.train.seed);
    importance_.score.assign(static_cast<std::size_t>(D), -1.0);
    warmup_ = full ? 0 : cfg_.bcd.switch_warmup_steps;
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

void Trainer::make_backend_for(Model& model) {
    BackendOptions o;
    o.device = device_.device;
    o.precision = precision_;
    o.threads = cfg_.device.threads;
    o.recompute = cfg_.train.recompute;
    o.offload_states = cfg_.bcd.offload_states;
    o.optimizer = opt_;
    o.blocks = blocks_;
    o.max_batch = cfg_.train.batch_size;
    o.max_seq = cfg_.data.seq_len;
    o.seed = cfg_.train.seed;
    try {
        backend_ = make_backend(model, o);
    } catch (const DeviceUnavailable& e) {
        throw InputError(file(), "device.kind",
                         "\"" + device_.device + "\" cannot be used: " + e.what());
    }
    if (comm_->size() > 1 && backend_->kind() != "cpu" && !device_comm_)
        device_comm_ = make_nccl_communicator(
            *comm_, std::stoi(device_.device.substr(device_.device.find(':') + 1)));
}

// Makes `set` the trained one: the backend makes its gradients and optimizer state (the previous
// set's gradients are released first; its state too under reset_state_on_switch, except the state
// of blocks that stay in the set, such as LISA's embedding and head: they are not switched).
void Trainer::switch_to(const std::vector<int>& set) {
    if (set == active_) return;
    std::vector<std::pair<int, BlockState>> staying;
    if (cfg_.bcd.reset_state_on_switch) {
        const auto with_state = backend_->blocks_with_state();
        for (int b : set)
            if (std::find(active_.begin(), active_.end(), b) != active_.end() &&
                std::find(with_state.begin(), with_state.end(), b) != with_state.end())
                staying.emplace_back(b, backend_->read_state(b));
    }
    backend_->activate(set, cfg_.bcd.reset_state_on_switch);
    for (auto& [b, st] : staying) backend_->write_state(b, std::move(st));
    active_ = set;
    since_switch_ = 0;
}

std::string Trainer::active_names() const {
    std::string out;
    for (int b : active_)
        out += (out.empty() ? "" : "+") + blocks_[static_cast<std::size_t>(b)].name;
    return out;
}

double Trainer::train_step(long s, double* grad_norm_out) {
    if (active_.empty() || (s - 1) % sets_->switch_every() == 0)
        switch_to(sets_->set_of_period(sets_->period_of(s), importance_));
    backend_->zero_grads();
    const int B = cfg_.train.batch_size, T = cfg_.data.seq_len, A = cfg_.train.grad_accum;
    const int N = comm_->size(), rank = comm_->rank();
    const std::size_t micro = static_cast<std::size_t>(B) * T;
    // The step's global batch: A micro-batches of N·B windows, in the stream's order, the same on
    // every rank. Rank r trains on windows [r·B, (r+1)·B) of each, so that N ranks of batch B see
    // what one process of batch N·B sees. Every rank reads the whole global batch's targets: the
    // backward's scale (1 / the global count of predicted tokens) is then known without a round
    // trip, and the ranks' streams stay at the same place.
    std::vector<std::int32_t> in(micro * A), tg(micro * A);
    std::vector<std::int32_t> other_in(static_cast<std::size_t>(T)), other_tg(other_in.size());
    long count = 0;
    auto predicted = [](const std::int32_t* t, std::size_t n) {
        return static_cast<long>(std::count_if(t, t + n, [](std::int32_t x) { return x >= 0; }));
    };
    for (int a = 0; a < A; ++a)
        for (int j = 0; j < N * B; ++j) {
            const std::uint64_t w = stream_->next();
            if (j / B == rank) {
                const std::size_t at = (static_cast<std::size_t>(a) * B + (j - rank * B)) * T;
                train_data_->copy_window(w, T, in.data() + at, tg.data() + at);
                count += predicted(tg.data() + at, static_cast<std::size_t>(T));
            } else {
                train_data_->copy_window(w, T, other_in.data(), other_tg.data());
                count += predicted(other_tg.data(), other_tg.size());
            }
        }
    double loss_sum = 0.0;
    for (int a = 0; a < A; ++a) {
        const auto r = backend_->forward(in.data() + a * micro, tg.data() + a * micro, B, T);
        loss_sum += r.sum;
        backend_->backward(1.0f / static_cast<float>(std::max(1L, count)));
    }
    if (N > 1) {
        const std::uint64_t before =
            comm_->bytes_reduced() + (device_comm_ ? device_comm_->bytes_reduced() : 0);
        reduce_gradients();
        // The loss and a cancel request travel together: every rank stops after the same step.
        double scalars[2] = {loss_sum, opts_.cancel && opts_.cancel->load() != 0 ? 1.0 : 0.0};
        comm_->all_reduce_sum(scalars);
        loss_sum = scalars[0];
        cancel_agreed_ = scalars[1] > 0.0;
        step_comm_bytes_ =
            comm_->bytes_reduced() + (device_comm_ ? device_comm_->bytes_reduced() : 0) - before;
    }
    const double norm = backend_->grad_norm();
    if (cfg_.optim.grad_clip > 0.0) backend_->clip_gradients(norm, cfg_.optim.grad_clip);
    // The switch warm-up: lr · (j + 1) / (W + 1) at the j-th step (from 0) of a new set, j < W.
    const double ramp = since_switch_ < warmup_ ? static_cast<double>(since_switch_ + 1) /
                                                      static_cast<double>(warmup_ + 1)
                                                : 1.0;
    step_lr_ = lr_.at(s) * ramp;
    backend_->optimizer_step(opt_, step_lr_);
    ++since_switch_;
    importance_.period_sum += norm;
    ++importance_.period_steps;
    tokens_ += static_cast<std::uint64_t>(A) * static_cast<std::uint64_t>(N) * micro;
    *grad_norm_out = norm;
    return loss_sum / static_cast<double>(std::max(1L, count));
}

// Only the active block's gradients cross between ranks: one contiguous fp32 range, summed. Each
// rank's backward already scaled them by 1 / the global token count, so the sum is the gradient
// of the global batch's mean loss.
void Trainer::reduce_gradients() {
    const GradientView g = backend_->gradients();
    const std::span<float> grads(g.data, g.count);
    if (!g.on_device) {
        comm_->all_reduce_sum(grads);
        return;
    }
    if (!device_comm_)
        throw InternalError(
            "the gradients are in device memory and no NCCL communicator is set up");
    device_comm_->all_reduce_sum(grads);
}

double Trainer::evaluate() {
    // Gradient-free: nothing is kept, and what the evaluation made is released afterwards. The
    // ranks share the validation windows (chunks of batch_size, dealt in turn) and sum.
    const int T = cfg_.data.seq_len, B = cfg_.train.batch_size;
    const std::size_t windows = eval_windows();
    const auto N = static_cast<std::size_t>(comm_->size());
    const auto rank = static_cast<std::size_t>(comm_->rank());
    std::vector<std::int32_t> in(static_cast<std::size_t>(B) * T), tg(in.size());
    double sum = 0.0;
    long count = 0;
    const long total = eval_batches();
    long done = 0;
    const auto t0 = Clock::now();
    auto reported = t0;
    phase("eval", "begin", eval_step_, t0, 0, total);
    for (std::size_t w0 = rank * static_cast<std::size_t>(B); w0 < windows;
         w0 += N * static_cast<std::size_t>(B)) {
        const int b = static_cast<int>(std::min<std::size_t>(B, windows - w0));
        for (int i = 0; i < b; ++i)
            val_data_->copy_window(w0 + static_cast<std::size_t>(i), T,
                                   in.data() + static_cast<std::size_t>(i) * T,
                                   tg.data() + static_cast<std::size_t>(i) * T);
        const auto r = backend_->evaluate(in.data(), tg.data(), b, T);
        sum += r.sum;
        count += r.count;
        ++done;
        if (done < total && seconds_since(reported) >= kPhaseProgressEvery) {
            reported = Clock::now();
            phase("eval", "progress", eval_step_, t0, done, total);
        }
    }
    backend_->end_evaluation();
    if (N > 1) {
        double totals[2] = {sum, static_cast<double>(count)};
        comm_->all_reduce_sum(totals);
        sum = totals[0];
        count = static_cast<long>(totals[1]);
    }
    phase("eval", "end", eval_step_, t0, done, total);
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
        if (!fs::exists(src, ec)) continue;
        // Through the durable writer, like every file of a checkpoint (DONE comes after it).
        std::ifstream in(src, std::ios::binary);
        if (!in) throw InternalError("cannot read " + src.string());
        write_file_atomic(dst / name, std::string(std::istreambuf_iterator<char>(in),
                                                  std::istreambuf_iterator<char>()));
    }
}

void Trainer::write_checkpoint(long s) {
    if (!lead_) { // every rank holds the same weights and state; rank 0 writes them
        last_ckpt_ = s;
        return;
    }
    in_checkpoint_ = true;
    struct Leave {
        bool& flag;
        ~Leave() { flag = false; }
    } leave{in_checkpoint_};
    json header{{"format", "bcd-train state"},
                {"engine", BCD_VERSION},
                {"step", s},
                {"tokens", tokens_},
                {"elapsed_s", elapsed_before_},
                {"data", {{"epoch", stream_->epoch()}, {"index", stream_->index()}}},
                {"active_block", active_.front()},
                {"schedule",
                 {{"place", schedule_->place_at(s)},
                  {"active_blocks", active_},
                  {"since_switch", since_switch_},
                  {"importance",
                   {{"score", importance_.score},
                    {"period_sum", importance_.period_sum},
                    {"period_steps", importance_.period_steps}}}}},
                {"threads", cpu_threads()},
                {"device", backend_->kind()},
                {"precision", precision_name(precision_)},
                {"world_size", comm_->size()},
                {"config", cfg_.to_json()}};
    const auto t0 = Clock::now();
    phase("checkpoint", "begin", s, t0);
    bcd::write_checkpoint(
        dir_->path(), s, *model_, *backend_, std::move(header),
        [this](const fs::path& d) { copy_tokenizer_files(d); }, cfg_.output.keep_checkpoints);
    phase("checkpoint", "end", s, t0, {}, {},
          folder_bytes(dir_->path() / "checkpoints" / checkpoint_name(s)));
    last_ckpt_ = s;
    metric({{"t", "ckpt"}, {"step", s}, {"path", "checkpoints/" + checkpoint_name(s)}});
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
    // The resumed run must be the same run.
    auto same_run = [this, &dir](const json& h) {
        const json now = cfg_.to_json();
        const json& then = h.at("config");
        for (const char* k : kResumeFixedKeys)
            if (now.at(k) != then.at(k)) {
                for (auto it = now.at(k).begin(); it != now.at(k).end(); ++it) {
                    // Keys newer than the checkpoint's engine match when they hold the value
                    // that engine behaved as.
                    if (!then.at(k).contains(it.key()) && k == std::string("bcd") &&
                        ((it.key() == "active_blocks" && it.value() == 1) ||
                         (it.key() == "switch_warmup_steps" && it.value() == 0)))
                        continue;
                    if (!then.at(k).contains(it.key()) || then.at(k).at(it.key()) != it.value())
                        throw InputError(file(), std::string(k) + "." + it.key(),
                                         "differs from the run being resumed (it had " +
                                             then.at(k).value(it.key(), json()).dump() + ")");
                }
            }
        for (const char* k : kResumeFixedTrainKeys)
            if (now.at("train").at(k) != then.at("train").at(k))
                throw InputError(file(), std::string("train.") + k,
                                 "differs from the run being resumed (it had " +
                                     then.at("train").at(k).dump() + ")");
        // The global batch is world_size · batch_size: another world size is another run.
        const int ranks = h.value("world_size", 1);
        if (ranks != comm_->size())
            throw InputError((dir / "state.bin").string(), "world_size",
                             "the run was trained on " + std::to_string(ranks) +
                                 " rank(s); resume it on as many (mpirun -np " +
                                 std::to_string(ranks) + "), not " + std::to_string(comm_->size()));
    };
    CheckpointState st =
        read_checkpoint_state(dir, same_run, ParamLayout(load_model_config(dir)), blocks_, opt_);
    const json& h = st.header;
    model_.emplace(Model::load(dir));
    make_backend_for(*model_);
    step_ = h.at("step").get<long>();
    tokens_ = h.at("tokens").get<std::uint64_t>();
    elapsed_before_ = h.at("elapsed_s").get<double>();
    stream_->seek(h.at("data").at("epoch").get<std::uint64_t>(),
                  h.at("data").at("index").get<std::uint64_t>());
    // Checkpoints of engines before active sets name one block and no importance record.
    const json& sch = h.contains("schedule") ? h.at("schedule") : json::object();
    std::vector<int> set{h.at("active_block").get<int>()};
    if (sch.contains("active_blocks")) set = sch.at("active_blocks").get<std::vector<int>>();
    const int D = static_cast<int>(blocks_.size());
    for (int b : set)
        if (b < 0 || b >= D)
            throw InputError((dir / "state.bin").string(), "schedule.active_blocks",
                             "expected block ids below " + std::to_string(D));
    switch_to(set);
    since_switch_ = sch.value("since_switch", 0L);
    if (sch.contains("importance")) {
        const json& imp = sch.at("importance");
        importance_.score = imp.at("score").get<std::vector<double>>();
        importance_.period_sum = imp.at("period_sum").get<double>();
        importance_.period_steps = imp.at("period_steps").get<long>();
        if (importance_.score.size() != blocks_.size())
            throw InputError((dir / "state.bin").string(), "schedule.importance.score",
                             "expected " + std::to_string(D) + " scores");
    }
    for (auto& [id, bs] : st.blocks) backend_->write_state(id, std::move(bs));
    last_ckpt_ = step_;
}

// A rank other than 0 that fails says so in the run folder before the job ends: rank 0 would be
// stopped without knowing why.
void Trainer::report_failure_of_rank(const std::string& what) const {
    const fs::path out = cfg_.output.dir;
    if (!fs::is_directory(out)) return; // rank 0 made it before any rank could fail here
    RunDirectory::append_log(out, "rank " + std::to_string(comm_->rank()) + " of " +
                                      std::to_string(comm_->size()) + " failed: " + what);
    RunDirectory::write_failed_status(out, step_, cfg_.train.steps,
                                      "rank " + std::to_string(comm_->rank()) + ": " + what);
}

ojson Trainer::step_record(long s, double loss, double lr, double gnorm, double step_s,
                           std::uint64_t step_tokens) {
    const SystemSample sys = sys_ ? sys_->sample() : SystemSample{};
    ojson r{{"t", "step"},
            {"step", s},
            {"tokens", tokens_},
            {"loss", loss},
            {"lr", lr},
            {"block", active_.front()},
            {"grad_norm", gnorm},
            {"step_s", step_s},
            {"tok_s", static_cast<double>(step_tokens) / std::max(step_s, 1e-9)},
            {"comm_bytes", step_comm_bytes_},
            {"mem_bytes", backend_->memory().total()},
            {"mem", mem_json(backend_->memory())},
            {"rss_bytes", sys.rss_bytes},
            {"peak_rss_bytes", sys.peak_rss_bytes}};
    // System figures (docs/training.md "System metrics"); a figure not measured is left out.
    if (sys.cpu_pct) r["cpu_pct"] = *sys.cpu_pct;
    if (sys.gpu_util_pct) r["gpu_util_pct"] = *sys.gpu_util_pct;
    if (sys.gpu_mem_bytes) r["gpu_mem_bytes"] = *sys.gpu_mem_bytes;
    if (sys.gpu_power_w) r["gpu_power_w"] = *sys.gpu_power_w;
    if (sys.gpu_temp_c) r["gpu_temp_c"] = *sys.gpu_temp_c;
    r["elapsed_s"] = elapsed_before_;
    if (active_.size() > 1) r["blocks"] = active_; // the whole set; "block" is its first
    return r;
}

void Trainer::phase(const char* name, const char* state, long s, Clock::time_point begun,
                    std::optional<long> done, std::optional<long> total,
                    std::optional<std::uint64_t> bytes) {
    ojson r{{"t", "phase"}, {"step", s}, {"phase", name}, {"state", state}};
    if (done) r["done"] = *done;
    if (total) r["total"] = *total;
    if (bytes) r["bytes"] = *bytes;
    r["phase_s"] = seconds_since(begun);
    r["elapsed_s"] = run_elapsed();
    metric(r);
}

// The validation windows one evaluation reads: all, or the first output.eval_batches batches'.
std::size_t Trainer::eval_windows() const {
    if (!val_data_) return 0;
    const std::size_t all = val_data_->num_windows(cfg_.data.seq_len);
    if (cfg_.output.eval_batches <= 0) return all;
    return std::min(all, static_cast<std::size_t>(cfg_.output.eval_batches) *
                             static_cast<std::size_t>(cfg_.train.batch_size));
}

// The batches of one evaluation on this rank (rank 0's count: it writes the progress).
long Trainer::eval_batches() const {
    if (!val_data_) return 0;
    const auto windows = static_cast<long>(eval_windows());
    const long B = cfg_.train.batch_size, N = comm_->size(), r = comm_->rank();
    long n = 0;
    for (long w0 = r * B; w0 < windows; w0 += N * B) ++n;
    return n;
}

void Trainer::make_system_sampler() {
    std::string gpu;
    if (backend_->kind() == "cuda") {
        const auto colon = device_.device.find(':');
        const int ordinal =
            colon == std::string::npos ? 0 : std::stoi(device_.device.substr(colon + 1));
        gpu = nvml_device_for(std::getenv("CUDA_VISIBLE_DEVICES"), ordinal).value_or("");
        if (gpu.empty())
            log("no GPU figures in the metrics: CUDA_VISIBLE_DEVICES does not name device " +
                std::to_string(ordinal) + " by index or UUID");
    }
    sys_.emplace(gpu);
    if (!sys_->note().empty()) log(sys_->note());
}

// A resumed run keeps its own schedule for the keys its config leaves to the default (the
// defaults may have changed since it started): its run.json holds the values it ran with (an
// engine before these keys: ascending, one block, no warm-up).
void Trainer::keep_schedule_of_resumed_run() {
    const fs::path run_json = cfg_.output.dir / "run.json";
    std::error_code ec;
    if (!opts_.resume || cfg_.bcd.defaulted.empty() || !fs::is_regular_file(run_json, ec)) return;
    json bcd;
    try {
        bcd = read_json_file(run_json).at("config").at("bcd");
    } catch (const std::exception&) {
        return; // an unreadable run.json: the checkpoint's own check names what differs
    }
    std::vector<std::string> kept;
    if (cfg_.bcd.defaulted.count("order")) {
        const std::string o = bcd.value("order", std::string("ascending"));
        if (o != cfg_.bcd.order) kept.push_back("order " + o);
        cfg_.bcd.order = o;
    }
    if (cfg_.bcd.defaulted.count("active_blocks")) {
        const int g = bcd.value("active_blocks", 1);
        if (g != cfg_.bcd.active_blocks) kept.push_back("active_blocks " + std::to_string(g));
        cfg_.bcd.active_blocks = g;
        cfg_.bcd.defaulted.erase("active_blocks"); // the run's own value, not to be capped
    }
    if (cfg_.bcd.defaulted.count("switch_warmup_steps")) {
        const long w = bcd.value("switch_warmup_steps", 0L);
        if (w != cfg_.bcd.switch_warmup_steps)
            kept.push_back("switch_warmup_steps " + std::to_string(w));
        cfg_.bcd.switch_warmup_steps = w;
    }
    for (const auto& k : kept)
        schedule_note_ += (schedule_note_.empty() ? "kept the run's own bcd." : ", bcd.") + k;
    if (!schedule_note_.empty())
        schedule_note_ += " (the config leaves them to the defaults, which differ)";
}

int Trainer::run() {
    keep_schedule_of_resumed_run();
    validate_and_load();

    // The output folder: a new run never overwrites another; --resume needs one. Rank 0 locks
    // it first (a second trainer is refused, naming the holder); the other ranks only read it.
    const fs::path out = cfg_.output.dir;
    auto holds_run = [&out] {
        return fs::exists(out / "run.json") || fs::exists(out / "metrics.jsonl");
    };
    if (opts_.resume && !holds_run())
        throw InputError(file(), "output.dir", "'" + out.string() + "' holds no run to resume");
    if (lead_) lock_.emplace(out, file());
    const bool has_run = holds_run();
    if (has_run && !opts_.resume)
        throw InputError(
            file(), "output.dir",
            "'" + out.string() +
                "' already holds a run (pass --resume to continue it, or choose another folder)");
    if (opts_.resume && !has_run)
        throw InputError(file(), "output.dir", "'" + out.string() + "' holds no run to resume");

    const bool resumed = opts_.resume && restore(); // may refuse; nothing written yet
    // Every rank has looked at the folder and restored before rank 0 writes in it.
    comm_->barrier();
    if (lead_) dir_ = std::make_unique<RunDirectory>(out);
    const long S = cfg_.train.steps;
    try {
        if (resumed) {
            metric({{"t", "resume"},
                    {"step", step_},
                    {"checkpoint", "checkpoints/" + resumed_from_.filename().string()}});
            log("resumed from " + resumed_from_.string() + " at step " + std::to_string(step_));
            if (!schedule_note_.empty()) log(schedule_note_);
        } else {
            model_.emplace(Model::load(cfg_.model.path));
            make_backend_for(*model_);
            if (opts_.resume) {
                metric({{"t", "resume"}, {"step", 0}, {"checkpoint", nullptr}});
                log("no complete checkpoint in " + out.string() + "; starting again from step 0");
            }
        }
        // Every rank has its weights and its device: a rank that could not load them has said
        // so (train.log, status.json) before rank 0 writes its first status and is stopped here.
        comm_->barrier();
        json blocks = json::array();
        std::uint64_t trainable = 0;
        for (const auto& b : blocks_) {
            blocks.push_back({{"id", b.id}, {"name", b.name}, {"params", b.params}});
            trainable += b.params;
        }
        if (lead_ && (!opts_.resume || !fs::exists(out / "run.json"))) {
            json run{{"engine", {{"name", "bcd-train"}, {"version", BCD_VERSION}}},
                     {"config", cfg_.to_json()},
                     {"created", unix_time()},
                     {"plan",
                      {{"device", backend_->kind()},
                       {"precision", precision_name(precision_)},
                       {"world_size", comm_->size()},
                       {"params", model_->num_params()},
                       {"trainable_params", trainable},
                       {"blocks", blocks}}}};
            dir_->write_run_json(run);
        }
        if (!resumed && !opts_.resume)
            metric(ojson{{"t", "start"},
                         {"time", unix_time()},
                         {"device", backend_->kind()},
                         {"precision", precision_name(precision_)},
                         {"world_size", comm_->size()},
                         {"threads", cpu_threads()},
                         {"mode", cfg_.bcd.mode},
                         {"params", model_->num_params()},
                         {"trainable_params", trainable},
                         {"steps", S},
                         {"eval_batches", eval_batches()},
                         {"eval_tokens", val_data_ ? eval_tokens() : 0},
                         {"blocks", blocks}});
        status("running", step_, S);
        log("bcd-train " + std::string(BCD_VERSION) + ": " + model_->config().architecture + " " +
            std::to_string(model_->num_params()) + " parameters, " +
            std::to_string(blocks_.size()) + " block(s), mode " + cfg_.bcd.mode + ", device " +
            backend_->describe());
        if (!device_.note.empty())
            log("device.kind auto: training on the CPU (" + device_.note + ")");
        if (lead_) make_system_sampler();
        for (const auto& line : data_log_) log(line);
        if (comm_->size() > 1) {
            log("data parallel: " + std::to_string(comm_->size()) + " ranks, global batch " +
                std::to_string(comm_->size()) + " x " + std::to_string(cfg_.train.batch_size) +
                " x " + std::to_string(cfg_.train.grad_accum) + " windows; " + comm_->describe() +
                (device_comm_ ? "; gradients over " + device_comm_->describe() : ""));
        }

        run_t0_ = Clock::now();
        elapsed0_ = elapsed_before_;
        for (long s = step_ + 1; s <= S; ++s) {
            const auto t0 = Clock::now();
            const std::uint64_t tokens_before = tokens_;
            double gnorm = 0.0;
            const double loss = train_step(s, &gnorm);
            const double dt = seconds_since(t0);
            step_ = s;
            elapsed_before_ = run_elapsed();
            if (!std::isfinite(loss))
                throw InternalError("the loss is not finite at step " + std::to_string(s));
            const double lr = step_lr_;
            if (s % cfg_.output.log_every == 0 || s == S) {
                metric(step_record(s, loss, lr, gnorm, dt, tokens_ - tokens_before));
                char line[256];
                std::snprintf(
                    line, sizeof line,
                    "step %ld/%ld  loss %.4f  lr %.3e  block %d (%s)  grad_norm %.3f  %.0f tok/s",
                    s, S, loss, lr, active_.front(), active_names().c_str(), gnorm,
                    static_cast<double>(tokens_ - tokens_before) / std::max(dt, 1e-9));
                log(line);
                status("running", s, S);
            }
            if (val_data_ &&
                ((cfg_.output.eval_every > 0 && s % cfg_.output.eval_every == 0) || s == S)) {
                eval_step_ = s;
                const double vl = evaluate();
                metric({{"t", "eval"}, {"step", s}, {"val_loss", vl}});
                char line[96];
                std::snprintf(line, sizeof line, "eval step %ld  val_loss %.4f", s, vl);
                log(line);
            }
            if (s % cfg_.bcd.switch_every == 0) {
                // The period's gradient norms become its blocks' scores (order importance) before
                // the checkpoint below, so that a resumed run draws the next set alike.
                ActiveSets::end_period(importance_, active_);
                const auto next = sets_->set_of_period(sets_->period_of(s + 1), importance_);
                if (s < S && next != active_) {
                    ojson sw{{"t", "switch"},
                             {"step", s},
                             {"from", active_.front()},
                             {"to", next.front()}};
                    if (active_.size() > 1 || next.size() > 1) {
                        sw["from_blocks"] = active_;
                        sw["to_blocks"] = next;
                    }
                    metric(sw);
                }
            }
            // The last step gets a checkpoint too, so that a finished run can be extended with
            // --resume and more train.steps.
            if (cfg_.output.checkpoint_every > 0 &&
                (s % cfg_.output.checkpoint_every == 0 || s == S))
                write_checkpoint(s);
            // Several ranks stop together, at the step where any of them saw the request.
            const bool cancel =
                comm_->size() > 1 ? cancel_agreed_ : opts_.cancel && opts_.cancel->load() != 0;
            if (cancel && s < S) {
                if (last_ckpt_ != s) write_checkpoint(s);
                metric({{"t", "end"},
                        {"status", "cancelled"},
                        {"step", s},
                        {"message", "cancelled by signal"}});
                status("cancelled", s, S, "cancelled by signal");
                log("cancelled at step " + std::to_string(s) + "; resume with --resume");
                return kExitCancelled;
            }
        }
        if (lead_) {
            const auto t0 = Clock::now();
            phase("final", "begin", step_, t0);
            model_->save(out / "final", DType::F32);
            copy_tokenizer_files(out / "final");
            phase("final", "end", step_, t0, {}, {}, folder_bytes(out / "final"));
        }
        metric({{"t", "end"}, {"status", "finished"}, {"step", step_}, {"message", ""}});
        status("finished", step_, S);
        log("finished " + std::to_string(step_) + " steps; model in " + (out / "final").string());
        return kExitOk;
    } catch (const std::exception& e) {
        if (!lead_) {
            report_failure_of_rank(e.what());
            throw;
        }
        const bool disk_full = dynamic_cast<const DiskFullError*>(&e) != nullptr;
        // A full disk outside a checkpoint (a metrics or log line, the final model): one last
        // attempt at a checkpoint of the steps done since the last one. Should it not fit either,
        // write_checkpoint removes its partial folder and the last complete one stays.
        if (disk_full && !in_checkpoint_ && step_ > 0 && last_ckpt_ != step_) {
            try {
                write_checkpoint(step_);
            } catch (const std::exception&) {
            }
        }
        try {
            metric({{"t", "end"}, {"status", "failed"}, {"step", step_}, {"message", e.what()}});
            status("failed", step_, S, e.what());
            log(std::string("failed: ") + e.what());
            if (disk_full) {
                const auto done = complete_checkpoints(cfg_.output.dir);
                log(done.empty() ? std::string("no complete checkpoint")
                                 : "the last complete checkpoint is " +
                                       done.back().second.filename().string() +
                                       "; free space and continue with --resume");
            }
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
