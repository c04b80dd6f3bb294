#include "ui/widgets/plan_view.h"

#include "bcd/run_config.h"
#include "launch/engine_defaults.h"
#include "launch/run_config.h"
#include "nodes/node_probe.h"
#include "ui/widgets/block_strip.h"
#include "ui/widgets/memory_bar.h"
#include "ui/widgets/wheel_guard.h"

#include <QComboBox>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QMap>
#include <QPushButton>
#include <QResizeEvent>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>
#include <cmath>
#include <nlohmann/json.hpp>

namespace bcd::ui {

using launch::configValue;

namespace {

const bcd::GpuTable& gpuTable() {
    static const bcd::GpuTable table = [] {
        try {
            return bcd::load_gpu_table();
        } catch (const std::exception&) {
            return bcd::GpuTable::builtin(); // a malformed user file: the built-in table
        }
    }();
    return table;
}

const bcd::PriceTable& priceTable() {
    static const bcd::PriceTable prices = [] {
        try {
            return bcd::load_price_table();
        } catch (const std::exception&) {
            return bcd::PriceTable::builtin();
        }
    }();
    return prices;
}

QString duration(double s) {
    if (!std::isfinite(s) || s < 0) return QStringLiteral("?");
    if (s < 120) return QStringLiteral("%1 s").arg(s, 0, 'f', s < 10 ? 1 : 0);
    if (s < 7200) return QStringLiteral("%1 min").arg(s / 60, 0, 'f', 0);
    if (s < 72 * 3600) return QStringLiteral("%1 h").arg(s / 3600, 0, 'f', 1);
    return QStringLiteral("%1 days").arg(s / 86400, 0, 'f', 1);
}

QString money(double usd) {
    return usd < 1 ? QStringLiteral("$%1").arg(usd, 0, 'f', 3)
                   : QStringLiteral("$%1").arg(usd, 0, 'f', 2);
}

} // namespace

bcd::PlanInput planInputFromConfig(const QJsonObject& c, const bcd::ModelConfig& model) {
    // The engine's own reading of the config (defaults, ranges, the tokenizer the model folder
    // gives), without requiring the files to exist yet: one mapping for the form and the engine.
    nlohmann::json j =
        nlohmann::json::parse(QJsonDocument(c).toJson(QJsonDocument::Compact).toStdString());
    // The run folder is chosen at launch; the plan does not depend on it.
    if (!j["output"].contains("dir")) j["output"]["dir"] = "run";
    const bcd::RunConfig cfg =
        bcd::RunConfig::from_json(j, "the new run", bcd::RunConfig::FileChecks::Skipped);
    bcd::PlanInput in = bcd::PlanInput::from_run_config(cfg, model);
    in.source = "the new run";
    return in;
}

std::optional<bcd::Hardware> nodeHardware(const store::NodeRecord& node, int threads,
                                          QString* description) {
    const nodes::NodeProbe probe = nodes::NodeProbe::fromJson(node.probe);
    const bool probed = !node.probe.isEmpty();
    if (probed && !probe.cpuOnly()) {
        // One group per GPU model; the probed memory overrides the table's.
        QMap<QString, int> count;
        QMap<QString, qint64> mem;
        for (const nodes::GpuInfo& g : probe.gpus) {
            ++count[g.name];
            mem[g.name] = mem.contains(g.name) ? std::min(mem[g.name], g.memoryMiB) : g.memoryMiB;
        }
        std::vector<bcd::GpuGroup> groups;
        for (auto it = count.begin(); it != count.end(); ++it) {
            const QString spec =
                QStringLiteral("%1:%2MiB x%3").arg(it.key()).arg(mem[it.key()]).arg(it.value());
            try {
                groups.push_back(bcd::parse_gpu_spec(spec.toStdString(), gpuTable(),
                                                     "node " + node.name.toStdString()));
            } catch (const std::exception&) {
                groups.push_back(bcd::parse_gpu_spec(QStringLiteral("GPU:%1MiB x%2")
                                                         .arg(mem[it.key()])
                                                         .arg(it.value())
                                                         .toStdString(),
                                                     gpuTable(), "node"));
            }
        }
        bcd::Hardware hw = bcd::Hardware::from_gpus(std::move(groups), gpuTable(), priceTable());
        if (description)
            *description =
                QObject::tr("%1: %2").arg(node.name, QString::fromStdString(hw.describe()));
        return hw;
    }
    if (node.kind == QLatin1String("local")) {
        bcd::Hardware hw = bcd::Hardware::local_cpu(threads);
        if (description)
            *description =
                QObject::tr("%1: CPU, %2").arg(node.name, QString::fromStdString(hw.describe()));
        return hw;
    }
    if (!probed) {
        if (description)
            *description =
                QObject::tr("%1: not probed yet (probe it on the Nodes page, or pick a GPU)")
                    .arg(node.name);
        return std::nullopt;
    }
    bcd::Hardware hw;
    hw.cpu.name = probe.cpuName.isEmpty() ? std::string("CPU") : probe.cpuName.toStdString();
    hw.cpu.memory_bytes = static_cast<std::uint64_t>(probe.memoryBytes);
    hw.cpu.threads = threads > 0 ? threads : std::max(1, probe.cpuThreads);
    hw.cpu.cores = probe.cpuThreads;
    if (description)
        *description =
            QObject::tr("%1: CPU, %2").arg(node.name, QString::fromStdString(hw.describe()));
    return hw;
}

struct PlanView::Column {
    QGroupBox* box = nullptr;
    QLabel* headline = nullptr;
    MemoryBar* bar = nullptr;
    QLabel* setting = nullptr;
    QLabel* time = nullptr;
    QWidget* suggestions = nullptr; // one row per suggestion: its text and an Apply button
    QLabel* notes = nullptr;
};

bool PlanView::cardsSideBySide() const {
    return columns_->direction() == QBoxLayout::LeftToRight;
}

void PlanView::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    const auto direction =
        width() < kSideBySideWidth ? QBoxLayout::TopToBottom : QBoxLayout::LeftToRight;
    if (columns_->direction() != direction) columns_->setDirection(direction);
}

