#include "ui/pages/new_run_page.h"

#include "launch/remote_commands.h"
#include "launch/run_config.h"
#include "nodes/node_probe.h"
#include "ui/widgets/config_form.h"
#include "ui/widgets/plan_view.h"
#include "ui/widgets/preset_model.h"
#include "ui/widgets/slurm_partition_box.h"
#include "ui/workbench.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSaveFile>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QThread>
#include <QVBoxLayout>
#include <unistd.h>

namespace bcd::ui {

namespace {
// Arguments as a shell would need them quoted, for the preview only.
QString shellQuoted(const QString& s) {
    static const QRegularExpression plain(QStringLiteral("^[A-Za-z0-9_./:=@%+-]+$"));
    if (plain.match(s).hasMatch()) return s;
    QString q = s;
    q.replace(QLatin1Char('\''), QStringLiteral("'\\''"));
    return QLatin1Char('\'') + q + QLatin1Char('\'');
}
} // namespace

NewRunPage::NewRunPage(Workbench& wb, QWidget* parent) : QWidget(parent), wb_(wb) {
    const QString modelsDir = QFileInfo(wb.dbPath()).absolutePath() + QStringLiteral("/models");
    auto* layout = new QVBoxLayout(this);

    // Where, what name, and the actions.
    auto* top = new QHBoxLayout;
    node_ = new QComboBox(this);
    node_->setObjectName(QStringLiteral("node"));
    node_->setMinimumWidth(140);
    node_->setToolTip(tr("The node to run on (Nodes page: add and probe SSH nodes)"));
    perNode_ = new QSpinBox(this);
    perNode_->setObjectName(QStringLiteral("processesPerNode"));
    perNode_->setRange(0, 1024);
    perNode_->setSpecialValueText(tr("auto"));
    perNode_->setPrefix(tr("× "));
    perNode_->setToolTip(
        tr("Processes per node: data-parallel ranks started by mpirun, each with the whole model "
           "and its share of the global batch (auto: one per GPU over several nodes, one process "
           "on a single node)"));
    name_ = new QLineEdit(this);
    name_->setObjectName(QStringLiteral("runName"));
    name_->setPlaceholderText(tr("name (default: model and mode)"));
    tags_ = new QLineEdit(this);
    tags_->setObjectName(QStringLiteral("runTags"));
    tags_->setPlaceholderText(tr("tags, comma separated"));
    auto* load = new QPushButton(tr("Load…"), this);
    load->setToolTip(
        tr("Load a run config (JSON); relative paths are resolved against its folder"));
    auto* save = new QPushButton(tr("Save…"), this);
    save->setToolTip(
        tr("Save the form as a run config (JSON) for bcd-train or bcd-workbench run launch"));
    launch_ = new QPushButton(tr("Launch"), this);
    launch_->setObjectName(QStringLiteral("launch"));
    launch_->setDefault(true);
    launch_->setToolTip(tr("Start the run on the chosen node and open the Monitor"));
    top->addWidget(new QLabel(tr("Node"), this));
    top->addWidget(node_);
    top->addWidget(perNode_);
    partition_ = new SlurmPartitionBox(this);
    top->addWidget(partition_);
    top->addWidget(name_, 2);
    top->addWidget(tags_, 1);
    top->addWidget(load);
    top->addWidget(save);
    top->addWidget(launch_);
    layout->addLayout(top);
    // Further SSH nodes of a run over several nodes (the chosen node is the head: mpirun runs
    // there); shown when the chosen node is an SSH node and there are others.
    extraBox_ = new QWidget(this);
    extraBox_->setObjectName(QStringLiteral("extraNodes"));
    extraRow_ = new QHBoxLayout(extraBox_);
    extraRow_->setContentsMargins(0, 0, 0, 0);
    extraRow_->addWidget(new QLabel(tr("Also on:"), extraBox_));
    extraRow_->addStretch(1);
    extraBox_->hide();
    layout->addWidget(extraBox_);
    state_ = new QLabel(this);
    state_->setObjectName(QStringLiteral("launchState"));
    state_->setWordWrap(true);
    state_->hide();
    layout->addWidget(state_);

    auto* split = new QSplitter(Qt::Horizontal, this);
    auto* scroll = new QScrollArea(split);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    form_ = new ConfigForm(modelsDir, scroll);
    scroll->setWidget(form_);
    scroll->setMinimumWidth(form_->minimumSizeHint().width() + 24);

    auto* right = new QWidget(split);
    auto* rv = new QVBoxLayout(right);
    rv->setContentsMargins(4, 0, 0, 0);
    auto* planBox = new QGroupBox(tr("Plan: memory, time and cost (the engine's planner)"), right);
    auto* pv = new QVBoxLayout(planBox);
    // The plan scrolls rather than clips when the window is small (its cards stack below
    // PlanView::kSideBySideWidth).
    auto* planScroll = new QScrollArea(planBox);
    planScroll->setWidgetResizable(true);
    planScroll->setFrameShape(QFrame::NoFrame);
    planScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    plan_ = new PlanView(planScroll);
    planScroll->setWidget(plan_);
    pv->addWidget(planScroll);
    rv->addWidget(planBox, 2);
    auto* cmdBox = new QGroupBox(tr("What the node will run"), right);
    auto* cv = new QVBoxLayout(cmdBox);
    preview_ = new QPlainTextEdit(cmdBox);
    preview_->setObjectName(QStringLiteral("commandPreview"));
    preview_->setReadOnly(true);
    preview_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    preview_->setLineWrapMode(QPlainTextEdit::NoWrap);
    cv->addWidget(preview_);
    rv->addWidget(cmdBox, 1);
    split->addWidget(scroll);
    split->addWidget(right);
    split->setStretchFactor(0, 0);
    split->setStretchFactor(1, 1);
    layout->addWidget(split, 1);

    connect(form_, &ConfigForm::changed, this, &NewRunPage::formChanged);
    // A suggestion of the plan applied: the form takes its values (and re-plans).
    connect(plan_, &PlanView::applyRequested, this, [this](const QJsonObject& changes) {
        QJsonObject config = form_->config();
        QStringList what;
        for (auto it = changes.begin(); it != changes.end(); ++it) {
            config = launch::withConfigValue(config, it.key(), it.value());
            what << it.key();
        }
        if (changes.contains(QStringLiteral("train.precision"))) precisionChosen_ = true;
        form_->setConfig(config);
        emit wb_.message(
            tr("Applied the plan's suggestion: %1").arg(what.join(QStringLiteral(", "))));
    });
    connect(node_, &QComboBox::currentIndexChanged, this, [this] {
        if (node_->currentIndex() >= 0 && node_->currentIndex() < nodes_.size()) {
            wantedNode_ = nodes_[node_->currentIndex()].name;
            plan_->setNode(nodes_[node_->currentIndex()]);
            partition_->setNode(nodes_[node_->currentIndex()]);
            applyNodePrecision();
            planPartition();
            askForProbe();
        }
        refreshExtraNodes();
        worldChanged();
    });
    // A precision the user picked (or a loaded config named) stays; otherwise it follows the
    // node: bf16 where the node has GPUs, fp32 on the CPU.
    connect(form_->precision(), &QComboBox::activated, this, [this] { precisionChosen_ = true; });
    connect(perNode_, &QSpinBox::valueChanged, this, &NewRunPage::worldChanged);
    connect(partition_, &QComboBox::currentIndexChanged, this, [this] {
        planPartition();
        updatePreview();
    });
    connect(name_, &QLineEdit::textChanged, this, &NewRunPage::updatePreview);
    connect(launch_, &QPushButton::clicked, this, &NewRunPage::launch);
    connect(load, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Load run config"), {},
                                                       tr("Run config (*.json)"));
        if (!f.isEmpty()) loadConfig(f);
    });
    connect(save, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getSaveFileName(
            this, tr("Save run config"), QStringLiteral("run.json"), tr("Run config (*.json)"));
        if (!f.isEmpty()) saveConfig(f);
    });
    connect(&wb, &Workbench::nodesChanged, this, &NewRunPage::refreshNodes);
    connect(&wb.store(), &store::StoreService::opened, this, &NewRunPage::refreshNodes);

    setConfig({});
    refreshNodes();
}

