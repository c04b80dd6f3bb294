// The Sample page: a local run's checkpoints are offered (final first, complete ones only), both
// columns generate with `bcd-train sample` as the engine itself would for the same settings, and a
// run on another node says how to sample it there instead.

#include "chart_test_runs.h"
#include "ui/pages/sample_page.h"
#include "ui/workbench.h"

#include <QComboBox>
#include <QLabel>
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
    }
    void cleanupTestCase() { wb_.reset(); }

    void offersCompleteCheckpoints() {
        SamplePage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(!page.checkpoints(0).isEmpty(), 10000);
        page.choose(0, trained_.id, "final");
        QCOMPARE(page.checkpoints(0), (QStringList{"final", "step-00000010"}));
        QCOMPARE(page.modelDir(0), dir_ + "/run/final");
        page.choose(1, trained_.id, "step-00000010");
        QCOMPARE(page.modelDir(1), dir_ + "/run/checkpoints/step-00000010");
    }

    void generatesAsTheEngineDoes() {
        SamplePage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(!page.checkpoints(0).isEmpty(), 10000);
        page.choose(0, trained_.id, "final");
        page.choose(1, trained_.id, "step-00000010");
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

    void remoteRunSaysWhere() {
        const qint64 id = wb_->store().callBlocking([](store::RunStore& s) {
            store::NodeRecord node;
            node.name = QStringLiteral("gpu1");
            node.kind = QStringLiteral("ssh");
            node.host = QStringLiteral("gpu1.lab");
            s.addNode(node);
            store::NewRun n;
            n.name = QStringLiteral("far away");
            n.node = QStringLiteral("gpu1");
            const qint64 r = s.createRun(n);
            s.setRunLocation(r, QStringLiteral("/remote/runs/7-far"), 0);
            return r;
        });
        emit wb_->runsChanged();
        SamplePage page(*wb_);
        auto* runs = page.findChild<QComboBox*>(QStringLiteral("runA"));
        QVERIFY(runs);
        QTRY_VERIFY_WITH_TIMEOUT(runs->findData(id) >= 0, 10000);
        page.choose(0, id, "final");
        QVERIFY(page.checkpoints(0).isEmpty());
        QVERIFY(page.modelDir(0).isEmpty());
        const QList<QLabel*> note = page.findChildren<QLabel*>();
        bool said = false;
        for (QLabel* l : note)
            said = said || l->text().contains("bcd-train sample --model /remote/runs/7-far/final");
        QVERIFY(said);
    }
};

QTEST_MAIN(TstSamplePage)
#include "tst_sample_page.moc"