PlanView::PlanView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* hwRow = new QHBoxLayout;
    hardware_ = new QComboBox(this);
    hardware_->setObjectName(QStringLiteral("planHardware"));
    hardware_->setToolTip(tr("Plan for the chosen node's hardware (from its last probe) or for "
                             "GPUs of the planner's table"));
    gpuCount_ = new QSpinBox(this);
    gpuCount_->setRange(1, 1024);
    gpuCount_->setPrefix(QStringLiteral("× "));
    gpuCount_->setToolTip(tr("GPUs per node"));
    hwRow->addWidget(new QLabel(tr("Plan for"), this));
    hwRow->addWidget(hardware_, 1);
    hwRow->addWidget(gpuCount_);
    layout->addLayout(hwRow);
    device_ = new QLabel(this);
    device_->setWordWrap(true);
    layout->addWidget(device_);

    auto* columns = new QHBoxLayout;
    columns_ = columns;
    auto makeColumn = [this, columns](const QString& title) {
        auto* c = new Column;
        c->box = new QGroupBox(title, this);
        auto* v = new QVBoxLayout(c->box);
        c->headline = new QLabel(c->box);
        c->headline->setWordWrap(true);
        c->bar = new MemoryBar(c->box);
        c->setting = new QLabel(c->box);
        c->setting->setWordWrap(true);
        c->time = new QLabel(c->box);
        c->time->setWordWrap(true);
        c->suggestions = new QWidget(c->box);
        c->suggestions->setObjectName(QStringLiteral("suggestions"));
        new QVBoxLayout(c->suggestions);
        c->suggestions->layout()->setContentsMargins(0, 0, 0, 0);
        c->notes = new QLabel(c->box);
        c->notes->setWordWrap(true);
        c->notes->setTextFormat(Qt::RichText);
        for (QLabel* l : {c->headline, c->setting, c->time, c->notes})
            l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        v->addWidget(c->headline);
        v->addWidget(c->bar);
        v->addWidget(c->setting);
        v->addWidget(c->time);
        v->addWidget(c->suggestions);
        v->addWidget(c->notes);
        v->addStretch(1);
        columns->addWidget(c->box, 1);
        return c;
    };
    full_ = makeColumn(tr("Full training"));
    full_->box->setObjectName(QStringLiteral("planFull"));
    bcd_ = makeColumn(tr("BCD"));
    bcd_->box->setObjectName(QStringLiteral("planBcd"));
    layout->addLayout(columns);

    QStringList legend;
    for (const auto& [name, color] : MemoryBar::legend())
        legend
            << QStringLiteral("<span style='color:%1'>&#9632;</span> %2").arg(color.name(), name);
    legend_ = new QLabel(legend.join(QStringLiteral("&nbsp;&nbsp; ")) +
                             tr("&nbsp;&nbsp; | dashed: usable (safety margin), solid: capacity"),
                         this);
    legend_->setWordWrap(true);
    layout->addWidget(legend_);
    stripCaption_ = new QLabel(this);
    stripCaption_->setWordWrap(true);
    layout->addWidget(stripCaption_);
    strip_ = new BlockStrip(this);
    strip_->setObjectName(QStringLiteral("blockStrip"));
    layout->addWidget(strip_);
    layout->addStretch(1);

    debounce_ = new QTimer(this);
    debounce_->setSingleShot(true);
    connect(debounce_, &QTimer::timeout, this, &PlanView::replan);
    connect(hardware_, &QComboBox::currentIndexChanged, this, [this] {
        gpuCount_->setEnabled(!hardware_->currentData().toString().isEmpty());
        replan();
    });
    connect(gpuCount_, &QSpinBox::valueChanged, this, [this] { debounce_->start(debounceMs); });
    fillHardwareChoices();
    guardWheel(this);
}