NewRunPage::~NewRunPage() = default;

QJsonObject NewRunPage::defaultConfig() const {
    // The README demo's run: a short BCD training of the small preset on the bundled sample.
    QJsonObject data{{"train", wb_.sampleCorpus()}, {"format", "text"}, {"seq_len", 128}};
    if (!wb_.sampleValCorpus().isEmpty()) data.insert(QStringLiteral("val"), wb_.sampleValCorpus());
    return QJsonObject{
        {"model", QJsonObject{{"path", form_->modelsDir() + QStringLiteral("/small")}}},
        {"data", data},
        {"optim", QJsonObject{{"name", "adamw"},
                              {"lr", 2e-3},
                              {"schedule", "cosine"},
                              {"warmup_steps", 10},
                              {"min_lr", 2e-4}}},
        {"train", QJsonObject{{"steps", 200}, {"batch_size", 8}, {"seed", 1}}},
        {"bcd", QJsonObject{{"mode", "bcd"}, {"switch_every", 10}}},
        {"output", QJsonObject{{"log_every", 5}, {"eval_every", 50}}},
    };
}

void NewRunPage::setConfig(const QJsonObject& config) {
    form_->setConfig(config.isEmpty() ? defaultConfig() : config);
    precisionChosen_ =
        !launch::configValue(config, QStringLiteral("train.precision")).isUndefined();
    applyNodePrecision();
    formChanged();
}

