// The New run page: the form gives back the config it was given, the plan view follows the batch
// size, a fresh store offers the local node and the bundled sample with a preset model, and a
// launch of the tiny preset from the page runs to "finished" on the local node.

#include "launch/run_config.h"
#include "nodes/node_probe.h"
#include "test_runs.h"
#include "ui/pages/new_run_page.h"
#include "ui/widgets/config_form.h"
#include "ui/widgets/plan_view.h"
#include "ui/workbench.h"

#include <QComboBox>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QtTest>
#include <memory>

using namespace bcd;
using namespace bcd::ui;

class TstNewRunPage : public QObject {
    Q_OBJECT
    QString dir_;
    std::unique_ptr<Workbench> wb_;

    QJsonObject fullConfig(const QString& modelPath) const {
        return QJsonObject{
            {"model", QJsonObject{{"path", modelPath}}},
            {"data", QJsonObject{{"train", wb_->sampleCorpus()},
                                 {"val", wb_->sampleValCorpus()},
                                 {"format", "text"},
                                 {"tokenizer", "byte"},
                                 {"seq_len", 64}}},
            {"optim", QJsonObject{{"name", "sgd"},
                                  {"lr", 0.0015},
                                  {"betas", QJsonArray{0.9, 0.99}},
                                  {"schedule", "linear"},
                                  {"warmup_steps", 7},
                                  {"min_lr", 1e-5},
                                  {"weight_decay", 0.01},
                                  {"grad_clip", 0.5},
                                  {"momentum", 0.9}}},
            {"train", QJsonObject{{"steps", 321},
                                  {"batch_size", 3},
                                  {"grad_accum", 2},
                                  {"seed", 42},
                                  {"recompute", true},
                                  {"precision", "fp32"}}},
            {"bcd", QJsonObject{{"mode", "full"},
                                {"layers_per_block", 2},
                                {"order", "random"},
                                {"switch_every", 13},
                                {"reset_state_on_switch", false},
                                {"offload_states", true},
                                {"embed_block", false},
                                {"head_block", true}}},
            {"device", QJsonObject{{"threads", 1}}},
            {"output",
             QJsonObject{{"log_every", 3}, {"eval_every", 30}, {"checkpoint_every", 100}}},
        };
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        qputenv("BCD_PLUGIN_PATH", test::pluginDir().toLocal8Bit());
        qputenv("BCD_TRAIN", test::trainExe().toLocal8Bit());
        dir_ = test::freshDir(QStringLiteral("new_run"));
        wb_ = std::make_unique<Workbench>(dir_ + "/store.sqlite");
        QVERIFY(!wb_->sampleCorpus().isEmpty());
    }
    void cleanupTestCase() { wb_.reset(); }

    void freshStoreOffersLocalNodeAndSample() {
        NewRunPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        QCOMPARE(page.node(), QStringLiteral("local"));
        const QJsonObject c = page.config();
        QCOMPARE(launch::configValue(c, "data.train").toString(), wb_->sampleCorpus());
        QCOMPARE(page.form()->preset(), QStringLiteral("small"));
        QCOMPARE(launch::configValue(c, "model.path").toString(), dir_ + "/models/small");
        QVERIFY(page.form()->modelSummary().contains(QStringLiteral("6 layers")));
        QVERIFY(page.form()->dataPreview().contains(QStringLiteral("HAMLET")) ||
                !page.form()->dataPreview().isEmpty());
        QVERIFY(page.commandPreview().contains(QStringLiteral(" train --config ")));
        page.planView()->replan();
        QVERIFY2(page.planView()->plan().has_value(), qPrintable(page.planView()->error()));
        QVERIFY(page.planView()->plan()->bcd.fits);
    }

    void formRoundTrip() {
        NewRunPage page(*wb_);
        for (const QString& model :
             {dir_ + "/models/tiny", QString(test::sourceDir() + "/some/hf-folder")}) {
            const QJsonObject c = fullConfig(model);
            page.setConfig(c);
            QCOMPARE(page.config(), c);
        }
        QCOMPARE(page.form()->preset(), QString()); // the last one names a folder
        page.setConfig(fullConfig(dir_ + "/models/tiny"));
        QCOMPARE(page.form()->preset(), QStringLiteral("tiny"));
        page.form()->batchSize()->setValue(5);
        QCOMPARE(launch::configValue(page.config(), "train.batch_size").toInt(), 5);
        // An empty validation field leaves data.val out (no evaluation), not "".
        QJsonObject noVal = fullConfig(dir_ + "/models/tiny");
        QJsonObject data = noVal["data"].toObject();
        data.remove("val");
        noVal["data"] = data;
        page.setConfig(noVal);
        QCOMPARE(page.config(), noVal);
    }

