// The training loop's invariants, in process: frozen tensors stay bitwise unchanged, optimizer
// state exists for the active block only, one all-holding block equals full training bitwise,
// the schedule and switch records, and the run directory contract.

#include "bcd/blocks.h"
#include "bcd/dataset.h"
#include "bcd/errors.h"
#include "bcd/model.h"
#include "bcd/run_config.h"
#include "bcd/trainer.h"
#include "train_fixture.h"

#include <QtTest>
#include <cstring>

using namespace fixture;

namespace {

bcd::Model load(const fs::path& p) {
    return bcd::Model::load(p);
}

bool tensor_equal(const bcd::Model& a, const bcd::Model& b, int i) {
    auto x = a.tensor(i), y = b.tensor(i);
    return std::memcmp(x.data(), y.data(), x.size_bytes()) == 0;
}

} // namespace

class TestTrainer : public QObject {
    Q_OBJECT
private slots:
    // Across each block's window only that block's tensors change; everything else is bitwise
    // identical. Checkpoints at every switch give the weights at each window's end.
    void frozen_tensors_stay_bitwise_unchanged() {
        const auto dir = fresh_dir("trainer/frozen");
        write_model(dir);
        write_text(dir, 20000);
        json cfg = base_config(dir);
        cfg["train"]["steps"] = 15;
        cfg["output"]["checkpoint_every"] = 3;
        cfg["output"]["keep_checkpoints"] = 100;
        QCOMPARE(run_training(dir, cfg), 0);
        const fs::path run = dir / "run";
        bcd::Model prev = load(dir / "model");
        const auto blocks = bcd::default_blocks(prev.layout(), 1, true, true);
        QCOMPARE(static_cast<int>(blocks.size()), 5);
        for (long s = 3; s <= 15; s += 3) {
            char name[32];
            std::snprintf(name, sizeof name, "step-%08ld", s);
            bcd::Model cur = load(run / "checkpoints" / name);
            const int active = static_cast<int>((s - 1) / 3) % 5; // ascending, 3 steps each
            int changed = 0;
            for (std::size_t i = 0; i < prev.layout().params().size(); ++i) {
                const bool in_block =
                    std::count(blocks[static_cast<std::size_t>(active)].tensors.begin(),
                               blocks[static_cast<std::size_t>(active)].tensors.end(),
                               static_cast<int>(i)) > 0;
                const bool same = tensor_equal(prev, cur, static_cast<int>(i));
                if (!in_block)
                    QVERIFY2(same, qPrintable(QString("step %1: frozen %2 changed")
                                                  .arg(s)
                                                  .arg(prev.layout().params()[i].name.c_str())));
                else
                    changed += same ? 0 : 1;
            }
            QVERIFY2(changed > 0, "the active block did not change");
            prev = std::move(cur);
        }
        // Schedule: the step records' blocks and the switch records.
        const auto steps = records(run, "step");
        QCOMPARE(static_cast<int>(steps.size()), 15);
        for (const auto& r : steps)
            QCOMPARE(r["block"].get<int>(), static_cast<int>((r["step"].get<long>() - 1) / 3) % 5);
        const auto sw = records(run, "switch");
        QCOMPARE(static_cast<int>(sw.size()), 4);
        QCOMPARE(sw[0]["step"].get<long>(), 3L);
        QCOMPARE(sw[0]["from"].get<int>(), 0);
        QCOMPARE(sw[0]["to"].get<int>(), 1);
        // The final model equals the last checkpoint (no step after it).
        bcd::Model fin = load(run / "final");
        QCOMPARE(std::memcmp(fin.params(), prev.params(), fin.num_floats() * sizeof(float)), 0);
    }

