// The BCD variants of docs/training.md "Active sets", in process: γ blocks at once (cycled or
// drawn), LISA (embedding and head always, γ layer blocks drawn every switch), importance (blocks
// with larger recent gradient norms drawn more often), the warm-up after each switch; each resumes
// bit for bit from a checkpoint inside a period and from one at a period's end.

#include "bcd/active_sets.h"
#include "bcd/errors.h"
#include "bcd/run_config.h"
#include "bcd/trainer.h"
#include "train_fixture.h"

#include <QtTest>
#include <set>

using namespace fixture;

namespace {

// The trained set of every step record ("blocks", or the single "block").
std::vector<std::vector<int>> step_sets(const fs::path& run) {
    std::vector<std::vector<int>> out;
    for (const auto& r : records(run, "step"))
        out.push_back(r.contains("blocks") ? r["blocks"].get<std::vector<int>>()
                                           : std::vector<int>{r["block"].get<int>()});
    return out;
}

json variant_config(const fs::path& dir, const QString& patch) {
    json cfg = base_config(dir);
    cfg["train"]["steps"] = 20;
    cfg["bcd"]["switch_every"] = 3;
    cfg.merge_patch(json::parse(patch.toStdString()));
    return cfg;
}

void add_variants() {
    QTest::addColumn<QString>("patch");
    QTest::newRow("warmup") << R"({"bcd": {"switch_warmup_steps": 2}})";
    // The product's default schedule (docs/training.md): the fixture names the classic one.
    QTest::newRow("default: random gamma2 warmup 3")
        << R"({"bcd": {"order": "random", "active_blocks": 2, "switch_warmup_steps": 3}})";
    QTest::newRow("gamma2 ascending") << R"({"bcd": {"active_blocks": 2}})";
    QTest::newRow("gamma2 random warmup")
        << R"({"bcd": {"active_blocks": 2, "order": "random", "switch_warmup_steps": 1}})";
    QTest::newRow("lisa gamma1") << R"({"bcd": {"order": "lisa"}})";
    QTest::newRow("lisa gamma2") << R"({"bcd": {"order": "lisa", "active_blocks": 2}})";
    QTest::newRow("importance")
        << R"({"bcd": {"order": "importance", "switch_every": 2}, "train": {"steps": 24}})";
    QTest::newRow("importance gamma2 kept state")
        << R"({"bcd": {"order": "importance", "active_blocks": 2,
                       "reset_state_on_switch": false}})";
}

} // namespace

class TestActiveSets : public QObject {
    Q_OBJECT
private slots:
    // A run stopped at a checkpoint (inside a period, and at a period's end) and continued with
    // --resume has the uninterrupted run's losses, sets and final weights, bit for bit.
    void resume_is_bitwise_data() { add_variants(); }
    void resume_is_bitwise() {
        QFETCH(QString, patch);
        const auto dir = fresh_dir("active_sets/resume");
        write_model(dir);
        write_text(dir, 20000);
        json ref = variant_config(dir, patch);
        ref["output"]["dir"] = (dir / "ref").string();
        QCOMPARE(run_training(dir, ref, false, "ref.json"), 0);
        const long S = ref["train"]["steps"].get<long>();
        for (long stop : {10L, 12L}) { // K = 3: inside a period; K = 2, 3: at a period's end
            json part = ref;
            const std::string out = "part" + std::to_string(stop);
            part["output"]["dir"] = (dir / out).string();
            part["train"]["steps"] = stop;
            part["output"]["checkpoint_every"] = 1000; // the last step's checkpoint only
            QCOMPARE(run_training(dir, part, false, out + ".json"), 0);
            part["train"]["steps"] = S;
            QCOMPARE(run_training(dir, part, true, out + ".json"), 0);
            QCOMPARE(records(dir / out, "resume").size(), std::size_t{1});
            QCOMPARE(records(dir / out, "resume")[0]["step"].get<long>(), stop);
            QCOMPARE(losses(dir / out), losses(dir / "ref"));
            QCOMPARE(step_sets(dir / out), step_sets(dir / "ref"));
            QVERIFY2(file_bytes(dir / out / "final/model.safetensors") ==
                         file_bytes(dir / "ref/final/model.safetensors"),
                     "final weights differ from the uninterrupted run's");
        }
    }

    // γ = 2 in ascending order trains places 2k and 2k+1 of the cycle 0..4 together.
    void cycled_sets() {
        const auto dir = fresh_dir("active_sets/cycled");
        write_model(dir);
        write_text(dir, 20000);
        json cfg = variant_config(dir, R"({"bcd": {"active_blocks": 2}, "train": {"steps": 15}})");
        QCOMPARE(run_training(dir, cfg), 0);
        const auto sets = step_sets(dir / "run");
        const std::vector<std::vector<int>> want{{0, 1}, {2, 3}, {0, 4}, {1, 2}, {3, 4}};
        for (std::size_t i = 0; i < sets.size(); ++i) QCOMPARE(sets[i], want[i / 3]);
        // The switch records carry both sets.
        const auto sw = records(dir / "run", "switch");
        QCOMPARE(sw.size(), std::size_t{4});
        QCOMPARE(sw[1]["from_blocks"].get<std::vector<int>>(), (std::vector<int>{2, 3}));
        QCOMPARE(sw[1]["to_blocks"].get<std::vector<int>>(), (std::vector<int>{0, 4}));
    }