PlanView::~PlanView() {
    delete full_;
    delete bcd_;
}

void PlanView::fillHardwareChoices() {
    const QSignalBlocker block(hardware_);
    const QString current = hardware_->currentData().toString();
    hardware_->clear();
    hardware_->addItem(node_.name.isEmpty() ? tr("this machine") : tr("node %1").arg(node_.name),
                       QString());
    for (const bcd::GpuType& g : gpuTable().gpus())
        hardware_->addItem(
            tr("GPU: %1 (%2)").arg(QString::fromStdString(g.name), formatBytes(g.memory_bytes)),
            QString::fromStdString(g.name));
    const int i = hardware_->findData(current);
    hardware_->setCurrentIndex(i >= 0 ? i : 0);
    gpuCount_->setEnabled(!hardware_->currentData().toString().isEmpty());
}

QStringList PlanView::gpuNames() {
    QStringList names;
    for (const bcd::GpuType& g : gpuTable().gpus()) names << QString::fromStdString(g.name);
    return names;
}

void PlanView::setGpuChoice(const QString& gpuName, int count) {
    gpuCount_->setValue(count);
    const int i = hardware_->findData(gpuName);
    hardware_->setCurrentIndex(i >= 0 ? i : 0);
    debounce_->start(debounceMs);
}

void PlanView::setWorld(int processesPerNode, int nodes) {
    if (processesPerNode == processesPerNode_ && nodes == nodes_) return;
    processesPerNode_ = processesPerNode;
    nodes_ = std::max(1, nodes);
    debounce_->start(debounceMs);
}

void PlanView::setNode(const store::NodeRecord& node) {
    node_ = node;
    fillHardwareChoices();
    debounce_->start(debounceMs);
}

void PlanView::setInput(const QJsonObject& config, const std::optional<bcd::ModelConfig>& model) {
    config_ = config;
    model_ = model;
    debounce_->start(debounceMs);
}

