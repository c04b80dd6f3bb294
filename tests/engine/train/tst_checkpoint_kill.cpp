// SIGKILL during every phase of a checkpoint (#17 point 9; docs/training.md, "Checkpoint
// durability"). The engine's test hook (bcd/test_hook.h: BCD_TEST_STOP_AT=<phase>@<step>) kills it
// at one exact point of the checkpoint of step 8, while the one of step 4 is the newest complete
// one and keep_checkpoints 1 makes step 8's cleanup drop it. For each phase: the engine died of
// SIGKILL (the phase was reached); the newest checkpoint with DONE has all its files and is the
// old (4) or the new (8) one; no other folder claims to be complete; and --resume continues to
// the uninterrupted run's per-step losses and final weights, bit for bit.

#include "train_fixture.h"

#include <QProcess>
#include <QProcessEnvironment>
#include <QtTest>
#include <algorithm>
#include <csignal>

using namespace fixture;

namespace {

struct Exit {
    bool killed = false; // ended by a signal (QProcess::CrashExit)
    int code = -1;
    QString output;
};

Exit run_train(const fs::path& config, bool resume, const QString& stopAt = {}) {
    QStringList args{"train", "--config", QString::fromStdString(config.string())};
    if (resume) args << "--resume";
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove("BCD_TEST_STOP_AT");
    if (!stopAt.isEmpty()) env.insert("BCD_TEST_STOP_AT", stopAt);
    p.setProcessEnvironment(env);
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(BCD_TRAIN_EXE, args);
    if (!p.waitForFinished(300000)) qFatal("bcd-train did not finish within 5 minutes");
    Exit e;
    e.killed = p.exitStatus() == QProcess::CrashExit;
    e.code = p.exitCode();
    e.output = QString::fromUtf8(p.readAll());
    return e;
}

// The checkpoint folders holding DONE, by step.
std::vector<long> complete_steps(const fs::path& run) {
    std::vector<long> out;
    for (const auto& e : fs::directory_iterator(run / "checkpoints"))
        if (fs::exists(e.path() / "DONE"))
            out.push_back(std::stol(e.path().filename().string().substr(5)));
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

class TestCheckpointKill : public QObject {
    Q_OBJECT

    fs::path dir_;
    json cfg_;
    std::map<long, double> reference_;

private slots:
    void initTestCase() {
        dir_ = fresh_dir("checkpoint_kill");
        write_model(dir_);
        write_text(dir_, 20000);
        cfg_ = base_config(dir_);
        cfg_["train"]["steps"] = 12;
        cfg_["output"]["checkpoint_every"] = 4;
        cfg_["output"]["keep_checkpoints"] = 1;
        json ref = cfg_;
        ref["output"]["dir"] = (dir_ / "reference").string();
        const Exit r = run_train(write_config(dir_, ref, "reference.json"), false);
        QVERIFY2(!r.killed && r.code == 0, qPrintable(r.output));
        reference_ = losses(dir_ / "reference");
        QCOMPARE(reference_.size(), std::size_t{12});
        // What a checkpoint holds here; each is a file written through the durable writer.
        for (const char* f : {"model.safetensors", "config.json", "state.bin", "DONE"})
            QVERIFY2(fs::exists(dir_ / "reference/checkpoints/step-00000012" / f), f);
    }

    void kill_at_phase_data() {
        QTest::addColumn<QString>("phase");
        // 4: the old checkpoint must be the newest complete one after the kill; 8: the new one.
        QTest::addColumn<long>("expected");
        QTest::newRow("folder") << "folder" << 4L;
        for (const char* file : {"model.safetensors", "config.json", "state.bin", "DONE"}) {
            for (const char* action : {"write", "synced", "renamed"}) {
                const QString phase = QString("%1:%2").arg(action, file);
                // DONE renamed into place is the moment the new checkpoint becomes complete.
                const long expected =
                    QString(file) == "DONE" && QString(action) == "renamed" ? 8 : 4;
                QTest::newRow(qPrintable(phase)) << phase << expected;
            }
        }
        QTest::newRow("written") << "written" << 8L;
        QTest::newRow("cleanup") << "cleanup" << 8L;
    }

    void kill_at_phase() {
        QFETCH(QString, phase);
        QFETCH(long, expected);
        const std::string out = "run-" + phase.toStdString();
        const fs::path run = dir_ / QString(out.c_str()).replace(':', '-').toStdString();
        fs::remove_all(run);
        json cfg = cfg_;
        cfg["output"]["dir"] = run.string();
        const fs::path config = write_config(dir_, cfg, run.filename().string() + ".json");

        const Exit killed = run_train(config, false, phase + "@8");
        QVERIFY2(killed.killed, qPrintable("the phase was not reached: " + killed.output));
        QCOMPARE(killed.code, int(SIGKILL));

        // The newest complete checkpoint is whole; nothing else claims to be complete.
        const std::vector<long> done = complete_steps(run);
        QVERIFY(!done.empty());
        QCOMPARE(done.back(), expected);
        if (expected == 4) QCOMPARE(done, std::vector<long>{4});
        for (const char* f : {"model.safetensors", "config.json", "state.bin", "DONE"}) {
            char name[32];
            std::snprintf(name, sizeof name, "step-%08ld", expected);
            QVERIFY2(fs::exists(run / "checkpoints" / name / f), f);
        }
        const json status = json::parse(std::ifstream(run / "status.json"));
        QCOMPARE(status["state"].get<std::string>(), std::string("running")); // it had no say

        const Exit resumed = run_train(config, true);
        QVERIFY2(!resumed.killed && resumed.code == 0, qPrintable(resumed.output));
        const auto resumes = records(run, "resume");
        QCOMPARE(resumes.size(), std::size_t{1});
        QCOMPARE(resumes[0]["step"].get<long>(), expected);
        const auto got = losses(run);
        QCOMPARE(got.size(), reference_.size());
        for (const auto& [step, loss] : reference_)
            QVERIFY2(got.at(step) == loss, qPrintable(QString("step %1: %2 != uninterrupted %3")
                                                          .arg(step)
                                                          .arg(got.at(step), 0, 'g', 17)
                                                          .arg(loss, 0, 'g', 17)));
        QCOMPARE(file_bytes(run / "final/model.safetensors"),
                 file_bytes(dir_ / "reference/final/model.safetensors"));
        // The leftovers of the kill are gone once the resumed run checkpointed again.
        QCOMPARE(complete_steps(run), std::vector<long>{12});
        for (const auto& e : fs::directory_iterator(run / "checkpoints"))
            QVERIFY2(fs::exists(e.path() / "DONE"), e.path().c_str());
        for (const auto& e : fs::recursive_directory_iterator(run / "checkpoints"))
            QVERIFY2(e.path().filename().string().find(".tmp.") == std::string::npos,
                     e.path().c_str());
    }
};

QTEST_GUILESS_MAIN(TestCheckpointKill)
#include "tst_checkpoint_kill.moc"