bool NewRunPage::nodeHasGpus() const {
    const store::NodeRecord n = nodes_.value(node_->currentIndex());
    return !n.probe.isEmpty() && !nodes::NodeProbe::fromJson(n.probe).cpuOnly();
}

void NewRunPage::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    askForProbe();
}

// The plan needs the node's GPUs: a node never probed is probed when the page shows it (once per
// node and session; a failed probe is the Nodes page's to show and retry).
void NewRunPage::askForProbe() {
    if (!isVisible()) return;
    const int i = node_->currentIndex();
    if (i < 0 || i >= nodes_.size() || !nodes_[i].probe.isEmpty()) return;
    if (probeAsked_.contains(nodes_[i].name)) return;
    probeAsked_.insert(nodes_[i].name);
    emit probeWanted(nodes_[i].name);
}

void NewRunPage::applyNodePrecision() {
    if (precisionChosen_ || node_->currentIndex() < 0) return;
    const QString want = nodeHasGpus() ? QStringLiteral("bf16") : QStringLiteral("fp32");
    QComboBox* p = form_->precision();
    if (p->currentText() != want) p->setCurrentIndex(p->findText(want));
}

QJsonObject NewRunPage::config() const {
    return form_->config();
}

QString NewRunPage::node() const {
    return node_->currentIndex() >= 0 ? nodes_.value(node_->currentIndex()).name : QString();
}

QStringList NewRunPage::nodeNames() const {
    QStringList names;
    for (const auto& n : nodes_) names << n.name;
    return names;
}

void NewRunPage::setNode(const QString& name) {
    wantedNode_ = name;
    for (int i = 0; i < nodes_.size(); ++i)
        if (nodes_[i].name == name) node_->setCurrentIndex(i);
}

int NewRunPage::processesPerNode() const {
    return perNode_->value();
}

void NewRunPage::setProcessesPerNode(int n) {
    perNode_->setValue(n);
}

QStringList NewRunPage::extraNodes() const {
    QStringList names;
    if (nodes_.value(node_->currentIndex()).kind != QLatin1String("ssh")) return names;
    for (const QCheckBox* c : extraChecks_)
        if (c->isChecked()) names << c->property("node").toString();
    return names;
}

void NewRunPage::setExtraNodes(const QStringList& names) {
    wantedExtra_ = names;
    for (QCheckBox* c : extraChecks_) {
        const QSignalBlocker block(c);
        c->setChecked(names.contains(c->property("node").toString()));
    }
    worldChanged();
}

QStringList NewRunPage::launchNodes() const {
    return node().isEmpty() ? QStringList() : QStringList{node()} + extraNodes();
}

void NewRunPage::refreshExtraNodes() {
    for (QCheckBox* c : extraChecks_) delete c;
    extraChecks_.clear();
    const store::NodeRecord head = nodes_.value(node_->currentIndex());
    if (head.kind == QLatin1String("ssh")) {
        for (const store::NodeRecord& n : nodes_) {
            if (n.kind != QLatin1String("ssh") || n.name == head.name) continue;
            auto* c = new QCheckBox(QStringLiteral("%1 (%2)").arg(n.name, n.host), extraBox_);
            c->setObjectName(QStringLiteral("extraNode"));
            c->setProperty("node", n.name);
            c->setChecked(wantedExtra_.contains(n.name));
            c->setToolTip(tr("Run ranks on %1 too (OpenMPI over ssh from %2; inputs and engine "
                             "copied there)")
                              .arg(n.name, head.name));
            connect(c, &QCheckBox::toggled, this, [this, c](bool on) {
                const QString name = c->property("node").toString();
                wantedExtra_.removeAll(name);
                if (on) wantedExtra_ << name;
                worldChanged();
            });
            extraRow_->insertWidget(extraRow_->count() - 1, c);
            extraChecks_ << c;
        }
    }
    extraBox_->setVisible(!extraChecks_.isEmpty());
}

