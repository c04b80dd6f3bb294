// The planner: its memory prediction against the CPU engine's measured peak (resident set and
// the engine's own accounting) for three models in both modes; its formulas against
// independent arithmetic (16 bytes per parameter, BAdam's 2M + 16M/D, 6N + attention); the fit
// search and its advice; the GPU specification grammar and the tables.

#include "../train/train_fixture.h"
#include "bcd/blocks.h"
#include "bcd/errors.h"
#include "bcd/gpus.h"
#include "bcd/model.h"
#include "bcd/param_layout.h"
#include "bcd/plan.h"
#include "bcd/run_config.h"
#include "bcd/trainer.h"

#include <QtTest>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

using namespace fixture;

namespace {

std::uint64_t status_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(field)) return std::stoull(line.substr(std::strlen(field))) * 1024;
    return 0;
}

// Resets the process's peak resident set to its current size (Linux ≥ 4.0).
bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    f.flush();
    return static_cast<bool>(f);
}

struct Case {
    const char* name;
    bcd::ModelConfig model;
    int batch, seq;
    const char* mode;
    bool recompute;
    const char* bcd = "{}"; // more bcd keys (active sets)
};

bcd::ModelConfig wide_model() {
    bcd::ModelConfig c = bcd::ModelConfig::preset("tiny");
    c.hidden_size = 768;
    c.intermediate_size = 2048;
    c.num_layers = 4;
    c.num_heads = 12;
    c.num_kv_heads = 4;
    c.head_dim = 64;
    return c;
}

double rel(double predicted, double measured) {
    return std::fabs(predicted - measured) / measured;
}

bcd::PlanInput seven_b(const std::string& gpu, int batch = 4, int accum = 8, int seq = 2048) {
    bcd::PlanInput in;
    in.model = bcd::ModelConfig::preset("llama2-7b");
    in.seq_len = seq;
    in.batch_size = batch;
    in.grad_accum = accum;
    in.precision = bcd::Precision::Bf16Mixed;
    const auto table = bcd::GpuTable::builtin();
    in.hardware = bcd::Hardware::from_gpus({bcd::parse_gpu_spec(gpu, table, "test")}, table,
                                           bcd::PriceTable::builtin());
    return in;
}

} // namespace

