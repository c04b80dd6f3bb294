// The Sample page: a local run's checkpoints are offered (final first, complete ones only), both
// columns generate with `bcd-train sample` as the engine itself would for the same settings, a run
// on an SSH node (a real sshd) is listed and sampled there with the same text, and Stop returns at
// once.

#include "chart_test_runs.h"
#include "sshd_fixture.h"
#include "ui/pages/sample_page.h"
#include "ui/workbench.h"

#include <QComboBox>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>
#include <memory>

using namespace bcd;
using namespace bcd::ui;

class TstSamplePage : public QObject {
    Q_OBJECT
    QString dir_;
    std::unique_ptr<Workbench> wb_;
    test::StoredRun trained_;
    test::SshdFixture sshd_;
    bool haveSshd_ = false;

    // What the engine prints for these settings, without the workbench.
    QString engineSample(const QString& model, const QString& prompt, double temperature,
                         double topP, int maxNew, int seed) {
        QProcess p;
        p.start(test::trainExe(),
                {"sample", "--model", model, "--prompt", prompt, "--max-new",
                 QString::number(maxNew), "--temperature", QString::number(temperature), "--top-p",
                 QString::number(topP), "--seed", QString::number(seed), "--threads", "1"});
        if (!p.waitForFinished(60000) || p.exitCode() != 0) return QStringLiteral("<failed>");
        QString out = QString::fromUtf8(p.readAllStandardOutput());
        if (out.endsWith('\n')) out.chop(1);
        return out;
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        qputenv("BCD_PLUGIN_PATH", test::pluginDir().toLocal8Bit());
        qputenv("BCD_TRAIN", test::trainExe().toLocal8Bit());
        dir_ = test::freshDir(QStringLiteral("sample_page"));
        const QJsonObject cfg = test::trainTinyRun(dir_, 30);
        QVERIFY2(!cfg.isEmpty(), "the engine did not train");
        wb_ = std::make_unique<Workbench>(dir_ + "/store.sqlite");
        trained_ =
            test::storeRun(wb_->store(), QStringLiteral("tiny"), dir_ + "/run", cfg, 1.0, 30);
        // A half-written checkpoint (no DONE) is not offered; a complete one is.
        QDir().mkpath(dir_ + "/run/checkpoints/step-00000010");
        QDir().mkpath(dir_ + "/run/checkpoints/step-00000020");
        for (const char* f : {"config.json", "model.safetensors"}) {
            QFile::copy(dir_ + "/run/final/" + f, dir_ + "/run/checkpoints/step-00000010/" + f);
            QFile::copy(dir_ + "/run/final/" + f, dir_ + "/run/checkpoints/step-00000020/" + f);
        }
        QFile done(dir_ + "/run/checkpoints/step-00000010/DONE");
        QVERIFY(done.open(QIODevice::WriteOnly));
        haveSshd_ = sshd_.start(dir_ + "/sshd");
    }
    void cleanupTestCase() {
        wb_.reset();
        sshd_.stop();
    }

    void offersCompleteCheckpoints() {
        SamplePage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(!page.checkpoints(0).isEmpty(), 10000);
        page.choose(0, trained_.id, "final");
        QTRY_COMPARE_WITH_TIMEOUT(page.checkpoints(0), (QStringList{"final", "step-00000010"}),
                                  10000);
        QTRY_COMPARE_WITH_TIMEOUT(page.modelDir(0), dir_ + "/run/final", 10000);
        page.choose(1, trained_.id, "step-00000010");
        QTRY_COMPARE_WITH_TIMEOUT(page.modelDir(1), dir_ + "/run/checkpoints/step-00000010", 10000);
    }

    void generatesAsTheEngineDoes() {
        SamplePage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(!page.checkpoints(0).isEmpty(), 10000);
        page.choose(0, trained_.id, "final");
        page.choose(1, trained_.id, "step-00000010");
        QTRY_COMPARE_WITH_TIMEOUT(page.modelDir(0), dir_ + "/run/final", 10000);
        QTRY_COMPARE_WITH_TIMEOUT(page.modelDir(1), dir_ + "/run/checkpoints/step-00000010", 10000);
        page.setPrompt("To be");
        // A: greedy; B: sampled (the same weights, so the difference is the sampling).
        page.setSettings(0.0, 1.0, 24, 1);
        QSignalSpy finished(&page, &SamplePage::finished);
        page.generate();
        QVERIFY(finished.wait(60000));
        const QString greedy = engineSample(dir_ + "/run/final", "To be", 0.0, 1.0, 24, 1);
        QVERIFY(greedy.startsWith("To be"));
        QCOMPARE(page.output(0), greedy);
        QCOMPARE(page.output(1), greedy);
        page.setSettings(1.2, 0.9, 24, 5);
        page.generate();
        QVERIFY(finished.wait(60000));
        QCOMPARE(page.output(0), engineSample(dir_ + "/run/final", "To be", 1.2, 0.9, 24, 5));
        QCOMPARE(page.output(1), page.output(0));
        QVERIFY(!page.busy());
    }