    // Gradients and optimizer state exist for the active block only: AdamW holds 2 floats per
    // parameter of the block (tensors padded to 16 floats), the gradient buffer 1.
    void optimizer_state_is_the_active_blocks_size() {
        const auto dir = fresh_dir("trainer/state_bytes");
        write_model(dir);
        write_text(dir, 20000);
        json cfg = base_config(dir);
        cfg["train"]["steps"] = 10;
        cfg["bcd"]["switch_every"] = 2;
        QCOMPARE(run_training(dir, cfg), 0);
        const bcd::Model m = load(dir / "model");
        const auto blocks = bcd::default_blocks(m.layout(), 1, true, true);
        std::size_t full_padded = 0;
        for (const auto& p : m.layout().params()) full_padded += (p.numel + 15) / 16 * 16;
        for (const auto& r : records(dir / "run", "step")) {
            const auto& b = blocks[r["block"].get<std::size_t>()];
            std::size_t padded = 0;
            for (int t : b.tensors)
                padded += (m.layout().params()[static_cast<std::size_t>(t)].numel + 15) / 16 * 16;
            QCOMPARE(r["mem"]["gradients"].get<std::size_t>(), padded * sizeof(float));
            QCOMPARE(r["mem"]["optimizer"].get<std::size_t>(), 2 * padded * sizeof(float));
            QVERIFY(padded < full_padded / 2);
        }
        // Blocks higher up keep fewer activations (the head block keeps none, but the forward
        // still needs one layer's working set, as much as the last layer keeps).
        std::map<int, std::size_t> acts;
        for (const auto& r : records(dir / "run", "step"))
            acts[r["block"].get<int>()] = r["mem"]["activations"].get<std::size_t>();
        QVERIFY(acts[0] >= acts[1] && acts[1] > acts[2] && acts[2] > acts[3] && acts[3] >= acts[4]);
    }

    // mode: full and BCD with one block that holds every tensor are the same computation.
    void one_block_bcd_equals_full_bitwise() {
        const auto dir = fresh_dir("trainer/one_block");
        write_model(dir);
        write_text(dir, 20000);
        json full = base_config(dir);
        full["bcd"] = {{"mode", "full"}};
        full["train"]["grad_accum"] = 2;
        full["optim"]["grad_clip"] = 0.05; // clipping active
        full["output"]["dir"] = (dir / "full").string();
        QCOMPARE(run_training(dir, full), 0);
        json one = full;
        // active_blocks left to its default (2): capped at the one block there is.
        one["bcd"] = {{"mode", "bcd"},
                      {"blocks", json::array({json::array({"model.", "lm_head."})})},
                      {"switch_every", 2},
                      {"switch_warmup_steps", 0}};
        one["output"]["dir"] = (dir / "one").string();
        QCOMPARE(run_training(dir, one), 0);
        QCOMPARE(losses(dir / "full"), losses(dir / "one"));
        QCOMPARE(records(dir / "one", "switch").size(), std::size_t{0});
        QCOMPARE(file_bytes(dir / "full/final/model.safetensors"),
                 file_bytes(dir / "one/final/model.safetensors"));
        // ... and training did something.
        QVERIFY(file_bytes(dir / "full/final/model.safetensors") !=
                file_bytes(dir / "model/model.safetensors"));
    }

    // Without reset_state_on_switch each visited block keeps its state: optimizer memory grows to
    // the whole model's over a cycle.
    void persistent_state_keeps_every_visited_block() {
        const auto dir = fresh_dir("trainer/persistent");
        write_model(dir);
        write_text(dir, 20000);
        json cfg = base_config(dir);
        cfg["bcd"]["reset_state_on_switch"] = false;
        cfg["bcd"]["switch_every"] = 1;
        cfg["train"]["steps"] = 5;
        QCOMPARE(run_training(dir, cfg), 0);
        const auto steps = records(dir / "run", "step");
        for (std::size_t i = 1; i < steps.size(); ++i)
            QVERIFY(steps[i]["mem"]["optimizer"].get<std::size_t>() >
                    steps[i - 1]["mem"]["optimizer"].get<std::size_t>());
    }