void PlanView::replan() {
    debounce_->stop();
    plan_.reset();
    error_.clear();
    const int threads = configValue(config_, QStringLiteral("device.threads")).toInt();
    std::optional<bcd::Hardware> hw;
    QString description;
    const QString gpu = hardware_->currentData().toString();
    try {
        if (!gpu.isEmpty()) {
            const std::string spec = gpu.toStdString() + " x" + std::to_string(gpuCount_->value());
            hw = bcd::Hardware::from_gpus({bcd::parse_gpu_spec(spec, gpuTable(), "plan view")},
                                          gpuTable(), priceTable());
            description = QString::fromStdString(hw->describe());
        } else {
            hw = node_.name.isEmpty() ? std::optional(bcd::Hardware::local_cpu(threads))
                                      : nodeHardware(node_, threads, &description);
            if (node_.name.isEmpty())
                description =
                    tr("this machine: CPU, %1").arg(QString::fromStdString(hw->describe()));
        }
        if (hw && (processesPerNode_ > 0 || nodes_ > 1)) {
            // The run's world: ranks per node on each of its nodes (a CPU: processes sharing
            // the node's memory and cores; GPUs: one process per GPU).
            if (hw->is_cpu()) {
                hw->cpu.ranks = std::max(1, processesPerNode_);
                hw->cpu.nodes = nodes_;
            } else {
                for (bcd::GpuGroup& g : hw->gpus) g.nodes = nodes_;
                if (processesPerNode_ > 0 && hw->gpus.size() == 1)
                    hw->gpus.front().per_node = processesPerNode_;
            }
            description = tr("%1 ranks: %2")
                              .arg(hw->world_size())
                              .arg(QString::fromStdString(hw->describe()));
        }
    } catch (const std::exception& e) {
        error_ = QString::fromStdString(e.what());
    }
    device_->setText(description);
    if (!model_)
        error_ = tr("No model to plan for: choose a preset or a model folder.");
    else if (!hw && error_.isEmpty())
        error_ = tr("No hardware to plan for.");
    if (error_.isEmpty()) {
        try {
            bcd::PlanInput in = planInputFromConfig(config_, *model_);
            in.hardware = *hw;
            plan_ = bcd::make_plan(in);
        } catch (const std::exception& e) {
            error_ = QString::fromStdString(e.what());
        }
    }
    // Keys the form left out read as the engine reads them.
    const QJsonObject resolved = launch::resolvedConfig(config_);
    const bool bcdMode =
        configValue(resolved, QStringLiteral("bcd.mode")).toString() != QLatin1String("full");
    if (plan_) {
        const double steps = configValue(resolved, QStringLiteral("train.steps")).toDouble();
        showPlan(*full_, plan_->full, !bcdMode, steps);
        showPlan(*bcd_, plan_->bcd, bcdMode, steps);
        const bcd::Plan& chosen = bcdMode ? plan_->bcd : plan_->full;
        QVector<int> fixed;
        for (const QJsonValue& v :
             configValue(resolved, QStringLiteral("bcd.fixed_order")).toArray())
            fixed << v.toInt();
        const QJsonValue blocks = configValue(resolved, QStringLiteral("bcd.blocks"));
        strip_->setSchedule(model_->num_layers,
                            configValue(resolved, QStringLiteral("bcd.layers_per_block")).toInt(),
                            configValue(resolved, QStringLiteral("bcd.embed_block")).toBool(),
                            configValue(resolved, QStringLiteral("bcd.head_block")).toBool(),
                            configValue(resolved, QStringLiteral("bcd.order")).toString(), fixed,
                            !bcdMode, bcdMode ? plan_->bcd.worst_block : -1);
        QString caption =
            bcdMode
                ? tr("Blocks of this run: %1, %2 steps each; #n = place in a cycle; outlined: the "
                     "block whose activations make the memory peak (%3).")
                      .arg(chosen.num_blocks)
                      .arg(configValue(resolved, QStringLiteral("bcd.switch_every")).toInt())
                      .arg(QString::fromStdString(chosen.worst_block_name))
                : tr("Full training: every layer trains every step.");
        if (blocks.isArray())
            caption +=
                tr(" (bcd.blocks gives an explicit partition: the strip shows the default one.)");
        stripCaption_->setText(caption);
    } else {
        for (Column* c : {full_, bcd_}) {
            c->headline->setText(QStringLiteral("<b>%1</b>").arg(error_.toHtmlEscaped()));
            c->bar->clear();
            c->setting->clear();
            c->time->clear();
            setSuggestions(*c, {});
            c->notes->clear();
        }
        stripCaption_->clear();
    }
    emit planned();
}