class TestPlan : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        // Warm up: OpenMP's threads, their malloc arenas and OpenBLAS's buffers exist before
        // anything is measured (a bcd-train process has them too: the planner counts them in its
        // process constant, which the in-process measurement leaves out).
        const auto dir = fresh_dir("plan/warmup");
        bcd::Model m(bcd::ModelConfig::preset("tiny"));
        m.init_random(1);
        m.save(dir / "model");
        write_text(dir, 60000);
        json cfg = base_config(dir);
        cfg["train"] = {{"steps", 2}, {"batch_size", 16}};
        cfg["data"]["seq_len"] = 256;
        cfg["bcd"] = {{"mode", "full"}};
        std::ofstream(dir / "run.json") << cfg.dump();
        QCOMPARE(bcd::train(bcd::RunConfig::load(dir / "run.json"), {}), 0);
    }

    // The prediction for the exact setting of a run against what the run used: the resident set's
    // growth over the run (in process, so the process's own baseline is already resident and is
    // left out of the prediction too) and the engine's accounting (the largest mem_bytes of the
    // step records). Both within 10 %.
    void predicted_peak_matches_the_cpu_engine() {
        if (!reset_peak_rss()) QSKIP("cannot reset the peak resident set (/proc/self/clear_refs)");
        const std::vector<Case> cases = {
            {"tiny", bcd::ModelConfig::preset("tiny"), 16, 256, "full", false},
            {"tiny", bcd::ModelConfig::preset("tiny"), 16, 256, "bcd", false},
            {"small", bcd::ModelConfig::preset("small"), 4, 256, "full", false},
            {"small", bcd::ModelConfig::preset("small"), 4, 256, "bcd", false},
            {"small", bcd::ModelConfig::preset("small"), 4, 256, "bcd", true},
            {"wide", wide_model(), 4, 128, "full", false},
            {"wide", wide_model(), 4, 128, "bcd", false},
            {"wide", wide_model(), 4, 128, "full", true},
            // Small activations: the peak is loading (the weights and their mapped file).
            {"wide", wide_model(), 1, 32, "bcd", false},
            // Active sets: two blocks at once, LISA (embedding and head always, state kept).
            {"small", bcd::ModelConfig::preset("small"), 4, 256, "bcd", false,
             R"({"active_blocks": 2})"},
            {"wide", wide_model(), 4, 128, "bcd", false,
             R"({"order": "lisa", "active_blocks": 2})"},
            {"wide", wide_model(), 4, 128, "bcd", false,
             R"({"order": "importance", "active_blocks": 3})"},
        };
        std::printf("\n%-6s %-4s %-9s %-9s %12s %12s %6s %12s %12s %6s\n", "model", "mode",
                    "recompute", "batch", "pred RSS", "meas RSS", "err", "pred acct", "engine acct",
                    "err");
        for (const auto& c : cases) {
            const auto dir =
                fresh_dir(std::string("plan/") + c.name + "-" + c.mode +
                          std::to_string(std::hash<std::string>{}(c.bcd) % 1000) +
                          (c.recompute ? "-rc" : "") + "-" + std::to_string(c.batch * c.seq));
            bcd::Model m(c.model);
            m.init_random(3);
            m.save(dir / "model");
            write_text(dir, 60000);
            const int blocks = c.model.num_layers + 2;
            json cfg{{"model", {{"path", (dir / "model").string()}}},
                     {"data", {{"train", (dir / "train.txt").string()}, {"seq_len", c.seq}}},
                     {"train",
                      {{"steps", std::string(c.mode) == "bcd" ? blocks : 2},
                       {"batch_size", c.batch},
                       {"recompute", c.recompute}}},
                     // One block at a time unless the case says otherwise (docs/planner.md
                     // #limits: drawn multi-block sets are checked apart).
                     {"bcd",
                      {{"mode", c.mode},
                       {"switch_every", 1},
                       {"order", "ascending"},
                       {"active_blocks", 1},
                       {"switch_warmup_steps", 0}}},
                     {"device", {{"threads", 2}}},
                     {"output", {{"dir", (dir / "run").string()}}}};
            cfg["bcd"].merge_patch(json::parse(c.bcd));
            std::ofstream(dir / "run.json") << cfg.dump();
            const auto rc = bcd::RunConfig::load(dir / "run.json");

            // Prediction for exactly this setting.
            bcd::PlanInput in =
                bcd::PlanInput::from_run_config(rc, bcd::load_model_config(dir / "model"));
            in.hardware = bcd::Hardware::local_cpu(2);
            bcd::Setting s;
            s.micro_batch = c.batch;
            s.grad_accum = 1;
            s.recompute = c.recompute;
            s.layers_per_block = 1;
            const bcd::Mode mode = std::string(c.mode) == "bcd" ? bcd::Mode::Bcd : bcd::Mode::Full;
            const bcd::Plan p = bcd::evaluate_setting(in, mode, s);
            const double pred_rss =
                static_cast<double>(p.peak_bytes - in.constants.cpu_process_bytes);
            const double pred_acct = static_cast<double>(p.memory.total() - p.memory.runtime);

            QVERIFY(reset_peak_rss());
            const std::uint64_t before = status_kib("VmRSS:");
            QCOMPARE(bcd::train(rc, {}), 0);
            const std::uint64_t peak = status_kib("VmHWM:");
            const double meas_rss = static_cast<double>(peak - before);
            double meas_acct = 0;
            for (const auto& r : records(dir / "run", "step"))
                meas_acct = std::max(meas_acct, r["mem_bytes"].get<double>());

            std::printf("%-6s %-4s %-9s %-9s %10.1fMi %10.1fMi %5.1f%% %10.1fMi %10.1fMi %5.1f%%\n",
                        c.name, c.mode, c.recompute ? "yes" : "no",
                        (std::to_string(c.batch) + "x" + std::to_string(c.seq)).c_str(),
                        pred_rss / 1048576, meas_rss / 1048576, 100 * rel(pred_rss, meas_rss),
                        pred_acct / 1048576, meas_acct / 1048576, 100 * rel(pred_acct, meas_acct));
            std::fflush(stdout);
            const QString what =
                QString("%1 %2%3 %4").arg(c.name, c.mode, c.recompute ? " recompute" : "", c.bcd);
            // Drawn sets (lisa, importance) re-make buffers of other sizes every period: the
            // engine's accounting matches the plan, but glibc keeps freed buffers resident
            // (measured on the wide model: RSS 14 % (lisa) and 20 % (importance, γ = 3) above
            // the accounting), which the planner does not model yet.
            const std::string extra = c.bcd;
            const bool drawn = extra.find("lisa") != std::string::npos ||
                               extra.find("importance") != std::string::npos;
            if (!drawn)
                QVERIFY2(
                    rel(pred_rss, meas_rss) <= 0.10,
                    qPrintable(
                        what +
                        QString(": RSS predicted %1, measured %2").arg(pred_rss).arg(meas_rss)));
            QVERIFY2(rel(pred_acct, meas_acct) <= 0.10,
                     qPrintable(what + QString(": accounting predicted %1, measured %2")
                                           .arg(pred_acct)
                                           .arg(meas_acct)));
            fs::remove_all(dir); // keep the temporary folder small
        }
    }

    // bf16 mixed precision: full training holds 16 bytes per parameter (weights 2, gradients 2,
    // fp32 master + Adam moments 12); BCD holds 2 per parameter plus 16 per parameter of the
    // active block — BAdam's 2M + 16M/D.
    void bytes_per_parameter() {
        bcd::PlanInput in = seven_b("A100-80GB x1", 1, 1, 512);
        const std::uint64_t P = in.model.num_params();
        // Llama-2-7b-hf's parameter count as Hugging Face reports it (model.num_parameters(),
        // 6 738 415 616, "6.74B" on the model card): the preset must be the real model.
        QCOMPARE(P, std::uint64_t{6738415616});
        bcd::Setting s;
        const bcd::Plan full = bcd::evaluate_setting(in, bcd::Mode::Full, s);
        QCOMPARE(full.memory.weights + full.memory.gradients + full.memory.optimizer, 16 * P);
        const bcd::Plan bcd = bcd::evaluate_setting(in, bcd::Mode::Bcd, s);
        QCOMPARE(bcd.memory.weights, 2 * P);
        QCOMPARE(bcd.memory.gradients + bcd.memory.optimizer, 16 * bcd.worst_block_params);
        QCOMPARE(bcd.worst_block_name,
                 std::string("layers.0")); // the largest block that keeps every layer
        // One layer, from the published total: less the embedding and the untied head (32 000 ×
        // 4096 each, config.json's vocab_size × hidden_size) and the final norm (4096), over 32.
        QCOMPARE(bcd.worst_block_params,
                 (std::uint64_t{6738415616} - 2ULL * 32000 * 4096 - 4096) / 32);
        // BAdam's table: Llama-2-7B 21.8 GB with its activations; ours without them is 2M + 16M/D.
        const double D = 32, M = static_cast<double>(P) / 1e9;
        QVERIFY(std::fabs(static_cast<double>(bcd.memory.weights + bcd.memory.gradients +
                                              bcd.memory.optimizer) /
                              1e9 -
                          (2 * M + 16 * M / D)) < 0.3);
        // ZeRO: each stage shards more.
        bcd::PlanInput in8 = seven_b("A100-80GB x8", 1, 1, 512);
        std::uint64_t prev = UINT64_MAX;
        for (auto sh : {bcd::Sharding::None, bcd::Sharding::Zero1, bcd::Sharding::Zero2,
                        bcd::Sharding::Zero3}) {
            s.sharding = sh;
            const auto t = bcd::evaluate_setting(in8, bcd::Mode::Full, s).memory.total();
            QVERIFY2(t < prev, qPrintable(QString::fromStdString(bcd::to_string(sh))));
            prev = t;
        }
        s.sharding = bcd::Sharding::Zero1;
        const auto z1 = bcd::evaluate_setting(in8, bcd::Mode::Full, s);
        QCOMPARE(z1.memory.optimizer, 12 * P / 8);
        s.offload = bcd::Offload::Optimizer;
        const auto off = bcd::evaluate_setting(in8, bcd::Mode::Full, s);
        QCOMPARE(off.memory.optimizer, std::uint64_t{0});
        QCOMPARE(off.host_bytes, 16 * P); // master, moments and an fp32 gradient copy, one node
    }

    // Activations: recomputation keeps a layer's input only; in BCD the head block keeps no
    // layer's activations and the embedding block keeps them all.
    // Active sets in bf16: LISA with γ = 2 holds the gradients (4 bytes), master and moments (12)
    // of the embedding, the head and two layers; γ = 2 in ascending order the largest neighbours.
    void active_sets_memory() {
        bcd::PlanInput in = seven_b("A100-80GB x1", 1, 1, 512);
        bcd::Setting s;
        s.micro_batch = 1;
        s.layers_per_block = 1;
        const auto one = bcd::evaluate_setting(in, bcd::Mode::Bcd, s);
        const std::uint64_t V = 32000, h = 4096;
        const bcd::ParamLayout lay(in.model);
        const auto blocks = bcd::default_blocks(lay, 1, true, true);
        const std::uint64_t embed = blocks.front().params, head = blocks.back().params,
                            l0 = blocks[1].params;
        QCOMPARE(embed, V * h);
        in.order = "lisa";
        in.active_blocks = 2;
        const auto lisa = bcd::evaluate_setting(in, bcd::Mode::Bcd, s);
        QCOMPARE(lisa.memory.gradients, 4 * (embed + head + 2 * l0));
        QCOMPARE(lisa.memory.optimizer, 12 * (embed + head + 2 * l0));
        in.order = "ascending";
        const auto two = bcd::evaluate_setting(in, bcd::Mode::Bcd, s);
        // Sets start at even places of the cycle embed, layers.0 … layers.31, head: the largest
        // are two layers (202 M parameters each, against 131 M for the embedding and for the
        // head), the lowest such pair keeping the most activations.
        QCOMPARE(two.memory.gradients, 4 * (2 * l0));
        QCOMPARE(two.worst_block_name, std::string("layers.1+layers.2"));
        QVERIFY(two.memory.total() > one.memory.total());
        QVERIFY(lisa.memory.total() > two.memory.total());
        // Without a reset the whole model's state is kept, whatever the sets.
        in.reset_state_on_switch = false;
        const auto kept = bcd::evaluate_setting(in, bcd::Mode::Bcd, s);
        QCOMPARE(kept.memory.optimizer, 12 * in.model.num_params());
        // The time model averages the sets: two blocks cost more FLOPs per token than one.
        QVERIFY(bcd::flops_per_token(in, bcd::Mode::Bcd, s) > [&] {
            bcd::PlanInput g1 = in;
            g1.active_blocks = 1;
            return bcd::flops_per_token(g1, bcd::Mode::Bcd, s);
        }());
    }

    // The planner on a real Hugging Face model, against its own files: the parameter count and
    // the fp32 weight bytes from the tensor shapes and the data size of model.safetensors (read
    // here from its header, not by the engine), the blocks from the tensors' names.
    void real_tiny_llama_from_its_files() {
        const std::filesystem::path dir =
            std::filesystem::path(BCD_REAL_DATA_DIR) / "models/tiny-random-llama";
        const auto file = dir / "model.safetensors";
        if (!std::filesystem::is_regular_file(file))
            QSKIP(qPrintable(QString("no %1 (the real data folder, ../shared/data/real)")
                                 .arg(QString::fromStdString(file.string()))));
        std::ifstream in(file, std::ios::binary);
        unsigned char len8[8];
        QVERIFY(in.read(reinterpret_cast<char*>(len8), 8));
        std::uint64_t header_len = 0;
        for (int i = 7; i >= 0; --i) header_len = header_len << 8 | len8[i]; // little-endian
        std::string header(header_len, '\0');
        QVERIFY(in.read(header.data(), static_cast<std::streamsize>(header_len)));
        const json tensors = json::parse(header);
        std::uint64_t total = 0, embed = 0, layer0 = 0;
        for (const auto& [name, t] : tensors.items()) {
            if (name == "__metadata__") continue;
            QCOMPARE(t.at("dtype").get<std::string>(), std::string("F32"));
            std::uint64_t n = 1;
            for (const auto& d : t.at("shape")) n *= d.get<std::uint64_t>();
            total += n;
            if (name == "model.embed_tokens.weight") embed = n;
            if (name.starts_with("model.layers.0.")) layer0 += n;
        }
        const std::uint64_t data_bytes = std::filesystem::file_size(file) - 8 - header_len;
        QCOMPARE(data_bytes, 4 * total); // the file is what its header says
        QCOMPARE(embed, std::uint64_t{32000 * 16});

        bcd::PlanInput pi;
        pi.model = bcd::load_model_config(dir);
        pi.precision = bcd::Precision::Fp32;
        pi.seq_len = 32;
        pi.batch_size = 1;
        pi.hardware = bcd::Hardware::local_cpu(1);
        QCOMPARE(pi.model.num_params(), total);
        bcd::Setting s;
        const bcd::Plan full = bcd::evaluate_setting(pi, bcd::Mode::Full, s);
        QCOMPARE(full.params, total);
        QCOMPARE(full.memory.weights, data_bytes); // fp32 weights: the file's tensor bytes
        const auto blocks = bcd::default_blocks(bcd::ParamLayout(pi.model), 1, true, true);
        QCOMPARE(blocks.size(), std::size_t{4}); // embed, layers.0, layers.1, head
        QCOMPARE(blocks.front().params, embed);
        QCOMPARE(blocks[1].params, layer0);
        std::uint64_t sum = 0;
        for (const auto& b : blocks) sum += b.params;
        QCOMPARE(sum, total);
    }

    void activations() {
        bcd::PlanInput in = seven_b("A100-80GB x1", 1, 1, 2048);
        bcd::Setting s;
        const auto plain = bcd::evaluate_setting(in, bcd::Mode::Full, s);
        s.recompute = true;
        const auto rc = bcd::evaluate_setting(in, bcd::Mode::Full, s);
        // Korthikanti et al. adapted: per layer and token 2(4h + 2h_q + 2h_kv + 3f) + 4a + 8 bytes.
        const double per_layer = 2.0 * (4 * 4096 + 2 * 4096 + 2 * 4096 + 3 * 11008) + 4 * 32 + 8;
        const double expect = 32 * per_layer * 2048 + (2 * 2 * 4096 + 4) * 2048.0;
        QCOMPARE(static_cast<double>(plain.memory.activations), expect);
        QVERIFY(rc.memory.activations * 10 < plain.memory.activations);
        QCOMPARE(plain.memory.logits, std::uint64_t{6} * 2048 * 32000);
    }

    // FLOPs per token: full = 6 × matmul parameters + causal attention (forward 2·T·h_q per layer,
    // backward 2.5 × that); BCD averages a truncated backward over the blocks and costs about half.
    void flops() {
        bcd::PlanInput in = seven_b("A100-80GB x8", 1, 1, 2048);
        bcd::Setting s;
        const double h = 4096, f = 11008, V = 32000, L = 32, T = 2048;
        const double matmul = L * (4 * h * h + 3 * h * f) + V * h;
        const double attn = L * 2 * T * h;
        QCOMPARE(bcd::flops_per_token(in, bcd::Mode::Full, s), 6 * matmul + 3.5 * attn);
        const double ratio = bcd::flops_per_token(in, bcd::Mode::Bcd, s) /
                             bcd::flops_per_token(in, bcd::Mode::Full, s);
        QVERIFY2(ratio > 0.45 && ratio < 0.6, qPrintable(QString::number(ratio)));
        s.recompute = true;
        QCOMPARE(bcd::flops_per_token(in, bcd::Mode::Full, s),
                 6 * matmul + 3.5 * attn + (matmul - V * h) * 2 + attn);
    }

    // Time and cost follow from the FLOPs, the peak and the efficiency; cost is GPUs × hours ×
    // price.
    void time_and_cost() {
        bcd::PlanInput in = seven_b("H100 x8");
        in.efficiency = 0.5;
        const auto p = bcd::make_plan(in, bcd::Mode::Full);
        QVERIFY(p.fits);
        QVERIFY(p.time.known);
        QCOMPARE(p.time.peak_flops, 989e12); // NVIDIA H100 SXM datasheet: dense BF16, 989 TFLOPS
        QVERIFY(std::fabs(p.time.compute_s - 32 * 2048 * p.time.flops_per_token / (989e12 * 0.5)) <
                1e-9 * p.time.compute_s);
        QVERIFY(std::fabs(p.time.tokens_per_s - p.time.tokens_per_step / p.time.step_s) < 1e-6);
        QCOMPARE(*p.time.usd_per_hour, 8 * 2.99);
        QVERIFY(std::fabs(*p.time.usd_per_billion_tokens -
                          p.time.hours_per_billion_tokens * 8 * 2.99) < 1e-9);
        QVERIFY(std::fabs(p.time.hours_per_billion_tokens - 1e9 / p.time.tokens_per_s / 3600) <
                1e-9);
        // A faster link never makes a step slower; BCD's all-reduce is its block's fp32 gradients.
        const auto b = bcd::make_plan(in, bcd::Mode::Bcd);
        QVERIFY(b.time.comm_s > 0);
        bcd::PlanInput one = seven_b("H100 x1");
        QCOMPARE(bcd::make_plan(one, bcd::Mode::Bcd).time.comm_s, 0.0);
    }

    // One evaluation's tokens, read from the run config: every whole validation window, or the
    // first output.eval_batches batches of them (what the engine reads).
    void eval_tokens_from_the_config() {
        const auto dir = fresh_dir("plan/eval-tokens");
        bcd::Model m(bcd::ModelConfig::preset("tiny"));
        m.init_random(1);
        m.save(dir / "model");
        write_text(dir, 20000);
        write_text(dir, 3000, "val.txt");
        json cfg = base_config(dir);
        cfg["data"]["val"] = (dir / "val.txt").string();
        cfg["data"]["seq_len"] = 32;
        cfg["train"] = {{"steps", 10}, {"batch_size", 4}};
        const auto tokens = [&](long batches) {
            cfg["output"]["eval_batches"] = batches;
            std::ofstream(dir / "run.json") << cfg.dump();
            return bcd::PlanInput::from_run_config(bcd::RunConfig::load(dir / "run.json"),
                                                   bcd::load_model_config(dir / "model"))
                .eval_tokens;
        };
        QCOMPARE(tokens(0), std::uint64_t{93 * 32});    // (3000 − 1) / 32 windows, byte-level
        QCOMPARE(tokens(2), std::uint64_t{2 * 4 * 32}); // 2 batches of 4 windows
        QCOMPARE(tokens(100), std::uint64_t{93 * 32});  // more than there are: all of them
    }

    // The whole run (docs/planner.md#run-time): steps × step time, plus evaluations (a forward
    // over the validation tokens, shared by the GPUs) at every eval_every and the last step,
    // checkpoints (fp32 weights + the trained part's AdamW state at the assumed disk rate) at
    // every checkpoint_every and the last step, and the final model. More frequent evaluation
    // or checkpoints take longer; without steps there is no run total.
    void run_time_with_eval_and_checkpoints() {
        bcd::PlanInput in = seven_b("H100 x8");
        in.efficiency = 0.5;
        QCOMPARE(bcd::make_plan(in, bcd::Mode::Bcd).time.run_s, 0.0);
        in.steps = 1000;
        in.evaluates = true;
        in.eval_tokens = 4'000'000;
        const auto plain = bcd::make_plan(in, bcd::Mode::Bcd);
        const auto& t0 = plain.time;
        QVERIFY(t0.known);
        QCOMPARE(t0.train_s, 1000 * t0.step_s);
        QCOMPARE(t0.evals, 1L); // eval_every 0: at the end only
        QCOMPARE(t0.checkpoints, 0L);
        const double fwd = 7.0e9; // ≈ 2 · parameters per token, plus attention
        QVERIFY(t0.eval_s > 4e6 * fwd / (8 * 989e12 * 0.5) &&
                t0.eval_s < 4e6 * 2 * fwd / (8 * 989e12 * 0.5));
        QVERIFY(std::fabs(t0.final_s - 4.0 * plain.params / 0.5e9) < 1e-9);
        QVERIFY(std::fabs(t0.run_s - (t0.train_s + t0.eval_s + t0.final_s)) < 1e-9 * t0.run_s);

        in.eval_every = 300;       // 300, 600, 900 and 1000
        in.checkpoint_every = 400; // 400, 800 and 1000
        const auto both = bcd::make_plan(in, bcd::Mode::Bcd);
        const auto& t = both.time;
        QCOMPARE(t.evals, 4L);
        QCOMPARE(t.checkpoints, 3L);
        QCOMPARE(t.eval_s, t0.eval_s);
        // BCD's checkpoint: every weight in fp32 and its largest block's two AdamW moments.
        QCOMPARE(t.checkpoint_bytes, 4 * both.params + 8 * both.worst_block_params);
        QVERIFY(std::fabs(t.checkpoint_s - t.checkpoint_bytes / 0.5e9) < 1e-9);
        QVERIFY(std::fabs(t.run_s - (t.train_s + 4 * t.eval_s + 3 * t.checkpoint_s + t.final_s)) <
                1e-9 * t.run_s);
        QVERIFY(t.run_s > t0.run_s);
        in.eval_every = 100;
        in.checkpoint_every = 100;
        const auto often = bcd::make_plan(in, bcd::Mode::Bcd).time;
        QCOMPARE(often.evals, 10L);
        QCOMPARE(often.checkpoints, 10L);
        QVERIFY(often.run_s > t.run_s);
        // Full training's checkpoint holds every parameter's optimizer state.
        const auto full = bcd::make_plan(in, bcd::Mode::Full);
        QCOMPARE(full.time.checkpoint_bytes, 12 * full.params);
        // In the JSON of `bcd-train plan`.
        const auto j = bcd::to_json(bcd::make_plan(in));
        QCOMPARE(j.at("bcd").at("run").at("evals").get<long>(), 10L);
        QCOMPARE(j.at("bcd").at("run").at("run_s").get<double>(), often.run_s);
    }

    // Data parallelism on CPUs: the world size is ranks × nodes; each rank plans for its share
    // of the node's memory and cores; a step's tokens are the world's; only the trained block's
    // fp32 gradients are all-reduced, through memory between the ranks of a node and over the
    // network between nodes.
    void cpu_data_parallel() {
        bcd::PlanInput in;
        in.model = wide_model();
        in.seq_len = 128;
        in.batch_size = 4;
        in.grad_accum = 2;
        in.precision = bcd::Precision::Fp32;
        in.efficiency = 0.5;
        in.hardware.cpu.memory_bytes = 16ULL << 30;
        in.hardware.cpu.threads = 4;
        in.hardware.cpu.cores = 8;
        const bcd::PlanPair one = bcd::make_plan(in);
        QCOMPARE(one.bcd.world_size, 1);
        QCOMPARE(one.bcd.time.comm_s, 0.0);
        QCOMPARE(one.full.time.comm_s, 0.0);

        bcd::PlanInput twoIn = in;
        twoIn.hardware.cpu.ranks = 2;
        const bcd::PlanPair two = bcd::make_plan(twoIn);
        QCOMPARE(two.bcd.world_size, 2);
        QCOMPARE(two.bcd.capacity_bytes, one.bcd.capacity_bytes / 2);
        QCOMPARE(two.bcd.setting.micro_batch, one.bcd.setting.micro_batch);
        QCOMPARE(two.bcd.time.tokens_per_step, 2 * one.bcd.time.tokens_per_step);
        // 2 ranks × 4 threads fit in 8 cores: each computes as fast as one process alone.
        QCOMPARE(two.bcd.time.compute_s, one.bcd.time.compute_s);
        const double memory = in.constants.cpu_memory_gbps * 1e9;
        // Ring all-reduce of 2 ranks: 2(n−1)/n = 1 × the bytes; full training: every parameter.
        QVERIFY(rel(two.full.time.comm_s, 4.0 * static_cast<double>(two.full.params) / memory) <
                1e-9);
        // BCD: the active block's share only (4 layers and the embedding and head blocks).
        QVERIFY(two.bcd.time.comm_s > 0);
        QVERIFY(two.bcd.time.comm_s < 0.5 * two.full.time.comm_s);
        QVERIFY(QString::fromStdString(two.bcd.device).startsWith("2 processes on"));

        // 4 ranks of 4 threads on 8 cores: each gets 2 cores.
        bcd::PlanInput fourIn = in;
        fourIn.hardware.cpu.ranks = 4;
        const bcd::PlanPair four = bcd::make_plan(fourIn);
        QCOMPARE(four.bcd.world_size, 4);
        QCOMPARE(four.bcd.time.peak_flops, one.bcd.time.peak_flops / 2);
        QVERIFY(rel(four.full.time.comm_s,
                    1.5 * 4.0 * static_cast<double>(four.full.params) / memory) < 1e-9);

        // 2 nodes of one rank: the network between them (10 GbE by default).
        bcd::PlanInput nodesIn = in;
        nodesIn.hardware.cpu.nodes = 2;
        const bcd::PlanPair nodes = bcd::make_plan(nodesIn);
        QCOMPARE(nodes.full.world_size, 2);
        QCOMPARE(nodes.full.capacity_bytes, one.full.capacity_bytes);
        QVERIFY(rel(nodes.full.time.comm_s, 4.0 * static_cast<double>(nodes.full.params) /
                                                (in.constants.cpu_network_gbps * 1e9)) < 1e-9);
        QVERIFY(QString::fromStdString(nodes.full.device).startsWith("2 nodes, "));
    }

    // The search: 7B on eight 24 GB cards fits full training only sharded or offloaded, and BCD;
    // on one card, without sharding or offload, full training cannot fit and the advice says how
    // much memory it needs; the advised sequence length and GPU count are checked by planning
    // them (they fit, one step further does not).
    void fit_search_and_advice() {
        {
            bcd::PlanInput in = seven_b("RTX 4090 x8");
            const auto pp = bcd::make_plan(in);
            QVERIFY(pp.full.fits);
            QVERIFY(pp.full.setting.sharding != bcd::Sharding::None ||
                    pp.full.setting.offload != bcd::Offload::None);
            QVERIFY(pp.bcd.fits);
            QVERIFY(pp.bcd.peak_bytes <= pp.bcd.usable_bytes);
            QVERIFY(pp.full.peak_bytes <= pp.full.usable_bytes);
            QCOMPARE(pp.bcd.setting.micro_batch * pp.bcd.setting.grad_accum, 32);
            QCOMPARE(pp.full.alternatives.size(), std::size_t{9});
        }
        {
            // Without sharding or offload full training cannot fit on one 24 GB card.
            bcd::PlanInput in = seven_b("RTX 4090");
            in.force_sharding = bcd::Sharding::None;
            in.force_offload = bcd::Offload::None;
            const auto p = bcd::make_plan(in, bcd::Mode::Full);
            QVERIFY(!p.fits);
            QVERIFY(!p.advice.empty());
            bool memory = false, gpus = false;
            for (const auto& a : p.advice) {
                memory = memory || (a.kind == "memory" && a.value > 100e9);
                gpus = gpus || a.kind == "gpus";
            }
            QVERIFY(memory); // ≥ 16 bytes per parameter
            QVERIFY(!gpus);  // sharding was ruled out
        }
        {
            // A sequence too long for anything on a 24 GB card: BCD advises a shorter one.
            bcd::PlanInput in = seven_b("RTX 4090", 1, 1, 32768);
            in.model.max_position_embeddings = 32768;
            const auto p = bcd::make_plan(in, bcd::Mode::Bcd);
            QVERIFY(!p.fits);
            bool seq = false;
            for (const auto& a : p.advice)
                if (a.kind == "seq_len") {
                    seq = true;
                    QVERIFY(a.value >= 1 && a.value < 32768);
                    bcd::PlanInput shorter = in;
                    shorter.seq_len = static_cast<int>(a.value);
                    QVERIFY(bcd::make_plan(shorter, bcd::Mode::Bcd).fits);
                    shorter.seq_len = static_cast<int>(a.value) + 1;
                    QVERIFY(!bcd::make_plan(shorter, bcd::Mode::Bcd).fits);
                }
            QVERIFY(seq);
        }
        {
            // Full training on too few GPUs without offload: the advice names the GPU count that
            // fits.
            bcd::PlanInput in = seven_b("RTX 4090 x2");
            in.force_offload = bcd::Offload::None;
            const auto p = bcd::make_plan(in, bcd::Mode::Full);
            QVERIFY(!p.fits);
            for (const auto& a : p.advice)
                if (a.kind == "gpus") {
                    bcd::PlanInput more = in;
                    more.hardware.gpus.front().per_node = static_cast<int>(a.value);
                    QVERIFY(bcd::make_plan(more, bcd::Mode::Full).fits);
                    more.hardware.gpus.front().per_node = static_cast<int>(a.value) - 1;
                    QVERIFY(!bcd::make_plan(more, bcd::Mode::Full).fits);
                    return;
                }
            QFAIL("no GPU-count advice");
        }
    }

    void gpu_specs() {
        const auto t = bcd::GpuTable::builtin();
        auto g = bcd::parse_gpu_spec("RTX 4090:24GiB x8", t, "test");
        QCOMPARE(g.type.name, std::string("RTX 4090"));
        QCOMPARE(g.type.memory_bytes, 24ULL << 30);
        QCOMPARE(g.per_node, 8);
        QCOMPARE(g.nodes, 1);
        g = bcd::parse_gpu_spec("rtx4090", t, "test");
        QCOMPARE(g.type.name, std::string("RTX 4090"));
        QCOMPARE(g.per_node, 1);
        g = bcd::parse_gpu_spec("A100-80GB x8 @4", t, "test");
        QCOMPARE(g.per_node, 8);
        QCOMPARE(g.nodes, 4);
        QCOMPARE(g.type.bf16_tflops, 312.0); // NVIDIA A100 datasheet: dense BF16 tensor TFLOPS
        g = bcd::parse_gpu_spec("H100x8", t, "test");
        QCOMPARE(g.type.name, std::string("H100 SXM"));
        QCOMPARE(g.per_node, 8);
        g = bcd::parse_gpu_spec("A100:40GB", t, "test"); // a shared alias: the memory decides
        QCOMPARE(g.type.name, std::string("A100-40GB"));
        QCOMPARE(g.type.memory_bytes, 40000000000ULL);
        g = bcd::parse_gpu_spec("My Card:48GB x2", t, "test");
        QVERIFY(!g.known);
        QCOMPARE(g.type.memory_bytes, 48000000000ULL);
        QCOMPARE(g.type.bf16_tflops, 0.0);
        for (const char* bad :
             {"", "Mystery GPU", "RTX 4090:24", "RTX 4090:lots", "RTX 4090 x", "RTX 4090 x0",
              "RTX 4090 @", "A100", "A100-80GB x8 @two", ":24GiB"}) {
            try {
                bcd::parse_gpu_spec(bad, t, "test");
                QFAIL(qPrintable(QString("accepted: ") + bad));
            } catch (const bcd::InputError& e) {
                QVERIFY2(std::string(e.what()).find("--gpu") != std::string::npos, e.what());
            }
        }
        QCOMPARE(bcd::parse_memory_size("80GB").value(), 80000000000ULL);
        QCOMPARE(bcd::parse_memory_size("1.5 TiB").value(), 1649267441664ULL); // 1.5 × 2^40
        QVERIFY(!bcd::parse_memory_size("12 parsecs"));
    }

    // The built-in price table is dated and has the issue's figures; a user file adds and
    // overrides entries; a malformed one is refused with its name.
    void tables() {
        auto prices = bcd::PriceTable::builtin();
        QVERIFY(!prices.date().empty());
        QVERIFY(!prices.sources().empty());
        QCOMPARE(*prices.usd_per_hour("RTX 4090"), 0.50);
        QCOMPARE(*prices.usd_per_hour("a100-80gb"), 1.70);
        QCOMPARE(*prices.usd_per_hour("A800-80GB"), 1.70);
        const auto dir = fresh_dir("plan/tables");
        std::ofstream(dir / "gpu-prices.json")
            << R"({"date": "2026-01", "prices": {"RTX 4090": 0.35, "MI300X": 2.5}})";
        std::ofstream(dir / "gpus.json")
            << R"({"gpus": [{"name": "MI300X", "memory": "192GB", "bf16_tflops": 1307, "memory_gbps": 5300, "link": "pcie5"}]})";
        prices = bcd::load_price_table(dir);
        QCOMPARE(*prices.usd_per_hour("RTX 4090"), 0.35);
        QCOMPARE(*prices.usd_per_hour("MI300X"), 2.5);
        QVERIFY(prices.date().find("2026-01") != std::string::npos);
        const auto gpus = bcd::load_gpu_table(dir);
        const auto g = bcd::parse_gpu_spec("MI300X x8", gpus, "test");
        QCOMPARE(g.type.memory_bytes, 192000000000ULL);
        const auto hw = bcd::Hardware::from_gpus({g}, gpus, prices);
        QCOMPARE(*hw.usd_per_hour(), 8 * 2.5);
        std::ofstream(dir / "gpu-prices.json") << R"({"prices": {"RTX 4090": "cheap"}})";
        try {
            bcd::load_price_table(dir);
            QFAIL("a malformed price accepted");
        } catch (const bcd::InputError& e) {
            QVERIFY(std::string(e.what()).find("gpu-prices.json") != std::string::npos);
            QVERIFY(std::string(e.what()).find("RTX 4090") != std::string::npos);
        }
    }

    // The JSON of DESIGN.md §3.
    void json_shape() {
        const auto j = bcd::to_json(bcd::make_plan(seven_b("RTX 4090 x8")));
        for (const char* mode : {"full", "bcd"}) {
            const auto& p = j.at(mode);
            QVERIFY(p.at("fits").is_boolean());
            for (const char* k : {"capacity_bytes", "layers_per_block", "tokens_per_s",
                                  "hours_per_billion_tokens", "usd_per_billion_tokens"})
                QVERIFY2(p.at(k).is_number(), k);
            QVERIFY(p.at("advice").is_array());
            std::uint64_t sum = 0;
            for (const char* k : {"weights", "gradients", "optimizer", "activations", "workspace"})
                sum += p.at("memory").at(k).get<std::uint64_t>();
            sum += p.at("memory").at("logits").get<std::uint64_t>() +
                   p.at("memory").at("runtime").get<std::uint64_t>();
            QCOMPARE(p.at("memory").at("total").get<std::uint64_t>(), sum);
        }
    }

    // Full training and BCD side by side are planned at one micro-batch and recomputation
    // (full's, when it fits), and a plan that does not fit names one peak everywhere: the
    // headline's peak_bytes is the memory advice's figure.
    void like_for_like_and_one_peak() {
        // A 7B case where the search, planning each mode alone, picks different micro-batches
        // (full training needs a smaller one or recomputation): the first of a few.
        std::optional<bcd::PlanInput> found;
        for (const char* gpu : {"A100-80GB x8", "RTX 4090 x8", "A100-40GB x8", "H100 x8"})
            for (int seq : {512, 2048})
                for (int batch : {8, 16, 32}) {
                    if (found) break;
                    const bcd::PlanInput t = seven_b(gpu, batch, 1, seq);
                    const bcd::Plan f = bcd::make_plan(t, bcd::Mode::Full);
                    const bcd::Plan b = bcd::make_plan(t, bcd::Mode::Bcd);
                    if (f.fits && b.fits &&
                        (b.setting.micro_batch != f.setting.micro_batch ||
                         b.setting.recompute != f.setting.recompute))
                        found = t;
                }
        QVERIFY2(found, "no case where full and BCD alone choose different settings");
        const bcd::PlanInput in = *found;
        const bcd::PlanPair pp = bcd::make_plan(in);
        QCOMPARE(pp.bcd.setting.micro_batch, pp.full.setting.micro_batch);
        QCOMPARE(pp.bcd.setting.grad_accum, pp.full.setting.grad_accum);
        QCOMPARE(pp.bcd.setting.recompute, pp.full.setting.recompute);
        QVERIFY(pp.bcd.fits);
        bool said = false;
        for (const std::string& n : pp.bcd.notes)
            said = said || n.find("like for like") != std::string::npos;
        QVERIFY(said);
        // BCD's memory at the shared setting is no more than at its own choice plus the larger
        // batch's activations: it is the plan of that setting.
        QVERIFY(pp.bcd.peak_bytes <= pp.bcd.usable_bytes);

        // Full training alone on one card does not fit: BCD says it is not compared alike.
        bcd::PlanInput one = seven_b("A100-80GB x1", 4, 1, 512);
        one.force_sharding = bcd::Sharding::None;
        one.force_offload = bcd::Offload::None;
        const bcd::PlanPair single = bcd::make_plan(one);
        QVERIFY(!single.full.fits);
        QVERIFY(single.bcd.fits);
        said = false;
        for (const std::string& n : single.bcd.notes)
            said = said || n.find("full training does not fit") != std::string::npos;
        QVERIFY(said);
        // Two blocks at once where one fits: the advice says to train one at a time. The first
        // sequence length (doubling) at which two no longer fit and one still does.
        {
            bool found = false;
            for (int seq = 1024; seq <= 65536 && !found; seq *= 2) {
                bcd::PlanInput two = seven_b("RTX 4090", 1, 1, seq);
                two.model.max_position_embeddings = std::max(4096, seq);
                two.order = "random";
                two.active_blocks = 2;
                bcd::PlanInput one = two;
                one.active_blocks = 1;
                const bcd::Plan p2 = bcd::make_plan(two, bcd::Mode::Bcd);
                if (p2.fits || !bcd::make_plan(one, bcd::Mode::Bcd).fits) continue;
                found = true;
                bool advised = false;
                for (const bcd::Advice& a : p2.advice)
                    advised = advised || (a.kind == "active_blocks" && a.value == 1);
                QVERIFY2(advised, qPrintable(QStringLiteral("seq_len %1").arg(seq)));
            }
            QVERIFY2(found, "no sequence length where one block fits and two do not");
        }
        // One figure: the memory advice names the plan's own peak.
        bool memory = false;
        for (const bcd::Advice& a : single.full.advice)
            if (a.kind == "memory") {
                memory = true;
                QCOMPARE(static_cast<std::uint64_t>(a.value), single.full.peak_bytes);
            }
        QVERIFY(memory);
    }
};

QTEST_APPLESS_MAIN(TestPlan)
#include "tst_plan.moc"