    void run_directory_contract() {
        const auto dir = fresh_dir("trainer/contract");
        write_model(dir);
        write_text(dir, 20000);
        write_text(dir, 3000, "val.txt");
        json cfg = base_config(dir);
        cfg["data"]["val"] = (dir / "val.txt").string();
        cfg["output"]["eval_every"] = 5;
        cfg["output"]["log_every"] = 2;
        QCOMPARE(run_training(dir, cfg), 0);
        const fs::path run = dir / "run";
        for (const char* f : {"run.json", "metrics.jsonl", "status.json", "train.log",
                              "final/config.json", "final/model.safetensors"})
            QVERIFY2(fs::exists(run / f), f);
        const auto all = records(run);
        QCOMPARE(all.front()["t"].get<std::string>(), std::string("start"));
        QCOMPARE(all.back()["t"].get<std::string>(), std::string("end"));
        QCOMPARE(all.back()["status"].get<std::string>(), std::string("finished"));
        const auto start = all.front();
        for (const char* k : {"time", "device", "world_size", "params", "blocks"})
            QVERIFY2(start.contains(k), k);
        QCOMPARE(start["blocks"].size(), std::size_t{5});
        const auto steps = records(run, "step");
        QCOMPARE(steps.size(), std::size_t{6}); // log_every 2 over 12 steps
        long prev_tokens = 0;
        for (const auto& r : steps) {
            for (const char* k : {"step", "tokens", "loss", "lr", "block", "grad_norm", "step_s",
                                  "tok_s", "mem_bytes", "elapsed_s"})
                QVERIFY2(r.contains(k), k);
            QVERIFY(r["tokens"].get<long>() > prev_tokens);
            prev_tokens = r["tokens"].get<long>();
        }
        QCOMPARE(prev_tokens, 12L * 4 * 32);
        const auto evals = records(run, "eval");
        QCOMPARE(evals.size(), std::size_t{3}); // steps 5, 10 and the last
        QCOMPARE(evals.back()["step"].get<long>(), 12L);
        QVERIFY(evals.back()["val_loss"].get<double>() > 0);
        const json status = json::parse(std::ifstream(run / "status.json"));
        QCOMPARE(status["state"].get<std::string>(), std::string("finished"));
        QCOMPARE(status["step"].get<long>(), 12L);
        const json rj = json::parse(std::ifstream(run / "run.json"));
        QVERIFY(rj.contains("config") && rj.contains("engine") && rj.contains("plan"));
        QCOMPARE(rj["config"]["bcd"]["switch_every"].get<long>(), 3L);
        // The final model loads and is the trained one (not the initial).
        QVERIFY(file_bytes(run / "final/model.safetensors") !=
                file_bytes(dir / "model/model.safetensors"));
    }

    // output.eval_batches: an evaluation reads the first N batches of the validation data only.
    // Its phases count N, the start record names N and their tokens, and every val_loss is the
    // one the same run gets with a validation file holding exactly those windows.
    void eval_batches_caps_an_evaluation() {
        const auto dir = fresh_dir("trainer/eval-batches");
        write_model(dir);
        write_text(dir, 20000);
        write_text(dir, 3000, "val.txt");
        json cfg = base_config(dir);
        cfg["data"]["val"] = (dir / "val.txt").string();
        cfg["output"]["eval_every"] = 6;
        cfg["output"]["eval_batches"] = 2;
        QCOMPARE(run_training(dir, cfg), 0);
        const fs::path run = dir / "run";
        const auto all = records(run);
        QCOMPARE(all.front()["eval_batches"].get<long>(), 2L);
        QCOMPARE(all.front()["eval_tokens"].get<long>(), 2L * 4 * 32); // 2 batches of 4 windows
        for (const auto& r : records(run, "phase"))
            if (r["phase"] == "eval") QCOMPARE(r["total"].get<long>(), 2L);
        const auto capped = records(run, "eval");
        QCOMPARE(capped.size(), std::size_t{2}); // steps 6 and 12

        // The same run, its validation file cut to those 8 windows of 32 tokens (+ the last
        // target), read whole.
        std::ifstream whole(dir / "val.txt", std::ios::binary);
        std::string head(8 * 32 + 1, '\0');
        QVERIFY(whole.read(head.data(), static_cast<std::streamsize>(head.size())));
        std::ofstream(dir / "val-head.txt", std::ios::binary) << head;
        cfg["data"]["val"] = (dir / "val-head.txt").string();
        cfg["output"]["eval_batches"] = 0;
        cfg["output"]["dir"] = (dir / "run-head").string();
        QCOMPARE(run_training(dir, cfg, false, "head.json"), 0);
        const auto cut = records(dir / "run-head", "eval");
        QCOMPARE(cut.size(), capped.size());
        for (std::size_t i = 0; i < cut.size(); ++i)
            QCOMPARE(capped[i]["val_loss"].get<double>(), cut[i]["val_loss"].get<double>());

        // Refused below 0, naming the key.
        expect_refused(fresh_dir("trainer/eval-batches-bad"), R"({"output":{"eval_batches":-1}})",
                       "eval_batches");
    }