void PlanView::showPlan(Column& c, const bcd::Plan& p, bool chosenMode, double steps) {
    const QString title = p.mode == bcd::Mode::Full ? tr("Full training") : tr("BCD");
    c.box->setTitle(chosenMode ? tr("%1 — this run").arg(title) : title);
    const QString perDevice =
        p.world_size > 1 ? tr(" per GPU (× %1)").arg(p.world_size) : QString();
    c.headline->setText(
        p.fits ? tr("<span style='color:#2ca02c'>&#10004; fits</span>: %1 of %2%3")
                     .arg(formatBytes(p.peak_bytes), formatBytes(p.capacity_bytes), perDevice)
               : tr("<span style='color:#d62728'><b>&#10008; does not fit</b></span>: needs %1, "
                    "usable %2%3")
                     .arg(formatBytes(p.peak_bytes), formatBytes(p.usable_bytes), perDevice));
    c.bar->setPlan(p.memory, p.peak_bytes, p.capacity_bytes, p.usable_bytes, p.fits);
    QStringList setting;
    setting << tr("micro-batch %1 × %2").arg(p.setting.micro_batch).arg(p.setting.grad_accum);
    if (p.setting.recompute) setting << tr("recompute");
    if (p.setting.sharding != bcd::Sharding::None)
        setting << QString::fromStdString(bcd::to_string(p.setting.sharding));
    if (p.setting.offload != bcd::Offload::None)
        setting << tr("offload %1").arg(QString::fromStdString(bcd::to_string(p.setting.offload)));
    if (p.mode == bcd::Mode::Bcd) setting << tr("%1 blocks").arg(p.num_blocks);
    if (!p.config_fits && p.fits) setting << tr("(the config's own setting does not fit)");
    if (p.host_bytes > 0) setting << tr("host %1").arg(formatBytes(p.host_bytes));
    c.setting->setText(setting.join(QStringLiteral(" · ")));

    if (p.time.known) {
        // The whole run: steps, evaluations, checkpoints and the final model.
        const double runS = p.time.run_s > 0 ? p.time.run_s : p.time.step_s * steps;
        QString t = tr("≈ %1 per step · %2 tokens/s of step time · %3 steps ≈ %4")
                        .arg(duration(p.time.step_s))
                        .arg(p.time.tokens_per_s, 0, 'f', 0)
                        .arg(steps, 0, 'f', 0)
                        .arg(duration(runS));
        if (p.time.run_s > 0)
            t += tr(" (training %1, %2 evaluation(s) %3, checkpoints and final model %4)")
                     .arg(duration(p.time.train_s))
                     .arg(p.time.evals)
                     .arg(duration(double(p.time.evals) * p.time.eval_s))
                     .arg(duration(double(p.time.checkpoints) * p.time.checkpoint_s +
                                   p.time.final_s));
        std::optional<double> perHour =
            node_.pricePerHour && hardware_->currentData().toString().isEmpty()
                ? node_.pricePerHour
                : p.time.usd_per_hour;
        if (perHour) t += tr(" · %1 at %2/h").arg(money(*perHour * runS / 3600.0), money(*perHour));
        if (p.time.usd_per_billion_tokens)
            t += tr(" · %1 per billion tokens").arg(money(*p.time.usd_per_billion_tokens));
        c.time->setText(t);
    } else {
        c.time->setText(tr("time: unknown (the device's peak is not in the planner's table)"));
    }
    setSuggestions(c, suggestions(p));
    QStringList notes;
    for (const std::string& n : p.notes) notes << QString::fromStdString(n).toHtmlEscaped();
    c.notes->setText(
        notes.isEmpty()
            ? QString()
            : QStringLiteral("<small>%1</small>").arg(notes.join(QStringLiteral("<br>"))));
}