void NewRunPage::worldChanged() {
    plan_->setWorld(perNode_->value(), 1 + static_cast<int>(extraNodes().size()));
    updatePreview();
}

void NewRunPage::setRunName(const QString& name) {
    name_->setText(name);
}

void NewRunPage::setRunTags(const QStringList& tags) {
    tags_->setText(tags.join(QStringLiteral(", ")));
}

QStringList NewRunPage::runTags() const {
    QStringList out;
    for (const QString& t : tags_->text().split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (!t.trimmed().isEmpty()) out << t.trimmed();
    return out;
}

void NewRunPage::refreshNodes() {
    wb_.store().call([](store::RunStore& s) { return s.nodes(); }, this,
                     [this](const QVector<store::NodeRecord>& nodes) {
                         const QString wanted = wantedNode_;
                         nodes_ = nodes;
                         {
                             const QSignalBlocker block(node_);
                             node_->clear();
                             for (const auto& n : nodes_) {
                                 QString label = n.name;
                                 if (n.kind != QLatin1String("local"))
                                     label += QStringLiteral(" (%1)").arg(n.host);
                                 node_->addItem(label);
                             }
                         }
                         int index = 0;
                         for (int i = 0; i < nodes_.size(); ++i)
                             if (nodes_[i].name == wanted) index = i;
                         if (!nodes_.isEmpty()) {
                             node_->setCurrentIndex(index);
                             wantedNode_ = nodes_[index].name;
                             plan_->setNode(nodes_[index]);
                             partition_->setNode(nodes_[index]);
                             planPartition();
                         }
                         refreshExtraNodes();
                         worldChanged();
                     });
}

void NewRunPage::formChanged() {
    plan_->setInput(form_->config(), form_->modelConfig());
    updatePreview();
}

QString NewRunPage::defaultRunName() const {
    const QJsonObject cfg = form_->config();
    const QString model =
        form_->preset().isEmpty()
            ? QFileInfo(launch::configValue(cfg, QStringLiteral("model.path")).toString())
                  .fileName()
            : form_->preset();
    return QStringLiteral("%1-%2").arg(
        model,
        launch::configValue(cfg, QStringLiteral("bcd.mode")).toString(QStringLiteral("bcd")));
}

QString NewRunPage::commandPreview() const {
    return preview_->toPlainText();
}

void NewRunPage::planPartition() {
    // A Slurm partition's GPUs per node, matched to the planner's table by their GRES type.
    if (const auto p = partition_->chosen(); p && p->gpusPerNode > 0) {
        const QString gpu = SlurmPartitionBox::plannerGpu(p->gpuType, PlanView::gpuNames());
        if (!gpu.isEmpty()) plan_->setGpuChoice(gpu, p->gpusPerNode);
    }
}

QJsonObject NewRunPage::jobOverrides() const {
    const QString p = partition_->partition();
    return p.isEmpty() ? QJsonObject() : QJsonObject{{"partition", p}};
}

void NewRunPage::updatePreview() {
    const QJsonObject cfg = form_->config();
    store::NodeRecord n = nodes_.value(node_->currentIndex());
    if (n.kind == QLatin1String("slurm")) {
        // What the launch submits: the plugin's own batch script for this run.
        const QJsonObject o = jobOverrides();
        for (auto it = o.begin(); it != o.end(); ++it) n.jobDefaults[it.key()] = it.value();
        QString text;
        if (launch::LauncherPlugin* plugin = wb_.plugins().launcher(n.kind)) {
            launch::LaunchRequest req;
            req.name =
                name_->text().trimmed().isEmpty() ? defaultRunName() : name_->text().trimmed();
            req.config = cfg;
            req.nodes = {n};
            const auto script = plugin->describeLaunch(req, wb_.launcherContext());
            text = script
                       ? QStringLiteral("# the batch script sbatch gets on %1 (%2); run 0: "
                                        "its number in the store\n%3")
                             .arg(n.name, n.host, script.value())
                       : tr("# this launch cannot be submitted: %1").arg(script.failure().message);
        } else {
            text = wb_.plugins().missingReason(n.kind);
        }
        preview_->setPlainText(text);
        return;
    }
    const bool local = n.kind.isEmpty() || n.kind == QLatin1String("local");
    QString engine = local ? wb_.launcherContext().localEngine
                           : (n.engine.isEmpty() ? QStringLiteral("bcd-train") : n.engine);
    QString root = local ? wb_.launcherContext().localRunRoot
                         : (n.runRoot.isEmpty() ? QStringLiteral("~/bcd-runs") : n.runRoot);
    QString name = name_->text().trimmed();
    if (name.isEmpty()) name = defaultRunName();
    const QString dir = root + QStringLiteral("/<id>-") + launch::runSlug(name);
    QJsonObject shown = launch::withConfigValue(cfg, QStringLiteral("output.dir"), dir);
    const QString configPath = dir + QStringLiteral("/launch.json");
    QString text =
        QStringLiteral("%1 train --config %2\n").arg(shellQuoted(engine), shellQuoted(configPath));
    // A data-parallel run: mpirun over a hostfile written into the run folder, as the launcher
    // plans it (launch/remote_commands.h).
    QVector<store::NodeRecord> records{n};
    for (const QString& extra : extraNodes())
        for (const auto& r : nodes_)
            if (r.name == extra) records << r;
    try {
        const QVector<int> perNode = launch::ranksPerNode(records, perNode_->value());
        int world = 0;
        for (int r : perNode) world += r;
        if (world > 1) {
            QVector<launch::MpiRank> ranks;
            for (qsizetype i = 0; i < records.size(); ++i)
                ranks.push_back({records.size() == 1 ? QString::fromLatin1(launch::kLocalMpiHost)
                                                     : records[i].host,
                                 perNode[i]});
            const launch::MpiPlan plan = launch::planMpirun(
                ranks, dir + QStringLiteral("/hostfile"),
                {engine, QStringLiteral("train"), QStringLiteral("--config"), configPath},
                local && ::geteuid() == 0);
            QStringList quoted;
            for (const QString& a : plan.argv) quoted << shellQuoted(a);
            text =
                QStringLiteral("# %1 ranks; hostfile:\n# %2\n%3\n")
                    .arg(world)
                    .arg(plan.hostfile.trimmed().replace(QLatin1Char('\n'), QStringLiteral("\n# ")))
                    .arg(quoted.join(QLatin1Char(' ')));
        }
    } catch (const std::exception& e) {
        text = tr("# this launch cannot start: %1\n").arg(QString::fromUtf8(e.what()));
    }
    if (!local) text.prepend(QStringLiteral("# on %1 (%2), detached\n").arg(n.name, n.host));
    text += QStringLiteral("\n# launch.json (<id>: the run's number in the store)\n");
    text += QString::fromUtf8(QJsonDocument(shown).toJson(QJsonDocument::Indented));
    preview_->setPlainText(text);
}

bool NewRunPage::loadConfig(const QString& file) {
    try {
        const QJsonObject c =
            launch::resolveConfigPaths(launch::loadRunConfig(file), QFileInfo(file).absolutePath());
        // A value the form cannot show as it is refuses the whole file: loading it clamped
        // ("steps -5" shown as 1) would launch a run the file never described.
        if (const QStringList problems = form_->problems(c); !problems.isEmpty()) {
            auto* box =
                new QMessageBox(QMessageBox::Warning, tr("Config not loaded"),
                                tr("%1 was not loaded: %n setting(s) cannot be used as written.",
                                   nullptr, int(problems.size()))
                                    .arg(QDir::toNativeSeparators(file)),
                                QMessageBox::Ok, this);
            box->setObjectName(QStringLiteral("configProblems"));
            box->setInformativeText(problems.join(QLatin1Char('\n')));
            box->setAttribute(Qt::WA_DeleteOnClose);
            box->open();
            emit wb_.message(
                tr("Not loaded %1: %2").arg(file, problems.join(QStringLiteral("; "))));
            return false;
        }
        setConfig(c);
        if (name_->text().isEmpty()) name_->setText(QFileInfo(file).completeBaseName());
        emit wb_.message(tr("Loaded %1").arg(file));
        return true;
    } catch (const std::exception& e) {
        emit wb_.message(QString::fromUtf8(e.what()));
        return false;
    }
}

bool NewRunPage::saveConfig(const QString& file) {
    QSaveFile f(file);
    if (!f.open(QIODevice::WriteOnly)) {
        emit wb_.message(tr("Cannot write %1: %2").arg(file, f.errorString()));
        return false;
    }
    QJsonObject c = form_->config();
    if (!c.value(QStringLiteral("output")).toObject().contains(QStringLiteral("dir")))
        c = launch::withConfigValue(c, QStringLiteral("output.dir"), QStringLiteral("run"));
    f.write(QJsonDocument(c).toJson(QJsonDocument::Indented));
    if (!f.commit()) {
        emit wb_.message(tr("Cannot write %1: %2").arg(file, f.errorString()));
        return false;
    }
    emit wb_.message(tr("Saved %1").arg(file));
    return true;
}

void NewRunPage::setBusy(bool busy, const QString& text) {
    launching_ = busy;
    launch_->setEnabled(!busy);
    state_->setVisible(!text.isEmpty());
    state_->setText(text);
}

void NewRunPage::launch() {
    if (launching_) return;
    const QJsonObject cfg = form_->config();
    QString problem;
    if (node().isEmpty())
        problem = tr("Choose a node.");
    else if (cfg.value(QStringLiteral("data"))
                 .toObject()
                 .value(QStringLiteral("train"))
                 .toString()
                 .isEmpty())
        problem = tr("Choose the training data.");
    else if (const QStringList errors = form_->fieldErrors(); !errors.isEmpty())
        problem = errors.join(QLatin1Char(' '));
    else if (launch::configValue(cfg, QStringLiteral("train.precision")).toString() ==
                 QLatin1String("bf16") &&
             !nodes_.value(node_->currentIndex()).probe.isEmpty() && !nodeHasGpus())
        problem = tr("train.precision: bf16 needs a GPU and %1 has none (probed); choose fp32 or "
                     "a GPU node.")
                      .arg(node());
    else if (form_->preset().isEmpty() && !form_->modelConfig())
        problem = tr("The model folder holds no model (config.json).");
    else if (form_->shapeOnly() &&
             !QFileInfo(launch::configValue(cfg, QStringLiteral("model.path")).toString() +
                        QStringLiteral("/model.safetensors"))
                  .isFile())
        problem = tr("%1 is a shape for the planner only: to train it, download the model and "
                     "choose its folder.")
                      .arg(form_->preset());
    if (!problem.isEmpty()) {
        setBusy(false, problem);
        emit launchFinished(0, false, problem);
        return;
    }
    emit launchStarted();
    const QString preset = form_->preset();
    const QString dir = launch::configValue(cfg, QStringLiteral("model.path")).toString();
    if (preset.isEmpty() || form_->shapeOnly()) {
        startLaunch();
        return;
    }
    // Writing the preset's weights takes a moment: off the GUI thread.
    setBusy(true, tr("Creating the %1 preset in %2 …").arg(preset, dir));
    auto error = std::make_shared<QString>();
    QThread* t = QThread::create([preset, dir, error] { *error = ensurePresetModel(preset, dir); });
    connect(t, &QThread::finished, this, [this, t, error] {
        t->deleteLater();
        if (!error->isEmpty()) {
            setBusy(false, *error);
            emit launchFinished(0, false, *error);
            return;
        }
        startLaunch();
    });
    t->start();
}

void NewRunPage::startLaunch() {
    const QJsonObject cfg = form_->config();
    launch::LaunchInput in;
    in.config = cfg;
    in.nodes = launchNodes();
    in.processesPerNode = perNode_->value();
    in.jobOverrides = jobOverrides();
    in.name = name_->text().trimmed();
    if (in.name.isEmpty()) in.name = defaultRunName();
    for (const QString& t : tags_->text().split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (!t.trimmed().isEmpty()) in.tags << t.trimmed();
    setBusy(true, tr("Launching %1 on %2 …").arg(in.name, in.nodes.join(QStringLiteral(", "))));
    // One launch at a time from this page: the next launched/launchFailed is ours.
    auto* conn = new QList<QMetaObject::Connection>;
    auto finish = [this, conn](qint64 id, bool ok, const QString& message) {
        for (const auto& c : *conn) disconnect(c);
        delete conn;
        setBusy(false, ok ? QString() : tr("Launch failed: %1").arg(message));
        emit launchFinished(id, ok, message);
        if (ok) {
            emit wb_.message(tr("Run %1 started").arg(id));
            emit wb_.openMonitor(id);
        }
    };
    *conn << connect(&wb_.runs(), &launch::RunController::launched, this,
                     [finish](qint64 id, const QString&, qint64) { finish(id, true, {}); });
    *conn << connect(&wb_.runs(), &launch::RunController::launchFailed, this,
                     [finish](qint64 id, const QString& m, bool) { finish(id, false, m); });
    wb_.runs().launch(in);
}

} // namespace bcd::ui
