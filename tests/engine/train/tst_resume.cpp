// Exact resume (DESIGN.md §3): a run interrupted by SIGTERM, by SIGKILL, or by SIGKILL while a
// checkpoint is being written, then continued with --resume, has the same per-step losses and the
// same final weights, bit for bit, as the run that was never interrupted. The engine runs as a
// child process (bcd-train), as in production.

#include "train_fixture.h"

#include <QProcess>
#include <QtTest>
#include <chrono>
#include <csignal>
#include <thread>

using namespace fixture;

namespace {

// A model and batch large enough that a step takes milliseconds, so that signals land mid-run.
json resume_config(const fs::path& dir, const std::string& out) {
    json cfg = base_config(dir);
    cfg["data"]["seq_len"] = 64;
    cfg["train"] = {{"steps", 40}, {"batch_size", 6}, {"grad_accum", 2}, {"seed", 11}};
    cfg["optim"] = {
        {"lr", 2e-3}, {"schedule", "cosine"}, {"warmup_steps", 5}, {"weight_decay", 0.1}};
    // One block at a time: the corruption offsets below fall in state.bin's payload. Bitwise
    // resume of the default schedule (two blocks, warm-up) is tst_active_sets'.
    cfg["bcd"] = {
        {"order", "random"}, {"switch_every", 3}, {"active_blocks", 1}, {"switch_warmup_steps", 0}};
    cfg["output"] = {
        {"dir", (dir / out).string()}, {"checkpoint_every", 4}, {"keep_checkpoints", 3}};
    return cfg;
}

QProcess* start(const fs::path& config, bool resume) {
    auto* p = new QProcess;
    QStringList args{"train", "--config", QString::fromStdString(config.string())};
    if (resume) args << "--resume";
    p->setProcessChannelMode(QProcess::MergedChannels);
    p->start(BCD_TRAIN_EXE, args);
    if (!p->waitForStarted(10000)) qFatal("cannot start bcd-train");
    return p;
}

int finish(QProcess* p) {
    p->waitForFinished(600000);
    const int code = p->exitStatus() == QProcess::NormalExit ? p->exitCode() : -p->exitCode();
    if (code != 0 && code != 130) qWarning("%s", p->readAll().constData());
    delete p;
    return code;
}

long last_logged_step(const fs::path& run) {
    std::ifstream in(run / "metrics.jsonl");
    long last = 0;
    for (std::string line; std::getline(in, line);) {
        try {
            const auto j = json::parse(line);
            if (j["t"] == "step") last = j["step"].get<long>();
        } catch (const json::exception&) { // the writer may be mid-line
        }
    }
    return last;
}

void wait_for_step(const fs::path& run, long step) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (last_logged_step(run) < step) {
        if (std::chrono::steady_clock::now() > deadline)
            qFatal("the run did not reach step %ld", step);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

} // namespace

class TestResume : public QObject {
    Q_OBJECT

    fs::path dir_;
    std::map<long, double> reference_;

    void compare_with_reference(const std::string& out) {
        const auto got = losses(dir_ / out);
        QCOMPARE(got.size(), reference_.size());
        for (const auto& [step, loss] : reference_) {
            if (got.at(step) != loss)
                QFAIL(qPrintable(QString("%1: step %2 loss %3 != uninterrupted %4")
                                     .arg(out.c_str())
                                     .arg(step)
                                     .arg(got.at(step), 0, 'g', 17)
                                     .arg(loss, 0, 'g', 17)));
        }
        QCOMPARE(file_bytes(dir_ / out / "final/model.safetensors"),
                 file_bytes(dir_ / "reference/final/model.safetensors"));
    }

private slots:
    void initTestCase() {
        dir_ = fresh_dir("resume");
        bcd::ModelConfig c = bcd::ModelConfig::preset("tiny"); // 2 layers, hidden 64
        bcd::Model m(c);
        m.init_random(5);
        m.save(dir_ / "model");
        write_text(dir_, 60000);
        const auto cfg = write_config(dir_, resume_config(dir_, "reference"), "reference.json");
        QCOMPARE(finish(start(cfg, false)), 0);
        reference_ = losses(dir_ / "reference");
        QCOMPARE(reference_.size(), std::size_t{40});
    }