    void planFollowsBatchSize() {
        NewRunPage page(*wb_);
        QJsonObject c = fullConfig(dir_ + "/models/tiny");
        c = launch::withConfigValue(c, "bcd.mode", "bcd");
        c = launch::withConfigValue(c, "train.batch_size", 2);
        c = launch::withConfigValue(c, "train.recompute", false);
        page.setConfig(c);
        page.planView()->replan();
        QVERIFY2(page.planView()->plan().has_value(), qPrintable(page.planView()->error()));
        const auto small = page.planView()->plan()->bcd.memory.activations;
        QSignalSpy planned(page.planView(), &PlanView::planned);
        page.form()->batchSize()->setValue(16);
        QVERIFY(planned.wait(5000)); // debounced, not immediate
        const auto large = page.planView()->plan()->bcd.memory.activations;
        QVERIFY2(large > small * 4, qPrintable(QStringLiteral("%1 -> %2").arg(small).arg(large)));
        QVERIFY(page.planView()->plan()->full.memory.activations > 0);
    }

    void hardwareFromTheNodesProbe() {
        nodes::NodeProbe probe;
        for (int i = 0; i < 2; ++i) {
            nodes::GpuInfo g;
            g.index = i;
            g.name = QStringLiteral("NVIDIA H200");
            g.memoryMiB = 143771;
            probe.gpus << g;
        }
        probe.memoryBytes = 64LL << 30;
        probe.cpuThreads = 32;
        store::NodeRecord gpuNode;
        gpuNode.name = QStringLiteral("h200");
        gpuNode.kind = QStringLiteral("ssh");
        gpuNode.probe = probe.toJson();
        QString description;
        const auto gpus = nodeHardware(gpuNode, 0, &description);
        QVERIFY(gpus.has_value());
        QCOMPARE(gpus->world_size(), 2);
        QCOMPARE(gpus->memory_bytes(), 143771ULL << 20);
        QVERIFY2(description.contains(QStringLiteral("H200")), qPrintable(description));

        store::NodeRecord cpuNode = gpuNode;
        probe.gpus.clear();
        cpuNode.probe = probe.toJson();
        const auto cpu = nodeHardware(cpuNode, 0, &description);
        QVERIFY(cpu.has_value() && cpu->is_cpu());
        QCOMPARE(cpu->cpu.memory_bytes, 64ULL << 30);
        QCOMPARE(cpu->cpu.threads, 32);

        cpuNode.probe = {}; // never probed: nothing to plan for until the user picks a GPU
        QVERIFY(!nodeHardware(cpuNode, 0, &description).has_value());
    }

    // A Slurm cluster: its probed partitions offered, the plan on the chosen partition's GPUs, the
    // preview the plugin's batch script for that partition.
    void slurmPartitionAndBatchScript() {
        nodes::NodeProbe probe;
        probe.slurmVersion = QStringLiteral("22.05.8");
        nodes::SlurmPartition cpu;
        cpu.name = QStringLiteral("cpu");
        cpu.isDefault = true;
        cpu.nodes = 4;
        nodes::SlurmPartition gpu = cpu;
        gpu.name = QStringLiteral("gpu");
        gpu.isDefault = false;
        gpu.gpusPerNode = 4;
        gpu.gpuType = QStringLiteral("h100");
        probe.partitions = {cpu, gpu};
        store::NodeRecord n;
        n.name = QStringLiteral("hpc");
        n.kind = QStringLiteral("slurm");
        n.host = QStringLiteral("login.hpc.lab");
        n.runRoot = QStringLiteral("/shared/bcd-runs");
        n.jobDefaults = QJsonObject{{"time", "4:00:00"}};
        QSignalSpy saved(&wb_->store(), &store::StoreService::error);
        wb_->store().callBlocking([n, probe](store::RunStore& s) {
            s.addNode(n);
            s.setNodeProbe(n.name, probe.toJson());
        });
        emit wb_->nodesChanged();
        NewRunPage page(*wb_);
        page.show();
        QTRY_VERIFY(page.nodeNames().contains(QStringLiteral("hpc")));
        page.setNode(QStringLiteral("hpc"));
        auto* partition = page.findChild<QComboBox*>(QStringLiteral("slurmPartition"));
        QVERIFY(partition && partition->isVisible());
        QCOMPARE(partition->count(), 2);
        QCOMPARE(partition->currentData().toString(), QStringLiteral("cpu")); // the default
        QVERIFY2(page.commandPreview().contains(QStringLiteral("#SBATCH --partition=cpu\n")),
                 qPrintable(page.commandPreview()));
        partition->setCurrentIndex(1);
        QTRY_VERIFY2(page.commandPreview().contains(QStringLiteral("#SBATCH --partition=gpu\n")),
                     qPrintable(page.commandPreview()));
        QVERIFY(page.commandPreview().contains(QStringLiteral("#SBATCH --time=4:00:00\n")));
        QVERIFY(page.commandPreview().contains(QStringLiteral("srun ")));
        auto* plan = page.findChild<PlanView*>();
        QVERIFY(plan);
        QTRY_VERIFY(plan->plan().has_value());
        QCOMPARE(plan->plan()->bcd.world_size, 4);
        QVERIFY2(QString::fromStdString(plan->plan()->bcd.device).contains(QStringLiteral("H100")),
                 plan->plan()->bcd.device.c_str());
        page.setNode(QStringLiteral("local"));
        QVERIFY(partition->isHidden());
        QVERIFY(page.commandPreview().contains(QStringLiteral(" train --config ")));
        QCOMPARE(saved.count(), 0);
    }

