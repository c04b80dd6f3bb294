// launch::RunSampler and the launchers' listCheckpoints / sample (interface 2.3) against a real
// short training run: the checkpoint rule shared by local folders and node listings, a local run
// listed and sampled as the engine itself samples it, the same run reached through the ssh plugin
// and a real sshd (same seed: the same text), a stop in mid-generation that leaves no engine
// process behind (local and over SSH), the errors a user meets (no such checkpoint, no run
// folder), and run folders removed where they live (removeRunFolder, same interface version).

#include "launch/run_folders.h"
#include "launch/run_sampler.h"
#include "launch/sample_command.h"
#include "sshd_fixture.h"
#include "test_runs.h"

#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>

using namespace bcd;

namespace {

// Whether a process of this machine has `marker` on its command line (the sshd node is this
// machine, so a remote engine shows up here too).
bool processWith(const QString& marker) {
    QDirIterator it(QStringLiteral("/proc"), QDir::Dirs | QDir::NoDotAndDotDot);
    const QByteArray m = marker.toUtf8();
    while (it.hasNext()) {
        const QString d = it.next();
        QFile f(d + QStringLiteral("/cmdline"));
        if (f.open(QIODevice::ReadOnly) && f.readAll().contains(m)) return true;
    }
    return false;
}

bool copyTree(const QString& from, const QString& to) {
    QDir().mkpath(to);
    for (const QFileInfo& fi : QDir(from).entryInfoList(QDir::Files))
        if (!QFile::copy(fi.absoluteFilePath(), to + '/' + fi.fileName())) return false;
    return true;
}

struct Sampled {
    QByteArray text;
    QString error;
    bool answered = false;
};

} // namespace

class TestRunSampler : public QObject {
    Q_OBJECT
    launch::PluginRegistry plugins_;
    launch::LauncherContext ctx_;
    test::SshdFixture sshd_;
    bool haveSshd_ = false;
    QString dir_, run_, longRun_;

    store::NodeRecord local() const {
        store::NodeRecord n;
        n.name = QStringLiteral("local");
        n.kind = QStringLiteral("local");
        return n;
    }
    store::NodeRecord sshNode() const {
        // The node is this machine: its engine is this build's.
        return sshd_.node(QStringLiteral("box"), dir_ + QStringLiteral("/known_hosts"),
                          test::trainExe());
    }

    QList<QVariant> list(launch::RunSampler& s, const store::NodeRecord& node, const QString& dir) {
        QSignalSpy listed(&s, &launch::RunSampler::checkpointsListed);
        s.listCheckpoints(11, node, dir);
        if (!listed.wait(60000)) return {};
        return listed.first();
    }

    Sampled sample(launch::RunSampler& s, const store::NodeRecord& node, const QString& dir,
                   const launch::SampleRequest& req) {
        Sampled out;
        const qint64 id = s.sample(node, dir, req);
        QEventLoop loop;
        connect(&s, &launch::RunSampler::output, &loop, [&](qint64 r, const QByteArray& chunk) {
            if (r == id) out.text += chunk;
        });
        connect(&s, &launch::RunSampler::finished, &loop, [&](qint64 r, const QString& e) {
            if (r != id) return;
            out.error = e;
            out.answered = true;
            loop.quit();
        });
        QTimer::singleShot(120000, &loop, &QEventLoop::quit);
        loop.exec();
        return out;
    }

    QByteArray engineSample(const QString& model, const launch::SampleRequest& req) {
        QProcess p;
        p.start(test::trainExe(), launch::sampleArguments(model, req));
        if (!p.waitForFinished(60000) || p.exitCode() != 0) return "<failed>";
        return p.readAllStandardOutput();
    }