    void sigterm_then_resume() {
        const auto cfg = write_config(dir_, resume_config(dir_, "term"), "term.json");
        QProcess* p = start(cfg, false);
        wait_for_step(dir_ / "term", 10);
        // Twice, as Slurm does at a time limit (slurmstepd, then srun): a repeated SIGTERM is the
        // same request, not "exit now", so the final checkpoint is still written.
        ::kill(static_cast<pid_t>(p->processId()), SIGTERM);
        ::kill(static_cast<pid_t>(p->processId()), SIGTERM);
        QCOMPARE(finish(p), 130);
        const json status = json::parse(std::ifstream(dir_ / "term/status.json"));
        QCOMPARE(status["state"].get<std::string>(), std::string("cancelled"));
        const long stopped = status["step"].get<long>();
        QVERIFY(stopped >= 10 && stopped < 40);
        const auto ends = records(dir_ / "term", "end");
        QCOMPARE(ends.back()["status"].get<std::string>(), std::string("cancelled"));
        // The cancelled step has its checkpoint, complete.
        char name[32];
        std::snprintf(name, sizeof name, "step-%08ld", stopped);
        QVERIFY(fs::exists(dir_ / "term/checkpoints" / name / "DONE"));
        QCOMPARE(finish(start(cfg, true)), 0);
        const auto resumes = records(dir_ / "term", "resume");
        QCOMPARE(resumes.size(), std::size_t{1});
        QCOMPARE(resumes[0]["step"].get<long>(), stopped);
        compare_with_reference("term");
    }

    void sigkill_then_resume() {
        const auto cfg = write_config(dir_, resume_config(dir_, "kill"), "kill.json");
        QProcess* p = start(cfg, false);
        wait_for_step(dir_ / "kill", 14); // after the checkpoint of step 12, before 16's
        ::kill(static_cast<pid_t>(p->processId()), SIGKILL);
        finish(p);
        const json status = json::parse(std::ifstream(dir_ / "kill/status.json"));
        QCOMPARE(status["state"].get<std::string>(), std::string("running")); // it had no say
        QCOMPARE(finish(start(cfg, true)), 0);
        compare_with_reference("kill");
    }

