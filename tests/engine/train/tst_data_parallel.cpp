// Data parallelism end to end (docs/data-parallel.md), with real OpenMPI: `mpirun -np N bcd-train`
// of batch B equals one bcd-train of batch N·B to fp32 rounding (BCD and full mode, with gradient
// accumulation and evaluation); only the active block's gradients are all-reduced; a 2-rank run
// killed by SIGKILL or cancelled by SIGTERM to mpirun resumes bitwise equal to the uninterrupted
// 2-rank run; another world size is refused on resume; a second trainer on a running run's
// folder is refused, naming the holder; an engine without MPI refuses to be one of several ranks.

#include "bcd/communicator.h"
#include "bcd/model.h"
#include "train_fixture.h"

#include <QProcess>
#include <QtTest>
#include <chrono>
#include <cmath>
#include <csignal>
#include <thread>

using namespace fixture;

namespace {

struct Result {
    int code = -1;
    QString output;
};

QStringList train_args(const fs::path& config, bool resume) {
    QStringList a{"train", "--config", QString::fromStdString(config.string())};
    if (resume) a << "--resume";
    return a;
}

// bcd-train alone (ranks 0) or under mpirun (ranks >= 1).
QProcess* start(const fs::path& config, int ranks, bool resume = false) {
    auto* p = new QProcess;
    p->setProcessChannelMode(QProcess::MergedChannels);
    if (ranks == 0) {
        p->start(BCD_TRAIN_EXE, train_args(config, resume));
    } else {
        QStringList a = QString(BCD_MPIEXEC_FLAGS).split(' ', Qt::SkipEmptyParts);
        a << "-np" << QString::number(ranks) << BCD_TRAIN_EXE << train_args(config, resume);
        p->start(BCD_MPIEXEC, a);
    }
    if (!p->waitForStarted(10000)) qFatal("cannot start %s", ranks ? BCD_MPIEXEC : BCD_TRAIN_EXE);
    return p;
}

Result finish(QProcess* p) {
    p->waitForFinished(600000);
    Result r;
    r.code = p->exitStatus() == QProcess::NormalExit ? p->exitCode() : -1;
    r.output = p->readAll();
    delete p;
    return r;
}

Result run(const fs::path& config, int ranks, bool resume = false) {
    return finish(start(config, ranks, resume));
}

json read_json(const fs::path& p) {
    for (int i = 0; i < 100; ++i) { // status.json is replaced atomically, but may not exist yet
        std::ifstream in(p);
        if (in) return json::parse(in);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    qFatal("no %s", p.c_str());
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

std::map<long, double> eval_losses(const fs::path& run) {
    std::map<long, double> m;
    for (const auto& r : records(run, "eval")) m[r["step"]] = r["val_loss"].get<double>();
    return m;
}

// The largest relative difference of two step -> loss maps with the same steps.
double max_rel_diff(const std::map<long, double>& a, const std::map<long, double>& b) {
    if (a.size() != b.size()) return INFINITY;
    double worst = 0.0;
    for (const auto& [s, x] : a) {
        if (!b.contains(s)) return INFINITY;
        worst = std::max(worst, std::abs(x - b.at(s)) / std::max(1e-12, std::abs(x)));
    }
    return worst;
}

// How far apart two trainings from `init` ended, relative to how far they went:
// ‖a − b‖ / ‖a − init‖. AdamW divides by √v, so a parameter with a gradient near zero moves by
// up to lr per step on a rounding difference; the whole update still agrees to fp32 rounding.
double weight_rel_diff(const fs::path& init, const fs::path& a, const fs::path& b) {
    const bcd::Model w0 = bcd::Model::load(init), x = bcd::Model::load(a), y = bcd::Model::load(b);
    if (x.num_params() != y.num_params()) return INFINITY;
    double diff = 0.0, moved = 0.0;
    for (std::uint64_t i = 0; i < x.num_params(); ++i) {
        diff += std::pow(static_cast<double>(x.params()[i]) - y.params()[i], 2);
        moved += std::pow(static_cast<double>(x.params()[i]) - w0.params()[i], 2);
    }
    return std::sqrt(diff / std::max(moved, 1e-300));
}

} // namespace

class TestDataParallel : public QObject {
    Q_OBJECT

    fs::path dir_;

    json config(const std::string& out, int batch, const std::string& mode = "bcd") {
        json cfg = base_config(dir_);
        cfg["data"]["val"] = (dir_ / "val.txt").string();
        cfg["train"] = {{"steps", 12}, {"batch_size", batch}, {"grad_accum", 2}, {"seed", 5}};
        cfg["optim"] = {{"lr", 3e-3}, {"weight_decay", 0.01}, {"schedule", "cosine"}};
        cfg["bcd"] = {{"mode", mode},
                      {"switch_every", 3},
                      {"order", "random"},
                      {"active_blocks", 1}, // the byte counts below are of one block
                      {"switch_warmup_steps", 0}};
        cfg["device"] = {{"kind", "cpu"}, {"threads", 1}};
        cfg["output"] = {{"dir", (dir_ / out).string()}, {"eval_every", 6}};
        return cfg;
    }

    // N ranks of batch B against one process of batch N·B: the same steps, tokens, losses and
    // weights up to fp32 rounding (the ranks sum their gradients in another order).
    void compare_ranks_with_one_process(int ranks, int batch, const std::string& mode) {
        const std::string tag = mode + "-" + std::to_string(ranks);
        const auto one =
            write_config(dir_, config(tag + "-one", ranks * batch, mode), tag + "-one.json");
        const auto many =
            write_config(dir_, config(tag + "-many", batch, mode), tag + "-many.json");
        const Result a = run(one, 0);
        QVERIFY2(a.code == 0, qPrintable(a.output));
        const Result b = run(many, ranks);
        QVERIFY2(b.code == 0, qPrintable(b.output));
        const fs::path ra = dir_ / (tag + "-one"), rb = dir_ / (tag + "-many");
        QCOMPARE(losses(rb).size(), std::size_t{12});
        const double dl = max_rel_diff(losses(ra), losses(rb));
        const double de = max_rel_diff(eval_losses(ra), eval_losses(rb));
        const double dw = weight_rel_diff(dir_ / "model", ra / "final", rb / "final");
        qInfo("%s: %d ranks vs one process: loss rel. diff %.3g, val_loss %.3g, weights %.3g",
              mode.c_str(), ranks, dl, de, dw);
        QVERIFY(dl < 1e-5);
        QVERIFY(de < 1e-5);
        QCOMPARE(eval_losses(rb).size(), std::size_t{2});
        QVERIFY(dw < 1e-3);
        // Same global batch: same tokens per step; the ranks say how many they are.
        const auto sa = records(ra, "step"), sb = records(rb, "step");
        for (std::size_t i = 0; i < sa.size(); ++i) {
            QCOMPARE(sb[i]["tokens"], sa[i]["tokens"]);
            QCOMPARE(sb[i]["block"], sa[i]["block"]);
            QCOMPARE(sa[i]["comm_bytes"].get<std::uint64_t>(), std::uint64_t{0});
        }
        QCOMPARE(records(rb, "start")[0]["world_size"].get<int>(), ranks);
        QCOMPARE(records(ra, "start")[0]["world_size"].get<int>(), 1);
        QCOMPARE(read_json(rb / "run.json")["plan"]["world_size"].get<int>(), ranks);
        QVERIFY(records(rb, "end").size() == 1); // rank 0 alone writes
    }

private slots:
    void initTestCase() {
        if (!bcd::built_with_mpi()) return; // only the refusal runs
        dir_ = fresh_dir("data_parallel");
        write_model(dir_);
        write_text(dir_, 30000);
        write_text(dir_, 3000, "val.txt");
    }

    void two_ranks_equal_one_process_bcd() {
        if (!bcd::built_with_mpi()) QSKIP("skipped: this engine was built without MPI");
        compare_ranks_with_one_process(2, 2, "bcd");
    }
    void two_ranks_equal_one_process_full() {
        if (!bcd::built_with_mpi()) QSKIP("skipped: this engine was built without MPI");
        compare_ranks_with_one_process(2, 2, "full");
    }
    void three_ranks_equal_one_process_bcd() {
        if (!bcd::built_with_mpi()) QSKIP("skipped: this engine was built without MPI");
        compare_ranks_with_one_process(3, 1, "bcd");
    }

    // What crosses between ranks each step is the active block's gradient (fp32, padded to 16
    // floats per tensor) and two doubles: a block's share of the model, not the model.
    void only_the_active_block_is_reduced() {
        if (!bcd::built_with_mpi()) QSKIP("skipped: this engine was built without MPI");
        for (const std::string mode : {"bcd", "full"}) {
            const fs::path run = dir_ / (mode + "-2-many");
            std::map<int, std::uint64_t> params;
            const json start = records(run, "start").at(0);
            for (const auto& b : start["blocks"])
                params[b["id"].get<int>()] = b["params"].get<std::uint64_t>();
            for (const auto& s : records(run, "step")) {
                const std::uint64_t bytes = s["comm_bytes"], p = params.at(s["block"].get<int>());
                const std::uint64_t grads = bytes - 2 * sizeof(double);
                QVERIFY2(grads >= 4 * p && grads < 4 * p + 64 * 64,
                         qPrintable(QString("%1 step %2: %3 bytes for %4 parameters")
                                        .arg(mode.c_str())
                                        .arg(s["step"].get<long>())
                                        .arg(bytes)
                                        .arg(p)));
            }
        }
    }

    // Killed (SIGKILL of rank 0: mpirun ends the job) or cancelled (SIGTERM to mpirun, which
    // passes it to every rank; they stop after the same step with a checkpoint), a 2-rank run
    // resumed on 2 ranks has the uninterrupted 2-rank run's losses and weights, bit for bit.
    void resume_with_two_ranks_is_exact() {
        if (!bcd::built_with_mpi()) QSKIP("skipped: this engine was built without MPI");
        auto cfg_for = [this](const std::string& out) {
            json cfg = config(out, 3);
            cfg["data"]["seq_len"] = 128;
            cfg["train"]["steps"] = 150; // long enough for a signal to land mid-run
            cfg["output"]["checkpoint_every"] = 8;
            cfg["output"]["eval_every"] = 50;
            return write_config(dir_, cfg, out + ".json");
        };
        const Result ref = run(cfg_for("resume-ref"), 2);
        QVERIFY2(ref.code == 0, qPrintable(ref.output));
        const auto reference = losses(dir_ / "resume-ref");
        QCOMPARE(reference.size(), std::size_t{150});

        for (const std::string how : {"kill", "term"}) {
            const auto cfg = cfg_for("resume-" + how);
            const fs::path out = dir_ / ("resume-" + how);
            QProcess* p = start(cfg, 2);
            wait_for_step(out, 10);
            if (how == "kill") {
                const auto pid = read_json(out / "status.json")["pid"].get<pid_t>();
                ::kill(pid, SIGKILL); // rank 0
            } else {
                ::kill(static_cast<pid_t>(p->processId()), SIGTERM); // mpirun
            }
            const Result stopped = finish(p);
            QVERIFY(stopped.code != 0);
            const json status = read_json(out / "status.json");
            qInfo("%s: stopped at step %ld, status %s", how.c_str(), status["step"].get<long>(),
                  status["state"].get<std::string>().c_str());
            QVERIFY(status["step"].get<long>() < 150);
            if (how == "term")
                QCOMPARE(status["state"].get<std::string>(), std::string("cancelled"));
            const Result resumed = run(cfg, 2, true);
            QVERIFY2(resumed.code == 0, qPrintable(resumed.output));
            const auto got = losses(out);
            QCOMPARE(got.size(), reference.size());
            for (const auto& [step, loss] : reference)
                if (got.at(step) != loss)
                    QFAIL(qPrintable(QString("%1: step %2 loss %3 != uninterrupted %4")
                                         .arg(how.c_str())
                                         .arg(step)
                                         .arg(got.at(step), 0, 'g', 17)
                                         .arg(loss, 0, 'g', 17)));
            QCOMPARE(eval_losses(out), eval_losses(dir_ / "resume-ref"));
            QCOMPARE(file_bytes(out / "final/model.safetensors"),
                     file_bytes(dir_ / "resume-ref/final/model.safetensors"));
        }
    }

    // The global batch is world_size x batch_size: resuming a 2-rank run in one process (or 3
    // ranks) would be another run, and is refused before anything is written.
    void resume_with_another_world_size_is_refused() {
        if (!bcd::built_with_mpi()) QSKIP("skipped: this engine was built without MPI");
        const fs::path folder = dir_ / "bcd-2-many";
        QVERIFY(fs::exists(folder / "final"));
        json cfg = config("bcd-2-many", 2);
        cfg["train"]["steps"] = 14;
        cfg["output"]["checkpoint_every"] = 1;
        const auto path = write_config(dir_, cfg, "other-size.json");
        // A checkpoint to resume from: the 2-rank run extended by one step.
        {
            json c2 = cfg;
            c2["train"]["steps"] = 13;
            const Result r = run(write_config(dir_, c2, "extend.json"), 2, true);
            QVERIFY2(r.code == 0, qPrintable(r.output));
        }
        const auto metrics_before = file_bytes(folder / "metrics.jsonl");
        const Result one = run(path, 0, true);
        QCOMPARE(one.code, 2);
        QVERIFY2(one.output.contains("world_size") && one.output.contains("mpirun -np 2"),
                 qPrintable(one.output));
        const Result three = run(path, 3, true);
        QVERIFY(three.code != 0);
        QVERIFY2(three.output.contains("world_size") && three.output.contains("not 3"),
                 qPrintable(three.output));
        QCOMPARE(file_bytes(folder / "metrics.jsonl"), metrics_before);
    }

    // One writer per run folder: while a run is going, a second trainer on its folder is
    // refused with exit code 2, naming the holder (rank 0's pid and host).
    void second_trainer_on_a_running_folder_is_refused() {
        if (!bcd::built_with_mpi()) QSKIP("skipped: this engine was built without MPI");
        json cfg = config("locked", 2);
        cfg["train"]["steps"] = 100000;
        const auto path = write_config(dir_, cfg, "locked.json");
        QProcess* p = start(path, 2);
        wait_for_step(dir_ / "locked", 2);
        const auto holder = read_json(dir_ / "locked/status.json")["pid"].get<long>();
        const Result second = run(path, 0, true);
        const Result third = run(path, 2, true);
        ::kill(static_cast<pid_t>(p->processId()), SIGTERM);
        finish(p);
        QCOMPARE(second.code, 2);
        QVERIFY2(second.output.contains("in use by another bcd-train") &&
                     second.output.contains(QString("pid %1 on host").arg(holder)),
                 qPrintable(second.output));
        QVERIFY(third.code != 0);
        QVERIFY2(third.output.contains("in use by another bcd-train"), qPrintable(third.output));
        // The lock went with its holder: the run resumes.
        json done = cfg;
        done["train"]["steps"] = read_json(dir_ / "locked/status.json")["step"].get<long>() + 1;
        const Result resumed = run(write_config(dir_, done, "locked.json"), 2, true);
        QVERIFY2(resumed.code == 0, qPrintable(resumed.output));
    }

    // A rank other than 0 that fails ends the whole job, its message in train.log and on
    // stderr. Here rank 1's model weights are corrupt: mpirun's MPMD syntax (`A : B`) gives each
    // rank its own config, and only the weights differ (they are read after the ranks meet).
    void failing_rank_ends_the_job_with_its_message() {
        if (!bcd::built_with_mpi()) QSKIP("skipped: this engine was built without MPI");
        const fs::path bad = dir_ / "bad-model";
        fs::remove_all(bad);
        fs::create_directories(bad);
        fs::copy_file(dir_ / "model/config.json", bad / "config.json");
        std::ofstream(bad / "model.safetensors", std::ios::binary) << "not a safetensors file";
        json good = config("failing", 2);
        good["train"]["steps"] = 1000;
        json worse = good;
        worse["model"]["path"] = bad.string();
        const auto a = write_config(dir_, good, "failing-0.json");
        const auto b = write_config(dir_, worse, "failing-1.json");
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        QStringList args = QString(BCD_MPIEXEC_FLAGS).split(' ', Qt::SkipEmptyParts);
        args << "-np"
             << "1" << BCD_TRAIN_EXE << train_args(a, false) << ":"
             << "-np"
             << "1" << BCD_TRAIN_EXE << train_args(b, false);
        p.start(BCD_MPIEXEC, args);
        QVERIFY(p.waitForFinished(120000));
        const QString out = p.readAll();
        QCOMPARE(p.exitCode(), 2);
        QVERIFY2(out.contains("bcd-train: rank 1: error:") && out.contains("model.safetensors"),
                 qPrintable(out));
        std::ifstream in(dir_ / "failing/train.log");
        const std::string log((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
        QVERIFY2(log.find("rank 1 of 2 failed:") != std::string::npos &&
                     log.find("model.safetensors") != std::string::npos,
                 log.c_str());
        QVERIFY(last_logged_step(dir_ / "failing") == 0); // nobody trained alone
        const json status = read_json(dir_ / "failing/status.json");
        QCOMPARE(status["state"].get<std::string>(), std::string("failed"));
        QVERIFY(status["message"].get<std::string>().starts_with("rank 1: "));
    }

    // An engine without MPI, started as one of several ranks, refuses instead of training alone
    // into the shared run folder. This engine has MPI: the decision is checked in process by
    // tst_communicator; here the real binary is checked when it was built without MPI.
    void engine_without_mpi_refuses_several_ranks() {
        if (bcd::built_with_mpi())
            QSKIP("skipped: this engine has MPI (tst_communicator checks the refusal in process)");
        const fs::path dir = fresh_dir("data_parallel_nompi");
        write_model(dir);
        write_text(dir, 3000);
        const auto path = write_config(dir, base_config(dir));
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("OMPI_COMM_WORLD_SIZE", "2");
        env.insert("OMPI_COMM_WORLD_RANK", "0");
        p.setProcessEnvironment(env);
        p.start(BCD_TRAIN_EXE, train_args(path, false));
        QVERIFY(p.waitForFinished(60000));
        const QString out = p.readAll();
        QCOMPARE(p.exitCode(), 2);
        QVERIFY2(out.contains("without MPI") && out.contains("OMPI_COMM_WORLD_SIZE=2"),
                 qPrintable(out));
        QVERIFY(!fs::exists(dir / "run"));
    }
};

QTEST_APPLESS_MAIN(TestDataParallel)
#include "tst_data_parallel.moc"