    // A long generation (a model whose window allows 150 000 new tokens, which takes minutes)
    // stopped once text flows: the request ends promptly and no engine process is left.
    void stopsMidGeneration(const store::NodeRecord& node) {
        launch::RunSampler s(plugins_, ctx_);
        launch::SampleRequest req;
        const QString marker = QStringLiteral("stop-marker-%1-%2")
                                   .arg(node.kind)
                                   .arg(QCoreApplication::applicationPid());
        req.prompt = marker;
        req.maxNew = 150000;
        req.temperature = 1.0;
        qint64 got = 0;
        bool ended = false;
        QString error;
        const qint64 id = s.sample(node, longRun_, req);
        connect(&s, &launch::RunSampler::output, this,
                [&](qint64 r, const QByteArray& chunk) { got += r == id ? chunk.size() : 0; });
        connect(&s, &launch::RunSampler::finished, this, [&](qint64 r, const QString& e) {
            ended = ended || r == id;
            error = e;
        });
        QTRY_VERIFY_WITH_TIMEOUT(got > marker.size() + 20, 60000);
        QVERIFY2(processWith(marker), "the engine is not running while it prints");
        QVERIFY(!ended);
        QElapsedTimer t;
        t.start();
        s.stop(id);
        QTRY_VERIFY_WITH_TIMEOUT(ended, 10000);
        QCOMPARE(error, QString());
        QTRY_VERIFY_WITH_TIMEOUT(!processWith(marker), 5000);
        qInfo("stopped %s sample ended in %lld ms", qPrintable(node.kind), t.elapsed());
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        plugins_.load({test::pluginDir()});
        ctx_.localEngine = test::trainExe();
        dir_ = test::freshDir(QStringLiteral("run_sampler"));
        // 20 steps, a checkpoint every 10: final, step-10 and step-20.
        const QString model = test::tinyModel(dir_);
        QVERIFY(!model.isEmpty());
        run_ = dir_ + QStringLiteral("/run");
        const QString cfg = test::writeConfig(dir_ + QStringLiteral("/run.json"), model, 20, 10);
        QJsonObject c = QJsonDocument::fromJson([&] {
                            QFile f(cfg);
                            f.open(QIODevice::ReadOnly);
                            return f.readAll();
                        }())
                            .object();
        QJsonObject out = c.value("output").toObject();
        out.insert("dir", run_);
        c.insert("output", out);
        QFile f(cfg);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(QJsonDocument(c).toJson());
        f.close();
        QProcess train;
        train.start(test::trainExe(), {"train", "--config", cfg});
        QVERIFY(train.waitForFinished(300000));
        QVERIFY2(train.exitCode() == 0, train.readAllStandardError().constData());
        // A checkpoint still being written (no DONE) is never offered.
        QVERIFY(copyTree(run_ + "/final", run_ + "/checkpoints/step-00000030"));
        // The long run: the final model with a window of 200 000 positions.
        longRun_ = dir_ + QStringLiteral("/long");
        QVERIFY(copyTree(run_ + "/final", longRun_ + "/final"));
        QFile conf(longRun_ + "/final/config.json");
        QVERIFY(conf.open(QIODevice::ReadOnly));
        QJsonObject hf = QJsonDocument::fromJson(conf.readAll()).object();
        conf.close();
        hf.insert("max_position_embeddings", 200000);
        QVERIFY(conf.open(QIODevice::WriteOnly | QIODevice::Truncate));
        conf.write(QJsonDocument(hf).toJson());
        conf.close();

        haveSshd_ = sshd_.start(dir_ + QStringLiteral("/sshd"));
    }
    void cleanupTestCase() { sshd_.stop(); }

    void listingRule() {
        QCOMPARE(launch::checkpointsFromListing(
                     {"checkpoints/step-9/DONE", "checkpoints/step-10/DONE",
                      "checkpoints/step-11/config.json", "final/config.json",
                      "checkpoints/step-x/DONE", "checkpoints/step-10/../DONE", "other"}),
                 (QStringList{"final", "step-10", "step-9"}));
        QCOMPARE(launch::checkpointsFromListing({"final/model.safetensors"}), QStringList());
        QVERIFY(launch::isCheckpointName("step-00000010"));
        QVERIFY(!launch::isCheckpointName("step-1/../../x"));
        QVERIFY(!launch::isCheckpointName("../final"));
    }

    void localListAndSample() {
        launch::RunSampler s(plugins_, ctx_);
        const auto l = list(s, local(), run_);
        QVERIFY(!l.isEmpty());
        QCOMPARE(l.at(0).toLongLong(), 11);
        QCOMPARE(l.at(1).toStringList(), (QStringList{"final", "step-00000020", "step-00000010"}));
        QCOMPARE(l.at(2).toString(), QString());

        launch::SampleRequest req;
        req.checkpoint = QStringLiteral("step-00000010");
        req.prompt = QStringLiteral("To be");
        req.maxNew = 30;
        req.temperature = 0.9;
        req.topP = 0.9;
        req.seed = 7;
        const Sampled got = sample(s, local(), run_, req);
        QVERIFY(got.answered);
        QCOMPARE(got.error, QString());
        QCOMPARE(got.text, engineSample(run_ + "/checkpoints/step-00000010", req));
        QVERIFY(got.text.startsWith("To be"));
    }

    void localErrors() {
        launch::RunSampler s(plugins_, ctx_);
        const auto l = list(s, local(), dir_ + QStringLiteral("/nowhere"));
        QVERIFY(!l.isEmpty());
        QVERIFY2(l.at(2).toString().contains("does not exist"), qPrintable(l.at(2).toString()));
        launch::SampleRequest req;
        req.maxNew = 4;
        req.checkpoint = QStringLiteral("step-00000099");
        Sampled got = sample(s, local(), run_, req);
        QVERIFY(got.answered);
        QVERIFY2(got.error.contains("step-00000099") && got.error.contains("config.json"),
                 qPrintable(got.error));
        req.checkpoint = QStringLiteral("../../etc");
        got = sample(s, local(), run_, req);
        QVERIFY2(got.error.contains("expected final or step-N"), qPrintable(got.error));
        // The engine's own refusal reaches the caller with its stderr.
        req.checkpoint = QStringLiteral("final");
        req.prompt = QString(3000, 'a'); // longer than the 2048-position window
        got = sample(s, local(), run_, req);
        QVERIFY2(got.error.contains("max_position_embeddings"), qPrintable(got.error));
        QVERIFY(got.text.isEmpty());
    }