    // Evaluation, checkpoints and the final model are announced as phases (begin, at most one
    // progress record a second, end with the phase's seconds); step records carry the system
    // figures, and a CPU run has no GPU figures.
    void phase_and_system_records() {
        const auto dir = fresh_dir("trainer/phases");
        write_model(dir);
        write_text(dir, 20000);
        write_text(dir, 3000, "val.txt");
        json cfg = base_config(dir);
        cfg["data"]["val"] = (dir / "val.txt").string();
        cfg["output"]["eval_every"] = 5;
        cfg["output"]["checkpoint_every"] = 6;
        QCOMPARE(run_training(dir, cfg), 0);
        const fs::path run = dir / "run";
        const auto all = records(run);
        // 3000 bytes of byte-level text: (3000 − 1) / 32 = 93 windows in batches of 4.
        QCOMPARE(all.front()["eval_batches"].get<long>(), 24L);
        QCOMPARE(all.front()["eval_tokens"].get<long>(), 93L * 32);
        std::vector<std::string> seen; // "eval@5:begin", ...
        for (std::size_t i = 0; i < all.size(); ++i) {
            const json& r = all[i];
            if (r["t"] != "phase") continue;
            const std::string name = r["phase"], state = r["state"];
            seen.push_back(name + "@" + std::to_string(r["step"].get<long>()) + ":" + state);
            QVERIFY(r["phase_s"].get<double>() >= 0 && r["elapsed_s"].get<double>() > 0);
            if (name == "eval") {
                QCOMPARE(r["total"].get<long>(), 24L);
                if (state == "begin") QCOMPARE(r["done"].get<long>(), 0L);
                if (state == "progress") QVERIFY(r["done"].get<long>() < 24);
                if (state == "end") {
                    QCOMPARE(r["done"].get<long>(), 24L);
                    // The eval record follows its phase's end.
                    QCOMPARE(all[i + 1]["t"].get<std::string>(), std::string("eval"));
                    QCOMPARE(all[i + 1]["step"], r["step"]);
                }
            } else if (state == "end") {
                QVERIFY(r["bytes"].get<long>() > 10000); // a checkpoint or the final model
            }
        }
        std::vector<std::string> expected;
        for (const std::string& e : seen)
            if (e.find(":progress") == std::string::npos) expected.push_back(e);
        QCOMPARE(expected,
                 (std::vector<std::string>{"eval@5:begin", "eval@5:end", "checkpoint@6:begin",
                                           "checkpoint@6:end", "eval@10:begin", "eval@10:end",
                                           "eval@12:begin", "eval@12:end", "checkpoint@12:begin",
                                           "checkpoint@12:end", "final@12:begin", "final@12:end"}));
        // Progress records of one phase are at least a second apart.
        double last = -1;
        for (const auto& r : records(run, "phase"))
            if (r["state"] == "progress") {
                QVERIFY(last < 0 || r["phase_s"].get<double>() - last >= 0.99 ||
                        r["phase_s"].get<double>() < last);
                last = r["phase_s"].get<double>();
            }
        for (const auto& r : records(run, "step")) {
            QVERIFY(r.contains("cpu_pct") && r["cpu_pct"].get<double>() >= 0);
            QVERIFY(r["rss_bytes"].get<long>() > 0);
            for (const char* k : {"gpu_util_pct", "gpu_mem_bytes", "gpu_power_w", "gpu_temp_c"})
                QVERIFY2(!r.contains(k), k);
        }
    }

    // A second run into the same folder is refused before anything there is touched.
    void existing_run_is_never_overwritten() {
        const auto dir = fresh_dir("trainer/existing");
        write_model(dir);
        write_text(dir, 20000);
        json cfg = base_config(dir);
        cfg["train"]["steps"] = 3;
        QCOMPARE(run_training(dir, cfg), 0);
        const auto before = file_bytes(dir / "run/metrics.jsonl");
        const auto status = file_bytes(dir / "run/status.json");
        try {
            run_training(dir, cfg);
            QFAIL("expected an InputError");
        } catch (const bcd::InputError& e) {
            QVERIFY2(QString(e.what()).contains("output.dir") &&
                         QString(e.what()).contains("--resume"),
                     e.what());
        }
        QCOMPARE(file_bytes(dir / "run/metrics.jsonl"), before);
        QCOMPARE(file_bytes(dir / "run/status.json"), status);
    }