QVector<PlanView::Suggestion> PlanView::suggestions(const bcd::Plan& p) const {
    QVector<Suggestion> out;
    const bool tableGpu = !hardware_->currentData().toString().isEmpty();
    if (p.fits && !p.config_fits) {
        // The config's own batch does not fit, the search's setting does: one click to take it.
        const bcd::Setting& s = p.setting;
        Suggestion sg;
        sg.text = tr("Use micro-batch %1 × grad_accum %2%3: the same windows per step, fits")
                      .arg(s.micro_batch)
                      .arg(s.grad_accum)
                      .arg(s.recompute ? tr(" with recomputation") : QString());
        sg.changes.insert(QStringLiteral("train.batch_size"), s.micro_batch);
        sg.changes.insert(QStringLiteral("train.grad_accum"), s.grad_accum);
        if (s.recompute) sg.changes.insert(QStringLiteral("train.recompute"), true);
        if (p.mode == bcd::Mode::Bcd && s.layers_per_block > 0)
            sg.changes.insert(QStringLiteral("bcd.layers_per_block"), s.layers_per_block);
        out << sg;
    }
    for (const bcd::Advice& a : p.advice) {
        Suggestion sg;
        sg.text = QString::fromStdString(a.text);
        if (a.kind == "seq_len")
            sg.changes.insert(QStringLiteral("data.seq_len"), static_cast<int>(a.value));
        else if (a.kind == "precision")
            sg.changes.insert(QStringLiteral("train.precision"), QStringLiteral("bf16"));
        else if (a.kind == "embed_block")
            sg.changes.insert(QStringLiteral("bcd.embed_block"), false);
        else if (a.kind == "active_blocks")
            sg.changes.insert(QStringLiteral("bcd.active_blocks"), static_cast<int>(a.value));
        else if (a.kind == "offload")
            sg.changes.insert(QStringLiteral("bcd.offload_states"), true);
        else if (a.kind == "gpus" && tableGpu)
            sg.gpus = static_cast<int>(a.value); // more of the planned GPU type
        out << sg; // "memory" (how much it needs) and node GPU counts: advice without a button
    }
    return out;
}

void PlanView::setSuggestions(Column& c, const QVector<Suggestion>& list) {
    QLayout* layout = c.suggestions->layout();
    while (QLayoutItem* item = layout->takeAt(0)) {
        delete item->widget();
        delete item;
    }
    for (const Suggestion& sg : list) {
        auto* row = new QWidget(c.suggestions);
        row->setObjectName(QStringLiteral("suggestion"));
        auto* h = new QHBoxLayout(row);
        h->setContentsMargins(0, 0, 0, 0);
        auto* text = new QLabel(QStringLiteral("• ") + sg.text, row);
        text->setWordWrap(true);
        text->setTextInteractionFlags(Qt::TextSelectableByMouse);
        h->addWidget(text, 1);
        if (!sg.changes.isEmpty() || sg.gpus > 0) {
            auto* apply = new QPushButton(tr("Apply"), row);
            apply->setObjectName(QStringLiteral("applySuggestion"));
            QStringList what;
            for (auto it = sg.changes.begin(); it != sg.changes.end(); ++it)
                what << QStringLiteral("%1 = %2").arg(
                    it.key(),
                    QString::fromUtf8(
                        QJsonDocument(QJsonArray{it.value()}).toJson(QJsonDocument::Compact))
                        .mid(1)
                        .chopped(1));
            if (sg.gpus > 0) what << tr("plan for %1 GPUs").arg(sg.gpus);
            apply->setToolTip(tr("Sets %1").arg(what.join(QStringLiteral(", "))));
            const QJsonObject changes = sg.changes;
            const int gpus = sg.gpus;
            connect(apply, &QPushButton::clicked, this, [this, changes, gpus] {
                if (gpus > 0) setGpuChoice(hardware_->currentData().toString(), gpus);
                if (!changes.isEmpty()) emit applyRequested(changes);
            });
            h->addWidget(apply, 0, Qt::AlignTop);
        }
        layout->addWidget(row);
    }
}

} // namespace bcd::ui