    // A run on an SSH node (a real sshd on this machine, so the node sees the same run folder):
    // its checkpoints are listed through the node, the column says where it samples, and the
    // text is what the local column makes of the same checkpoint and settings.
    void sshRunSamplesOnItsNode() {
        if (!haveSshd_) QSKIP(qPrintable(sshd_.skipReason()));
        const qint64 id = wb_->store().callBlocking([this](store::RunStore& s) {
            s.addNode(sshd_.node(QStringLiteral("box"), dir_ + "/known_hosts", test::trainExe()));
            store::NewRun n;
            n.name = QStringLiteral("far away");
            n.node = QStringLiteral("box");
            const qint64 r = s.createRun(n);
            s.setRunLocation(r, dir_ + "/run", 0);
            return r;
        });
        emit wb_->runsChanged();
        SamplePage page(*wb_);
        auto* runs = page.findChild<QComboBox*>(QStringLiteral("runB"));
        QVERIFY(runs);
        QTRY_VERIFY_WITH_TIMEOUT(runs->findData(id) >= 0, 10000);
        QSignalSpy listed(&page, &SamplePage::checkpointsListed);
        page.choose(0, trained_.id, "final");
        page.choose(1, id, "step-00000010");
        // Listed through the node, asynchronously: "listing…" first, then the same rule.
        QTRY_COMPARE_WITH_TIMEOUT(page.checkpoints(1), (QStringList{"final", "step-00000010"}),
                                  30000);
        QTRY_COMPARE_WITH_TIMEOUT(page.modelDir(1), dir_ + "/run/checkpoints/step-00000010", 10000);
        QVERIFY2(page.note(1).contains("on node box (ssh)"), qPrintable(page.note(1)));
        QVERIFY(!listed.isEmpty());
        page.choose(0, trained_.id, "step-00000010");
        QTRY_COMPARE_WITH_TIMEOUT(page.modelDir(0), dir_ + "/run/checkpoints/step-00000010", 10000);
        page.setPrompt("Wherefore");
        page.setSettings(1.0, 0.9, 30, 3);
        QSignalSpy finished(&page, &SamplePage::finished);
        page.generate();
        QVERIFY(finished.wait(60000));
        QVERIFY(!page.busy());
        QVERIFY2(page.output(1).startsWith("Wherefore"), qPrintable(page.output(1)));
        QCOMPARE(page.output(1), page.output(0));
        QCOMPARE(page.output(0), engineSample(dir_ + "/run/checkpoints/step-00000010", "Wherefore",
                                              1.0, 0.9, 30, 3));
    }

    // Stop during a long generation: the page returns at once (no wait on the GUI thread) and
    // the column ends with "(stopped)" when the sampler answers.
    void stopReturnsAtOnce() {
        const QString longRun = dir_ + "/long";
        QDir().mkpath(longRun + "/final");
        QVERIFY(QFile::copy(dir_ + "/run/metrics.jsonl", longRun + "/metrics.jsonl"));
        QVERIFY(QFile::copy(dir_ + "/run/final/model.safetensors",
                            longRun + "/final/model.safetensors"));
        QFile conf(dir_ + "/run/final/config.json");
        QVERIFY(conf.open(QIODevice::ReadOnly));
        QJsonObject hf = QJsonDocument::fromJson(conf.readAll()).object();
        hf.insert("max_position_embeddings", 200000);
        QFile out(longRun + "/final/config.json");
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(QJsonDocument(hf).toJson());
        out.close();
        const test::StoredRun r =
            test::storeRun(wb_->store(), QStringLiteral("long"), longRun, trained_.config, 1.0, 30);
        emit wb_->runsChanged();
        SamplePage page(*wb_);
        auto* runs = page.findChild<QComboBox*>(QStringLiteral("runA"));
        QTRY_VERIFY_WITH_TIMEOUT(runs->findData(r.id) >= 0, 10000);
        page.choose(0, r.id, "final");
        page.choose(1, r.id, "final");
        QTRY_COMPARE_WITH_TIMEOUT(page.modelDir(0), longRun + "/final", 10000);
        QTRY_COMPARE_WITH_TIMEOUT(page.modelDir(1), longRun + "/final", 10000);
        page.setPrompt("Now");
        page.setSettings(1.0, 1.0, 4096, 1);
        QSignalSpy finished(&page, &SamplePage::finished);
        page.generate();
        QTRY_VERIFY_WITH_TIMEOUT(page.output(0).size() > 40, 30000);
        auto* stop = page.findChild<QPushButton*>(QStringLiteral("stop"));
        QVERIFY(stop && stop->isEnabled());
        QElapsedTimer t;
        t.start();
        stop->click();
        QVERIFY2(t.elapsed() < 100, "Stop waited on the GUI thread");
        QVERIFY(finished.wait(10000));
        QVERIFY(!page.busy());
        QVERIFY2(page.output(0).endsWith("(stopped)"), qPrintable(page.output(0).right(40)));
    }
};

QTEST_MAIN(TstSamplePage)
#include "tst_sample_page.moc"