    void random_order_is_a_seeded_permutation_per_cycle() {
        const auto dir = fresh_dir("trainer/random");
        write_model(dir);
        write_text(dir, 20000);
        json cfg = base_config(dir);
        cfg["bcd"] = {{"order", "random"}, {"switch_every", 1}, {"active_blocks", 1}};
        cfg["train"]["steps"] = 15;
        cfg["optim"]["lr"] = 0.0; // only the schedule matters here
        QCOMPARE(run_training(dir, cfg), 0);
        std::vector<int> seq;
        for (const auto& r : records(dir / "run", "step")) seq.push_back(r["block"].get<int>());
        for (int c = 0; c < 3; ++c) {
            std::vector<int> cyc(seq.begin() + c * 5, seq.begin() + (c + 1) * 5);
            std::sort(cyc.begin(), cyc.end());
            QCOMPARE(cyc, (std::vector<int>{0, 1, 2, 3, 4}));
        }
        QVERIFY(seq != (std::vector<int>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4}));
        // Same seed, same order; another seed, another order.
        json again = cfg;
        again["output"]["dir"] = (dir / "again").string();
        QCOMPARE(run_training(dir, again), 0);
        std::vector<int> seq2;
        for (const auto& r : records(dir / "again", "step")) seq2.push_back(r["block"].get<int>());
        QCOMPARE(seq2, seq);
        json other = cfg;
        other["train"]["seed"] = 4;
        other["output"]["dir"] = (dir / "other").string();
        QCOMPARE(run_training(dir, other), 0);
        std::vector<int> seq3;
        for (const auto& r : records(dir / "other", "step")) seq3.push_back(r["block"].get<int>());
        QVERIFY(seq3 != seq);
    }

    // A token shard of a text trains exactly as the text does; SFT data trains on its answers.
    void shard_and_sft_formats() {
        const auto dir = fresh_dir("trainer/formats");
        write_model(dir);
        write_text(dir, 20000);
        json text = base_config(dir);
        text["train"]["steps"] = 6;
        text["output"]["dir"] = (dir / "text").string();
        QCOMPARE(run_training(dir, text), 0);
        bcd::tokenize_to_shard(dir / "train.txt", bcd::TextEncoder::byte_level(), {},
                               dir / "train.tokens");
        json shard = text;
        shard["data"]["train"] = (dir / "train.tokens").string();
        shard["data"]["format"] = "tokens";
        shard["output"]["dir"] = (dir / "shard").string();
        QCOMPARE(run_training(dir, shard), 0);
        QCOMPARE(losses(dir / "shard"), losses(dir / "text"));

        std::ofstream sft(dir / "sft.jsonl");
        for (int i = 0; i < 40; ++i)
            sft << json{{"instruction", "Say the number " + std::to_string(i)},
                        {"output", std::to_string(i * 7)}}
                       .dump()
                << "\n";
        sft << "{broken\n";
        sft.close();
        json s = text;
        s["data"] = {{"train", (dir / "sft.jsonl").string()}, {"format", "sft"}, {"seq_len", 32}};
        s["output"]["dir"] = (dir / "sft").string();
        try {
            run_training(dir, s);
            QFAIL("expected an InputError for the broken line");
        } catch (const bcd::InputError& e) {
            QVERIFY2(QString(e.what()).contains("sft.jsonl:41"), e.what());
        }
        QVERIFY(!fs::exists(dir / "sft"));
        s["data"]["skip_malformed"] = true;
        QCOMPARE(run_training(dir, s), 0);
        std::ifstream log(dir / "sft/train.log");
        const std::string text_log((std::istreambuf_iterator<char>(log)),
                                   std::istreambuf_iterator<char>());
        QVERIFY2(text_log.find("1 malformed records skipped") != std::string::npos,
                 text_log.c_str());
        QVERIFY2(text_log.find("masked out of the loss") != std::string::npos, text_log.c_str());
    }

    void bad_configs_name_the_key_data() {
        QTest::addColumn<QString>("patch");
        QTest::addColumn<QString>("key");
        QTest::newRow("unknown top") << R"({"trian": {}})"
                                     << "trian";
        QTest::newRow("unknown nested") << R"({"optim": {"learning_rate": 1}})"
                                        << "optim.learning_rate";
        QTest::newRow("wrong type") << R"({"train": {"steps": "ten"}})"
                                    << "train.steps";
        QTest::newRow("negative lr") << R"({"optim": {"lr": -1}})"
                                     << "optim.lr";
        QTest::newRow("zero batch") << R"({"train": {"batch_size": 0}})"
                                    << "train.batch_size";
        QTest::newRow("bad order") << R"({"bcd": {"order": "sideways"}})"
                                   << "bcd.order";
        QTest::newRow("betas") << R"({"optim": {"betas": [0.9]}})"
                               << "optim.betas";
        QTest::newRow("fixed without list") << R"({"bcd": {"order": "fixed"}})"
                                            << "bcd.fixed_order";
        QTest::newRow("missing model") << R"({"model": {"path": "/nonexistent/model"}})"
                                       << "model.path";
        QTest::newRow("missing data") << R"({"data": {"train": "/nonexistent.txt"}})"
                                      << "data.train";
        QTest::newRow("format") << R"({"data": {"format": "csv"}})"
                                << "data.format";
        QTest::newRow("tokenizer") << R"({"data": {"tokenizer": "/nonexistent/tokenizer.json"}})"
                                   << "data.tokenizer";
        QTest::newRow("chat format") << R"({"data": {"chat_format": "vicuna"}})"
                                     << "data.chat_format: expected one of auto, plain, chatml";
        // A name longer than the file system allows (found by the run.json fuzzer: the check for
        // the file threw a filesystem_error instead of naming the key).
        const QString long_name = QString("x").repeated(5000);
        QTest::newRow("train name too long")
            << QString(R"({"data": {"train": "%1"}})").arg(long_name) << "data.train";
        QTest::newRow("val name too long")
            << QString(R"({"data": {"val": "%1"}})").arg(long_name) << "data.val";
        QTest::newRow("model name too long")
            << QString(R"({"model": {"path": "%1"}})").arg(long_name) << "model.path";
    }
    void bad_configs_name_the_key() {
        QFETCH(QString, patch);
        QFETCH(QString, key);
        const auto dir = fresh_dir("trainer/bad");
        write_model(dir);
        write_text(dir, 20000);
        json cfg = base_config(dir);
        cfg.merge_patch(json::parse(patch.toStdString()));
        const auto path = write_config(dir, cfg);
        try {
            bcd::RunConfig::load(path);
            QFAIL("expected an InputError");
        } catch (const bcd::InputError& e) {
            const QString msg = e.what();
            QVERIFY2(msg.startsWith(QString::fromStdString(path.string()) + ": " + key),
                     qPrintable(msg));
            QVERIFY2(!msg.contains('\n'), "one line");
        }
    }

    // Partitions that miss or repeat a tensor, and ids outside the partition, are refused at start.
    void bad_partitions_data() {
        QTest::addColumn<QString>("patch");
        QTest::addColumn<QString>("expect");
        QTest::newRow("misses") << R"({"bcd": {"blocks": [["model.layers."], ["lm_head."]]}})"
                                << "is in no block";
        QTest::newRow("repeats")
            << R"({"bcd": {"blocks": [["model."], ["model.norm.", "lm_head."]]}})"
            << "already in block";
        QTest::newRow("no match")
            << R"({"bcd": {"blocks": [["model."], ["lm_head."], ["decoder."]]}})"
            << "matches no tensor";
        QTest::newRow("fixed id") << R"({"bcd": {"order": "fixed", "fixed_order": [0, 9]}})"
                                  << "bcd.fixed_order";
        QTest::newRow("start id") << R"({"bcd": {"start_block": 5}})"
                                  << "bcd.start_block";
    }
    void bad_partitions() {
        QFETCH(QString, patch);
        QFETCH(QString, expect);
        expect_refused(fresh_dir("trainer/partition"), patch, expect);
    }
};

QTEST_APPLESS_MAIN(TestTrainer)
#include "tst_trainer.moc"