    void shapeOnlyPresetPlansButDoesNotLaunch() {
        NewRunPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        page.setConfig(
            launch::withConfigValue(fullConfig(dir_ + "/models/llama3-8b"), "bcd.mode", "bcd"));
        QCOMPARE(page.form()->preset(), QStringLiteral("llama3-8b"));
        QVERIFY(page.form()->shapeOnly());
        QVERIFY(page.form()->modelSummary().contains(QStringLiteral("32 layers")));
        page.planView()->setGpuChoice(QStringLiteral("RTX 4090"), 1);
        page.planView()->replan();
        QVERIFY2(page.planView()->plan().has_value(), qPrintable(page.planView()->error()));
        QVERIFY(page.planView()->plan()->full.capacity_bytes < 30ULL << 30);
        QSignalSpy finished(&page, &NewRunPage::launchFinished);
        page.launch();
        QCOMPARE(finished.size(), 1);
        QCOMPARE(finished.first().at(1).toBool(), false);
        QVERIFY(finished.first().at(2).toString().contains(QStringLiteral("shape")));
        QVERIFY(!QFile::exists(dir_ + "/models/llama3-8b"));
    }

    void launchTinyPresetToFinished() {
        NewRunPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        QJsonObject c{
            {"model", QJsonObject{{"path", dir_ + "/models/tiny"}}},
            {"data", QJsonObject{{"train", wb_->sampleCorpus()}, {"seq_len", 32}}},
            {"train", QJsonObject{{"steps", 20}, {"batch_size", 2}}},
            {"bcd", QJsonObject{{"switch_every", 5}}},
            {"device", QJsonObject{{"threads", 1}}},
            {"output", QJsonObject{{"log_every", 1}}},
        };
        page.setConfig(c);
        QCOMPARE(page.form()->preset(), QStringLiteral("tiny"));
        page.setRunName(QStringLiteral("from the page"));
        QSignalSpy finished(&page, &NewRunPage::launchFinished);
        QSignalSpy monitor(wb_.get(), &Workbench::openMonitor);
        QSignalSpy ended(&wb_->runs(), &launch::RunController::runEnded);
        page.launch();
        QVERIFY(finished.wait(30000));
        QVERIFY2(finished.first().at(1).toBool(), qPrintable(finished.first().at(2).toString()));
        const qint64 id = finished.first().at(0).toLongLong();
        QCOMPARE(monitor.size(), 1);
        QCOMPARE(monitor.first().at(0).toLongLong(), id);
        QVERIFY(QFile::exists(dir_ + "/models/tiny/model.safetensors"));
        QTRY_VERIFY_WITH_TIMEOUT(!ended.isEmpty(), 45000);
        QCOMPARE(ended.first().at(0).toLongLong(), id);
        QCOMPARE(ended.first().at(1).toString(), QStringLiteral("finished"));
        const auto run = wb_->store().callBlocking([id](store::RunStore& s) { return s.run(id); });
        QVERIFY(run.has_value());
        QCOMPARE(run->name, QStringLiteral("from the page"));
        QCOMPARE(run->lastStep.value_or(0), 20);
    }
};

QTEST_MAIN(TstNewRunPage)
#include "tst_new_run_page.moc"