    // SIGKILL as soon as a checkpoint folder appears: the checkpoint is (most likely) incomplete
    // and must be ignored in favour of the previous one.
    void sigkill_during_checkpoint_then_resume() {
        const auto cfg = write_config(dir_, resume_config(dir_, "killckpt"), "killckpt.json");
        QProcess* p = start(cfg, false);
        const fs::path target = dir_ / "killckpt/checkpoints/step-00000020";
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
        while (!fs::exists(target) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        ::kill(static_cast<pid_t>(p->processId()), SIGKILL);
        finish(p);
        qInfo("killed with checkpoint 20 %s",
              fs::exists(target / "DONE") ? "complete" : "incomplete");
        QCOMPARE(finish(start(cfg, true)), 0);
        compare_with_reference("killckpt");
    }

    // Deterministic version of the above: the newest checkpoint lacks DONE and its state is
    // truncated; resume takes the previous one. A corrupt but "complete" one is refused by name,
    // and the run folder is left as it was.
    void incomplete_and_corrupt_checkpoints() {
        const auto cfg = write_config(dir_, resume_config(dir_, "partial"), "partial.json");
        QProcess* p = start(cfg, false);
        wait_for_step(dir_ / "partial", 13);
        ::kill(static_cast<pid_t>(p->processId()), SIGKILL);
        finish(p);
        const fs::path ck = dir_ / "partial/checkpoints";
        fs::path newest;
        for (const auto& e : fs::directory_iterator(ck))
            if (fs::exists(e.path() / "DONE") && e.path() > newest) newest = e.path();
        QVERIFY(!newest.empty());
        // A later, incomplete checkpoint.
        const fs::path fake = ck / "step-00000039";
        fs::copy(newest, fake);
        fs::remove(fake / "DONE");
        fs::resize_file(fake / "state.bin", 100);
        // A "complete" but corrupt one is named in the error, and nothing is changed.
        const fs::path corrupt = ck / "step-00000038";
        fs::copy(newest, corrupt);
        {
            std::fstream f(corrupt / "state.bin", std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(200);
            f.put('\x7f');
        }
        const auto metrics_before = file_bytes(dir_ / "partial/metrics.jsonl");
        const auto status_before = file_bytes(dir_ / "partial/status.json");
        QProcess* bad = start(cfg, true);
        bad->waitForFinished(60000);
        const QString out = bad->readAll();
        QCOMPARE(bad->exitCode(), 2);
        delete bad;
        QVERIFY2(out.contains("step-00000038/state.bin") && out.contains("checksum"),
                 qPrintable(out));
        QCOMPARE(file_bytes(dir_ / "partial/metrics.jsonl"), metrics_before);
        QCOMPARE(file_bytes(dir_ / "partial/status.json"), status_before);
        fs::remove_all(corrupt);
        QCOMPARE(finish(start(cfg, true)), 0);
        compare_with_reference("partial");
        QVERIFY(!fs::exists(fake)); // cleaned up by the next checkpoint
    }

    // A resumed run must be the same run: changing what it computes is refused.
    // The schedule defaults (order random, two blocks, warm-up 3; docs/training.md#defaults) are
    // what a config without those keys gets; a run started with other values (an older engine's
    // defaults: ascending, one block, no warm-up) resumes with its own values when the config
    // leaves the keys out, and says so in train.log.
    void defaults_and_resume_keeps_the_runs_schedule() {
        json fresh = resume_config(dir_, "defaults");
        fresh["train"]["steps"] = 6;
        fresh["bcd"] = {{"switch_every", 2}};
        fresh["output"].erase("checkpoint_every");
        QCOMPARE(finish(start(write_config(dir_, fresh, "defaults.json"), false)), 0);
        const json ran =
            json::parse(std::ifstream(dir_ / "defaults" / "run.json"))["config"]["bcd"];
        QCOMPARE(ran["order"].get<std::string>(), std::string("random"));
        QCOMPARE(ran["active_blocks"].get<int>(), 2);
        QCOMPARE(ran["switch_warmup_steps"].get<long>(), 3L);

        json old = resume_config(dir_, "old");
        old["optim"] = {{"lr", 2e-3}};
        old["train"]["steps"] = 8;
        old["bcd"] = {{"switch_every", 2},
                      {"order", "ascending"},
                      {"active_blocks", 1},
                      {"switch_warmup_steps", 0}};
        QCOMPARE(finish(start(write_config(dir_, old, "old.json"), false)), 0);
        json later = old;
        later["train"]["steps"] = 12;
        later["bcd"] = {{"switch_every", 2}}; // the schedule keys left to the defaults
        QCOMPARE(finish(start(write_config(dir_, later, "later.json"), true)), 0);
        std::ifstream log(dir_ / "old" / "train.log");
        const std::string text((std::istreambuf_iterator<char>(log)), {});
        QVERIFY2(text.find("kept the run's own bcd.order ascending, bcd.active_blocks 1, "
                           "bcd.switch_warmup_steps 0") != std::string::npos,
                 text.c_str());
        // All 12 steps ascending through the partition, one block per period of 2 steps: the
        // resumed steps 9..12 continue the run's own schedule.
        const auto start = records(dir_ / "old", "start");
        QVERIFY(!start.empty());
        const long D = static_cast<long>(start.front()["blocks"].size());
        std::vector<long> blocks, expected;
        for (const json& r : records(dir_ / "old", "step"))
            blocks.push_back(r["block"].get<long>());
        for (long k = 0; k < 12; ++k) expected.push_back((k / 2) % D);
        QCOMPARE(blocks, expected);
    }

    void resume_with_another_config_is_refused() {
        json changed = resume_config(dir_, "term");
        changed["optim"]["lr"] = 1e-2;
        const auto cfg = write_config(dir_, changed, "changed.json");
        QProcess* p = start(cfg, true);
        p->waitForFinished(60000);
        const QString out = p->readAll();
        QCOMPARE(p->exitCode(), 2);
        delete p;
        QVERIFY2(out.contains("optim.lr") && out.contains("differs"), qPrintable(out));
    }
};

QTEST_GUILESS_MAIN(TestResume)
#include "tst_resume.moc"
