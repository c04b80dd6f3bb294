// The New run page: the form gives back the config it was given, the plan view follows the batch
// size, a fresh store offers the local node and the bundled sample with a preset model, and a
// launch of the tiny preset from the page runs to "finished" on the local node.

#include "launch/run_config.h"
#include "nodes/node_probe.h"
#include "test_runs.h"
#include "ui/pages/new_run_page.h"
#include "ui/widgets/config_form.h"
#include "ui/widgets/memory_bar.h"
#include "ui/widgets/plan_view.h"
#include "ui/workbench.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QGroupBox>
#include <QJsonDocument>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QWheelEvent>
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
                                {"active_blocks", 2},
                                {"switch_warmup_steps", 3},
                                {"reset_state_on_switch", false},
                                {"offload_states", true},
                                {"embed_block", false},
                                {"head_block", true}}},
            {"device", QJsonObject{{"threads", 1}}},
            {"output", QJsonObject{{"log_every", 3},
                                   {"eval_every", 30},
                                   {"eval_batches", 4},
                                   {"checkpoint_every", 100}}},
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
        // Evaluation on all the validation data is the key left out (the engine's default), so
        // the config reads the same to an engine older than the key.
        QJsonObject allEval = fullConfig(dir_ + "/models/tiny");
        QJsonObject output = allEval["output"].toObject();
        output.insert("eval_batches", 0);
        allEval["output"] = output;
        page.setConfig(allEval);
        QVERIFY(!page.config()["output"].toObject().contains("eval_batches"));
        QCOMPARE(launch::configValue(page.config(), "output.eval_every").toInt(), 30);
    }

    // Inputs never change silently: the wheel over an unfocused spin or combo box scrolls the
    // page instead of editing the value; once the field has the focus the wheel edits it.
    void wheelEditsOnlyFocusedInputs() {
        NewRunPage page(*wb_);
        page.setConfig(fullConfig(dir_ + "/models/tiny"));
        page.resize(900, 420);
        page.show();
        page.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&page));
        QSpinBox* steps = page.form()->steps();
        auto* combo = page.form()->findChild<QComboBox*>();
        QVERIFY(combo);
        auto* area = page.findChild<QScrollArea*>();
        auto wheel = [](QWidget* w, int dy) {
            const QPointF at(w->width() / 2.0, w->height() / 2.0);
            QWheelEvent e(at, w->mapToGlobal(at), QPoint(), QPoint(0, dy), Qt::NoButton,
                          Qt::NoModifier, Qt::NoScrollPhase, false);
            QApplication::sendEvent(w, &e);
        };
        QCOMPARE(steps->value(), 321);
        const int comboIndex = combo->currentIndex();
        const int scrolledBefore = area ? area->verticalScrollBar()->value() : 0;
        QVERIFY(!steps->hasFocus());
        wheel(steps, -120);
        wheel(steps, -120);
        wheel(combo, -120);
        QCOMPARE(steps->value(), 321);
        QCOMPARE(combo->currentIndex(), comboIndex);
        if (area && area->verticalScrollBar()->maximum() > 0)
            QVERIFY2(area->verticalScrollBar()->value() != scrolledBefore,
                     "the wheel goes to the scroll area");
        steps->setFocus();
        QTRY_VERIFY(steps->hasFocus());
        wheel(steps, -120);
        QCOMPARE(steps->value(), 320);
    }

    // A config file with values the form cannot show is refused, naming each field; nothing is
    // clamped and the form keeps what it showed.
    void invalidConfigIsRefusedNotClamped() {
        NewRunPage page(*wb_);
        const QJsonObject good = fullConfig(dir_ + "/models/tiny");
        page.setConfig(good);
        QJsonObject bad = launch::withConfigValue(good, "train.steps", -5);
        bad = launch::withConfigValue(bad, "train.batch_size", 0);
        bad = launch::withConfigValue(bad, "bcd.order", "sideways");
        bad = launch::withConfigValue(bad, "optim.lr", "fast");
        bad = launch::withConfigValue(bad, "bcd.switch_every", 2.5);
        bad = launch::withConfigValue(bad, "train.recompute", 1);
        const QString file = dir_ + "/bad-config.json";
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QJsonDocument(bad).toJson());
        f.close();
        QVERIFY(!page.loadConfig(file));
        QCOMPARE(page.config(), good);
        auto* box = page.findChild<QMessageBox*>(QStringLiteral("configProblems"));
        QVERIFY(box);
        const QString text = box->informativeText();
        for (const char* key : {"train.steps: expected an integer from 1 to", "got -5",
                                "train.batch_size", "bcd.order: expected one of", "\"sideways\"",
                                "optim.lr", "bcd.switch_every", "train.recompute"})
            QVERIFY2(text.contains(QLatin1String(key)), qPrintable(key + (": " + text)));
        QCOMPARE(text.count(QLatin1Char('\n')), 5); // one line per field
        box->close();

        QFile g(dir_ + "/good-config.json");
        QVERIFY(g.open(QIODevice::WriteOnly));
        g.write(QJsonDocument(launch::withConfigValue(good, "train.steps", 77)).toJson());
        g.close();
        QVERIFY(page.loadConfig(g.fileName()));
        QCOMPARE(page.form()->steps()->value(), 77);
    }

    // Settings that cannot run are validation errors under the form (and refused at launch),
    // cleared as soon as the field is fixed.
    void impossibleSettingsAreFieldErrors() {
        NewRunPage page(*wb_);
        QJsonObject c =
            launch::withConfigValue(fullConfig(dir_ + "/models/tiny"), "bcd.mode", "bcd");
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        page.setNode(QStringLiteral("local"));
        page.setConfig(c);
        const auto model = page.form()->modelConfig();
        QVERIFY(model);
        QVERIFY(page.form()->fieldErrors().isEmpty());
        auto* label = page.form()->findChild<QLabel*>(QStringLiteral("fieldErrors"));
        QVERIFY(label);
        QVERIFY(!label->isVisibleTo(&page));
        page.setConfig(launch::withConfigValue(c, "bcd.layers_per_block", model->num_layers + 1));
        QCOMPARE(page.form()->fieldErrors().size(), 1);
        QVERIFY(page.form()->fieldErrors()[0].startsWith("bcd.layers_per_block"));
        QVERIFY(label->isVisibleTo(&page));
        QSignalSpy finished(&page, &NewRunPage::launchFinished);
        page.launch();
        QCOMPARE(finished.size(), 1);
        QCOMPARE(finished[0][1].toBool(), false);
        QVERIFY2(finished[0][2].toString().contains("bcd.layers_per_block"),
                 qPrintable(finished[0][2].toString()));
        page.setConfig(launch::withConfigValue(c, "bcd.layers_per_block", model->num_layers));
        QVERIFY(page.form()->fieldErrors().isEmpty());
        QVERIFY(!label->isVisibleTo(&page));
    }

    // Precision follows the node (bf16 on GPU nodes, fp32 on the CPU) until the user or a loaded
    // config chooses it; bf16 on a node probed without GPUs is refused at launch.
    void precisionFollowsTheNode() {
        nodes::NodeProbe probe;
        nodes::GpuInfo g;
        g.name = QStringLiteral("NVIDIA GeForce RTX 4090");
        g.memoryMiB = 24564;
        probe.gpus << g;
        probe.memoryBytes = 64LL << 30;
        probe.cpuThreads = 16;
        store::NodeRecord n;
        n.name = QStringLiteral("rtx");
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("rtx.lab");
        nodes::NodeProbe cpuOnly = probe;
        cpuOnly.gpus.clear();
        wb_->store().callBlocking([n, probe, cpuOnly](store::RunStore& s) {
            s.addNode(n);
            s.setNodeProbe(n.name, probe.toJson());
            s.setNodeProbe(QStringLiteral("local"), cpuOnly.toJson());
        });
        emit wb_->nodesChanged();
        NewRunPage page(*wb_);
        QTRY_VERIFY(page.nodeNames().contains(QStringLiteral("rtx")));
        page.setConfig({});
        page.setNode(QStringLiteral("local"));
        QCOMPARE(page.form()->precision()->currentText(), QStringLiteral("fp32"));
        page.setNode(QStringLiteral("rtx"));
        QCOMPARE(page.form()->precision()->currentText(), QStringLiteral("bf16"));
        QCOMPARE(launch::configValue(page.config(), "train.precision").toString(), "bf16");
        page.setNode(QStringLiteral("local"));
        QCOMPARE(page.form()->precision()->currentText(), QStringLiteral("fp32"));
        // A loaded config's own precision stays, whatever the node.
        page.setConfig(
            launch::withConfigValue(fullConfig(dir_ + "/models/tiny"), "train.precision", "fp32"));
        page.setNode(QStringLiteral("rtx"));
        QCOMPARE(page.form()->precision()->currentText(), QStringLiteral("fp32"));
        // bf16 where the probe found no GPU: refused at launch with the reason.
        page.setConfig(
            launch::withConfigValue(fullConfig(dir_ + "/models/tiny"), "train.precision", "bf16"));
        page.setNode(QStringLiteral("local"));
        QSignalSpy finished(&page, &NewRunPage::launchFinished);
        page.launch();
        QCOMPARE(finished.size(), 1);
        QVERIFY2(finished[0][2].toString().startsWith("train.precision: bf16 needs a GPU"),
                 qPrintable(finished[0][2].toString()));
        // The node is this test's own: the other tests see the store without it.
        wb_->store().callBlocking([](store::RunStore& s) { s.removeNode(QStringLiteral("rtx")); });
        emit wb_->nodesChanged();
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

    // The plan's two cards stand side by side on a wide page and one above the other when the
    // page is as narrow as on a 1024-pixel screen, where the plan scrolls instead of clipping.
    void planCardsStackWhenNarrow() {
        NewRunPage page(*wb_);
        page.setConfig(fullConfig(dir_ + "/models/tiny"));
        auto* full = page.findChild<QGroupBox*>(QStringLiteral("planFull"));
        auto* bcdCard = page.findChild<QGroupBox*>(QStringLiteral("planBcd"));
        QVERIFY(full && bcdCard);
        page.resize(1450, 950); // a 1600-pixel window less the navigation
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QTRY_VERIFY(page.planView()->cardsSideBySide());
        QTRY_VERIFY(bcdCard->geometry().left() > full->geometry().right());
        page.resize(870, 650); // a 1024×700 window less the navigation, menu and status bars
        QTRY_VERIFY(!page.planView()->cardsSideBySide());
        QTRY_VERIFY(bcdCard->geometry().top() > full->geometry().bottom());
        QVERIFY(page.planView()->width() < PlanView::kSideBySideWidth);
        QVERIFY(page.minimumSizeHint().width() <= 870);
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

    // A data-parallel run: processes per node on the local node make the preview an mpirun
    // over "localhost slots=N" and the plan a world of N; a second SSH node beside the chosen
    // one adds its ranks (one each when not probed) and a hostfile of both hosts.
    void dataParallelPreviewAndPlan() {
        store::NodeRecord a, b;
        a.name = QStringLiteral("dp-a");
        a.kind = QStringLiteral("ssh");
        a.host = QStringLiteral("10.0.0.1");
        b = a;
        b.name = QStringLiteral("dp-b");
        b.host = QStringLiteral("10.0.0.2");
        wb_->store().callBlocking([a, b](store::RunStore& s) {
            s.addNode(a);
            s.addNode(b);
        });
        emit wb_->nodesChanged();
        NewRunPage page(*wb_);
        page.show();
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("dp-b")), 10000);
        page.setNode(QStringLiteral("local"));
        QCOMPARE(page.processesPerNode(), 0);
        QVERIFY(!page.commandPreview().contains(QStringLiteral("mpirun")));
        QVERIFY(page.findChild<QWidget*>(QStringLiteral("extraNodes"))->isHidden());
        page.setProcessesPerNode(2);
        QVERIFY2(page.commandPreview().contains(QStringLiteral("# localhost slots=2\n")),
                 qPrintable(page.commandPreview()));
        QVERIFY2(page.commandPreview().contains(QStringLiteral(" -np 2 ")),
                 qPrintable(page.commandPreview()));
        QVERIFY(page.commandPreview().contains(QStringLiteral(" train --config ")));
        page.planView()->replan();
        QVERIFY2(page.planView()->plan().has_value(), qPrintable(page.planView()->error()));
        QCOMPARE(page.planView()->plan()->bcd.world_size, 2);
        QCOMPARE(page.launchNodes(), QStringList{QStringLiteral("local")});

        page.setProcessesPerNode(0);
        page.setNode(QStringLiteral("dp-a"));
        auto* extra = page.findChild<QWidget*>(QStringLiteral("extraNodes"));
        QTRY_VERIFY(extra->isVisible());
        const auto boxes = extra->findChildren<QCheckBox*>(QStringLiteral("extraNode"));
        QCOMPARE(boxes.size(), 1); // dp-b; the head is not offered
        page.setExtraNodes({QStringLiteral("dp-b")});
        QVERIFY(boxes.front()->isChecked());
        QCOMPARE(page.launchNodes(), (QStringList{QStringLiteral("dp-a"), QStringLiteral("dp-b")}));
        const QString preview = page.commandPreview();
        QVERIFY2(preview.contains(QStringLiteral("# 10.0.0.1 slots=1\n# 10.0.0.2 slots=1\n")),
                 qPrintable(preview));
        QVERIFY2(preview.contains(QStringLiteral("mpirun --hostfile ")), qPrintable(preview));
        QVERIFY(preview.contains(QStringLiteral(" -np 2 ")));
        // The local node runs nothing on others: the extra nodes are not part of its launch.
        page.setNode(QStringLiteral("local"));
        QCOMPARE(page.launchNodes(), QStringList{QStringLiteral("local")});
        wb_->store().callBlocking([](store::RunStore& s) {
            s.removeNode(QStringLiteral("dp-a"));
            s.removeNode(QStringLiteral("dp-b"));
        });
        emit wb_->nodesChanged();
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

    // A node never probed is probed when the page shows it (once per node), so that the plan
    // has its GPUs; a probed node is not probed again.
    void unprobedNodeIsProbedWhenShown() {
        store::NodeRecord n;
        n.name = QStringLiteral("fresh");
        n.kind = QStringLiteral("ssh");
        n.host = QStringLiteral("fresh.lab");
        wb_->store().callBlocking([n](store::RunStore& s) { s.addNode(n); });
        emit wb_->nodesChanged();
        NewRunPage page(*wb_);
        QSignalSpy wanted(&page, &NewRunPage::probeWanted);
        QTRY_VERIFY(page.nodeNames().contains(QStringLiteral("fresh")));
        page.setNode(QStringLiteral("fresh"));
        QVERIFY(wanted.isEmpty()); // not while hidden
        page.show();
        QTRY_VERIFY(!wanted.isEmpty());
        QCOMPARE(wanted.last().at(0).toString(), QStringLiteral("fresh"));
        const qsizetype asked = wanted.size();
        page.hide();
        page.show();
        QCoreApplication::processEvents();
        QCOMPARE(wanted.size(), asked); // once per node
        wb_->store().callBlocking(
            [](store::RunStore& s) { s.removeNode(QStringLiteral("fresh")); });
        emit wb_->nodesChanged();
    }

    // The plan's suggestions carry an Apply button that changes the form; the bar, the headline
    // and the advice name one peak.
    void planSuggestionsApplyAndOnePeak() {
        NewRunPage page(*wb_);
        QTRY_VERIFY_WITH_TIMEOUT(page.nodeNames().contains(QStringLiteral("local")), 10000);
        QJsonObject c = fullConfig(dir_ + "/models/llama2-7b");
        c = launch::withConfigValue(c, "bcd.mode", "bcd");
        c = launch::withConfigValue(c, "train.precision", "fp32");
        c = launch::withConfigValue(c, "data.seq_len", 512);
        page.setConfig(c);
        page.planView()->setGpuChoice(QStringLiteral("RTX 4090"), 1);
        page.planView()->replan();
        QVERIFY2(page.planView()->plan().has_value(), qPrintable(page.planView()->error()));
        const bcd::Plan before = page.planView()->plan()->bcd;
        QVERIFY(!before.fits); // 7B fp32 weights alone exceed 24 GB
        QStringList kinds;
        for (const bcd::Advice& a : before.advice) kinds << QString::fromStdString(a.kind);
        QVERIFY2(kinds.contains(QStringLiteral("precision")), qPrintable(kinds.join(' ')));

        auto* column = page.planView()->findChild<QWidget*>(QStringLiteral("planBcd"));
        QVERIFY(column);
        // One figure: the bar reaches the plan's peak and the headline names it.
        auto* bar = column->findChild<MemoryBar*>();
        QVERIFY(bar);
        QCOMPARE(bar->totalBytes(), before.peak_bytes);
        bool headline = false;
        for (QLabel* l : column->findChildren<QLabel*>())
            headline = headline || l->text().contains(formatBytes(before.peak_bytes));
        QVERIFY(headline);

        QPushButton* precision = nullptr;
        for (QPushButton* b : column->findChildren<QPushButton*>(QStringLiteral("applySuggestion")))
            if (b->toolTip().contains(QStringLiteral("train.precision"))) precision = b;
        QVERIFY2(precision, "no Apply for the precision advice");
        QSignalSpy planned(page.planView(), &PlanView::planned);
        precision->click();
        QCOMPARE(page.form()->precision()->currentText(), QStringLiteral("bf16"));
        QCOMPARE(launch::configValue(page.config(), "train.precision").toString(),
                 QStringLiteral("bf16"));
        QVERIFY(planned.wait(5000));
        QVERIFY(page.planView()->plan()->bcd.fits);
        // The applied value is the user's choice: going to another node and back to this
        // CPU-only one (which would otherwise set fp32) keeps it.
        store::NodeRecord other;
        other.name = QStringLiteral("other");
        other.kind = QStringLiteral("ssh");
        other.host = QStringLiteral("other.lab");
        wb_->store().callBlocking([other](store::RunStore& s) { s.addNode(other); });
        emit wb_->nodesChanged();
        QTRY_VERIFY(page.nodeNames().contains(QStringLiteral("other")));
        page.setNode(QStringLiteral("other"));
        page.setNode(QStringLiteral("local"));
        QCOMPARE(page.node(), QStringLiteral("local"));
        QCOMPARE(page.form()->precision()->currentText(), QStringLiteral("bf16"));
        wb_->store().callBlocking(
            [](store::RunStore& s) { s.removeNode(QStringLiteral("other")); });
        emit wb_->nodesChanged();
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