    // LISA: the embedding (0) and the head (4) in every set, plus γ layer blocks drawn per period,
    // as ActiveSets draws them; the draws differ between periods and seeds.
    void lisa_sets() {
        const auto dir = fresh_dir("active_sets/lisa");
        write_model(dir);
        write_text(dir, 20000);
        json cfg = variant_config(
            dir, R"({"bcd": {"order": "lisa", "active_blocks": 2}, "train": {"steps": 30}})");
        QCOMPARE(run_training(dir, cfg), 0);
        const auto sets = step_sets(dir / "run");
        QCOMPARE(sets.size(), std::size_t{30});
        std::set<std::vector<int>> distinct;
        for (std::size_t i = 0; i < sets.size(); ++i) {
            QCOMPARE(sets[i].size(), std::size_t{4});
            QCOMPARE(sets[i].front(), 0);
            QCOMPARE(sets[i].back(), 4);
            if (i % 3) QCOMPARE(sets[i], sets[i - 1]);
            distinct.insert(sets[i]);
        }
        QVERIFY2(distinct.size() == 3, "10 draws of 2 of 3 layer blocks meet all three pairs");
        // The embedding's and head's state outlive a switch: LISA does not switch them. With the
        // state of 2 layer blocks dropped and 2 made, the optimizer memory stays the same.
        const auto steps = records(dir / "run", "step");
        for (const auto& r : steps)
            QCOMPARE(r["mem"]["optimizer"].get<std::size_t>(),
                     steps[0]["mem"]["optimizer"].get<std::size_t>());
    }

    // Importance: every block once first (ascending), then draws that favour the blocks with the
    // larger gradient norm of their last visit.
    void importance_sets() {
        const auto dir = fresh_dir("active_sets/importance");
        write_model(dir);
        write_text(dir, 20000);
        json cfg = variant_config(
            dir, R"({"bcd": {"order": "importance", "switch_every": 1}, "train": {"steps": 205},
                     "optim": {"lr": 1e-3}})");
        QCOMPARE(run_training(dir, cfg), 0);
        const auto steps = records(dir / "run", "step");
        for (int b = 0; b < 5; ++b)
            QCOMPARE(steps[static_cast<std::size_t>(b)]["block"].get<int>(), b);
        // Replays the draw from the logged gradient norms (switch_every 1: a period is a step).
        std::vector<double> score(5, -1.0);
        bcd::BlockSchedule base(5, "ascending", {}, 1, -1, 1);
        bcd::ActiveSets sets(base, "importance", 1, {}, {},
                             cfg["train"]["seed"].get<std::uint64_t>());
        std::vector<int> visits(5, 0);
        double best_score = 0.0;
        int best = -1;
        for (std::size_t i = 0; i < steps.size(); ++i) {
            bcd::ImportanceState st{score, 0.0, 0};
            const auto want = sets.set_of_period(static_cast<long>(i), st);
            QCOMPARE(steps[i]["block"].get<int>(), want.front());
            score[static_cast<std::size_t>(want.front())] = steps[i]["grad_norm"].get<double>();
            if (i >= 5) ++visits[static_cast<std::size_t>(want.front())];
        }
        for (int b = 0; b < 5; ++b)
            if (score[static_cast<std::size_t>(b)] > best_score) {
                best_score = score[static_cast<std::size_t>(b)];
                best = b;
            }
        // The block of the largest norm was drawn more often than the uniform 1/5.
        QVERIFY2(visits[static_cast<std::size_t>(best)] > 200 / 5,
                 qPrintable(QString("block %1 visited %2 times")
                                .arg(best)
                                .arg(visits[static_cast<std::size_t>(best)])));
    }

    // The warm-up multiplies lr by (j + 1) / (W + 1) at the j-th step of each new set.
    void switch_warmup_ramps_lr() {
        const auto dir = fresh_dir("active_sets/warmup");
        write_model(dir);
        write_text(dir, 20000);
        json cfg =
            variant_config(dir, R"({"bcd": {"switch_warmup_steps": 2}, "train": {"steps": 9}})");
        QCOMPARE(run_training(dir, cfg), 0);
        const double lr = cfg["optim"]["lr"].get<double>();
        const auto steps = records(dir / "run", "step");
        QCOMPARE(steps.size(), std::size_t{9});
        for (std::size_t i = 0; i < steps.size(); ++i) {
            const double f = i % 3 == 0 ? 1.0 / 3 : i % 3 == 1 ? 2.0 / 3 : 1.0;
            QCOMPARE(steps[i]["lr"].get<double>(), lr * f);
        }
    }

    void bad_variants_data() {
        QTest::addColumn<QString>("patch");
        QTest::addColumn<QString>("expect");
        QTest::newRow("gamma > D") << R"({"bcd": {"active_blocks": 6}})"
                                   << "bcd.active_blocks";
        QTest::newRow("lisa gamma > layers") << R"({"bcd": {"order": "lisa", "active_blocks": 4}})"
                                             << "bcd.active_blocks";
        QTest::newRow("lisa blocks")
            << R"({"bcd": {"order": "lisa", "blocks": [["model."], ["lm_head."]]}})"
            << "bcd.order";
        QTest::newRow("importance start") << R"({"bcd": {"order": "importance", "start_block": 1}})"
                                          << "bcd.start_block";
        QTest::newRow("gamma 0") << R"({"bcd": {"active_blocks": 0}})"
                                 << "bcd.active_blocks";
        QTest::newRow("warmup -1") << R"({"bcd": {"switch_warmup_steps": -1}})"
                                   << "bcd.switch_warmup_steps";
    }
    void bad_variants() {
        QFETCH(QString, patch);
        QFETCH(QString, expect);
        expect_refused(fresh_dir("active_sets/bad"), patch, expect);
    }
};

QTEST_APPLESS_MAIN(TestActiveSets)
#include "tst_active_sets.moc"