    void localStop() { stopsMidGeneration(local()); }

    void sshListAndSampleAsLocally() {
        if (!haveSshd_) QSKIP(qPrintable(sshd_.skipReason()));
        launch::RunSampler s(plugins_, ctx_);
        const auto l = list(s, sshNode(), run_);
        QVERIFY(!l.isEmpty());
        QCOMPARE(l.at(2).toString(), QString());
        QCOMPARE(l.at(1).toStringList(), (QStringList{"final", "step-00000020", "step-00000010"}));

        launch::SampleRequest req;
        req.prompt = QStringLiteral("O Romeo, it's \"quoted\" $(touch /tmp/bcd-no) 'and' ;");
        req.maxNew = 40;
        req.temperature = 1.1;
        req.topP = 0.95;
        req.seed = 12;
        const Sampled remote = sample(s, sshNode(), run_, req);
        QVERIFY(remote.answered);
        QCOMPARE(remote.error, QString());
        const Sampled here = sample(s, local(), run_, req);
        QCOMPARE(here.error, QString());
        QVERIFY(remote.text.startsWith(req.prompt.toUtf8()));
        QCOMPARE(remote.text, here.text);
        QVERIFY(!QFile::exists("/tmp/bcd-no"));

        // Errors name the node: a run folder that is not there, a checkpoint that is not there.
        const auto gone = list(s, sshNode(), dir_ + QStringLiteral("/nowhere"));
        QVERIFY2(gone.at(2).toString().contains("node box") &&
                     gone.at(2).toString().contains("does not exist"),
                 qPrintable(gone.at(2).toString()));
        req.checkpoint = QStringLiteral("step-00000099");
        const Sampled missing = sample(s, sshNode(), run_, req);
        QVERIFY2(missing.error.contains("node box") && missing.error.contains("step-00000099"),
                 qPrintable(missing.error));
    }

    void sshStop() {
        if (!haveSshd_) QSKIP(qPrintable(sshd_.skipReason()));
        stopsMidGeneration(sshNode());
    }

    // Run folders removed where they live (LauncherSession::removeRunFolder): a run folder goes
    // (a name with a quote and spaces reaches rm as one argument), a second removal finds it
    // gone, a folder without launch.json and paths that cannot be run folders are refused and
    // nothing is removed. Locally and over the real sshd.
    void removesRunFolders() {
        QVector<store::NodeRecord> nodes{local()};
        if (haveSshd_)
            nodes << sshNode();
        else
            qInfo("SSH case skipped: %s", qPrintable(sshd_.skipReason()));
        launch::NodeSessions sessions(plugins_, ctx_);
        for (const store::NodeRecord& node : nodes) {
            const QString base = dir_ + QStringLiteral("/rm-") + node.kind;
            const QString run = base + QStringLiteral("/7-it's a run");
            QVERIFY(QDir().mkpath(run + QStringLiteral("/checkpoints/step-5")));
            QVERIFY(QFile(run + QStringLiteral("/launch.json")).open(QIODevice::WriteOnly));
            QVERIFY(
                QFile(run + QStringLiteral("/checkpoints/step-5/DONE")).open(QIODevice::WriteOnly));
            const QString other = base + QStringLiteral("/not-a-run");
            QVERIFY(QDir().mkpath(other + QStringLiteral("/keep")));

            launch::FolderRemoval r = launch::removeRunFolder(sessions, node, 7, run);
            QVERIFY2(r.ok(), qPrintable(r.error));
            QVERIFY(r.removed);
            QVERIFY(!QFileInfo::exists(run));
            QVERIFY(QFileInfo::exists(base)); // only the run's own folder
            r = launch::removeRunFolder(sessions, node, 7, run);
            QVERIFY2(r.ok() && !r.removed, qPrintable(r.error));

            r = launch::removeRunFolder(sessions, node, 8, other);
            QVERIFY2(r.error.contains(QStringLiteral("not a run folder")), qPrintable(r.error));
            QVERIFY(QFileInfo::exists(other + QStringLiteral("/keep")));
            for (const QString& bad : {QStringLiteral("relative/run"), QStringLiteral("/"),
                                       base + QStringLiteral("/../rm-") + node.kind}) {
                r = launch::removeRunFolder(sessions, node, 9, bad);
                QVERIFY2(r.error.contains(QStringLiteral("refusing to remove")),
                         qPrintable(r.error));
            }
            QVERIFY(QFileInfo::exists(other + QStringLiteral("/keep")));
        }
    }
};

QTEST_GUILESS_MAIN(TestRunSampler)
#include "tst_run_sampler.moc"
