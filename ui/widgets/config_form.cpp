#include "ui/widgets/config_form.h"

#include "bcd/run_config.h"
#include "launch/run_config.h"
#include "ui/widgets/number_format.h"
#include "ui/widgets/wheel_guard.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QDoubleValidator>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>

namespace bcd::ui {

using launch::configValue;
using launch::withConfigValue;

namespace {

const QString kFolderItem = QStringLiteral("folder");

QSpinBox* spin(int min, int max, const QString& tip, QWidget* parent) {
    auto* s = new QSpinBox(parent);
    s->setRange(min, max);
    s->setToolTip(tip);
    s->setAccelerated(true);
    return s;
}

QLineEdit* numberEdit(const QString& tip, QWidget* parent) {
    auto* e = new QLineEdit(parent);
    auto* v = new QDoubleValidator(0, 1e9, 12, e);
    v->setNotation(QDoubleValidator::ScientificNotation);
    v->setLocale(QLocale::c());
    e->setValidator(v);
    e->setToolTip(tip);
    e->setMaximumWidth(140);
    return e;
}

QComboBox* choice(const QStringList& items, const QString& tip, QWidget* parent) {
    auto* c = new QComboBox(parent);
    c->addItems(items);
    c->setToolTip(tip);
    return c;
}

QString numberText(double v) {
    return QString::number(v, 'g', QLocale::FloatingPointShortest);
}

double numberOf(const QLineEdit* e, double fallback) {
    bool ok = false;
    const double v = e->text().trimmed().toDouble(&ok);
    return ok && std::isfinite(v) ? v : fallback;
}

QString humanCount(double n) {
    if (n >= 1e9) return QStringLiteral("%1 B").arg(n / 1e9, 0, 'f', 2);
    if (n >= 1e6) return QStringLiteral("%1 M").arg(n / 1e6, 0, 'f', 1);
    if (n >= 1e3) return QStringLiteral("%1 k").arg(n / 1e3, 0, 'f', 0);
    return QString::number(n);
}

} // namespace

QStringList ConfigForm::presets() {
    return {QStringLiteral("tiny"), QStringLiteral("small"), QStringLiteral("medium")};
}

QStringList ConfigForm::shapePresets() {
    QStringList out;
    for (const std::string& n : bcd::ModelConfig::preset_names())
        if (!presets().contains(QString::fromStdString(n))) out << QString::fromStdString(n);
    return out;
}

bool ConfigForm::shapeOnly() const {
    return shapePresets().contains(preset());
}

ConfigForm::ConfigForm(const QString& modelsDir, QWidget* parent)
    : QWidget(parent), modelsDir_(modelsDir) {
    auto* grid = new QGridLayout(this);
    grid->setContentsMargins(0, 0, 0, 0);

    // --- Model ---
    auto* modelBox = new QGroupBox(tr("Model"), this);
    auto* mf = new QFormLayout(modelBox);
    modelSource_ = new QComboBox(modelBox);
    for (const QString& p : presets())
        modelSource_->addItem(tr("%1 (preset, random init)").arg(p), p);
    for (const QString& p : shapePresets())
        modelSource_->addItem(tr("%1 (shape only: plan, no weights)").arg(p), p);
    modelSource_->addItem(tr("Hugging Face folder…"), kFolderItem);
    modelSource_->setToolTip(
        tr("model.path: a preset of the engine (created in the store's models/ folder at the "
           "first launch) or a Hugging Face folder with config.json and model.safetensors "
           "(Llama, Qwen2, Mistral)"));
    modelPath_ = new QLineEdit(modelBox);
    modelPath_->setToolTip(modelSource_->toolTip());
    auto* browseModelButton = new QToolButton(modelBox);
    browseModelButton->setText(QStringLiteral("…"));
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(modelPath_, 1);
    pathRow->addWidget(browseModelButton);
    modelSummary_ = new QLabel(modelBox);
    modelSummary_->setObjectName(QStringLiteral("modelSummary"));
    modelSummary_->setWordWrap(true);
    mf->addRow(tr("Model"), modelSource_);
    mf->addRow(tr("Folder"), pathRow);
    mf->addRow(modelSummary_);

    // --- Data ---
    auto* dataBox = new QGroupBox(tr("Data"), this);
    auto* df = new QFormLayout(dataBox);
    auto fileRow = [this, dataBox](QLineEdit*& edit, const QString& tip) {
        edit = new QLineEdit(dataBox);
        edit->setToolTip(tip);
        auto* b = new QToolButton(dataBox);
        b->setText(QStringLiteral("…"));
        connect(b, &QToolButton::clicked, this, [this, &edit] { browseData(edit); });
        auto* row = new QHBoxLayout;
        row->addWidget(edit, 1);
        row->addWidget(b);
        return row;
    };
    df->addRow(tr("Training data"),
               fileRow(train_, tr("data.train: a file, or a folder of files")));
    df->addRow(tr("Validation"),
               fileRow(val_, tr("data.val: validation data; empty: nothing is evaluated")));
    val_->setPlaceholderText(tr("none"));
    format_ = choice(
        {QStringLiteral("text"), QStringLiteral("jsonl"), QStringLiteral("sft"),
         QStringLiteral("tokens")},
        tr("data.format — text: paragraphs of a text file (or one document per file of a folder); "
           "jsonl: {\"text\": …} per line; sft: one conversation per line, only answers are loss "
           "targets; tokens: a shard written by bcd-train tokenize"),
        dataBox);
    tokenizer_ = new QLineEdit(dataBox);
    tokenizer_->setPlaceholderText(tr("the model's tokenizer.json, else byte"));
    tokenizer_->setToolTip(
        tr("data.tokenizer — \"byte\": one token per byte (the vocabulary must hold 256); a path: "
           "a Hugging Face tokenizer.json. Empty: the model folder's tokenizer.json, else byte"));
    seqLen_ =
        spin(1, 1 << 20,
             tr("data.seq_len: tokens per window, at most the model's max_position_embeddings"),
             dataBox);
    preview_ = new QPlainTextEdit(dataBox);
    preview_->setObjectName(QStringLiteral("dataPreview"));
    preview_->setReadOnly(true);
    preview_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    preview_->setMaximumHeight(90);
    preview_->setToolTip(tr("The first kilobyte of the training data"));
    auto* fmtRow = new QHBoxLayout;
    fmtRow->addWidget(format_);
    fmtRow->addWidget(new QLabel(tr("seq_len"), dataBox));
    fmtRow->addWidget(seqLen_);
    fmtRow->addStretch(1);
    df->addRow(tr("Format"), fmtRow);
    df->addRow(tr("Tokenizer"), tokenizer_);
    df->addRow(preview_);

    // --- Training ---
    auto* trainBox = new QGroupBox(tr("Training"), this);
    auto* tf = new QFormLayout(trainBox);
    steps_ = spin(1, 100000000, tr("train.steps: optimizer steps"), trainBox);
    batch_ = spin(1, 65536, tr("train.batch_size: windows per micro-batch"), trainBox);
    accum_ = spin(1, 65536,
                  tr("train.grad_accum: micro-batches per step; the step's loss is the mean over "
                     "all their tokens"),
                  trainBox);
    seed_ = spin(0, 2147483647, tr("train.seed: data order and random block order"), trainBox);
    precision_ = choice(
        {QStringLiteral("fp32"), QStringLiteral("bf16")},
        tr("train.precision — bf16: weights and activations in bfloat16 with an fp32 master copy "
           "of the active block (GPUs; about half the memory of fp32); fp32: everything in "
           "float32 (the CPU engine's precision)"),
        trainBox);
    precision_->setObjectName(QStringLiteral("precision"));
    recompute_ = new QCheckBox(tr("recompute activations"), trainBox);
    recompute_->setToolTip(
        tr("train.recompute: layers keep only their input and are re-run before their backward — "
           "less activation memory for one more forward; results are bitwise the same"));
    threads_ = spin(0, 1024, tr("device.threads: CPU threads (OpenMP, OpenBLAS); 0 = all cores"),
                    trainBox);
    threads_->setSpecialValueText(tr("all cores"));
    logEvery_ =
        spin(1, 1000000, tr("output.log_every: a step record every N steps (and at the last)"),
             trainBox);
    evalEvery_ = spin(0, 100000000,
                      tr("output.eval_every: validation every N steps; 0: only after the last step "
                         "(when there is validation data)"),
                      trainBox);
    evalEvery_->setSpecialValueText(tr("at the end"));
    evalBatches_ = spin(0, 100000000,
                        tr("output.eval_batches: batches one evaluation reads at most (the first "
                           "ones of the validation data, the same every time); 0: all of it"),
                        trainBox);
    evalBatches_->setSpecialValueText(tr("all"));
    ckptEvery_ =
        spin(0, 100000000,
             tr("output.checkpoint_every: a checkpoint every N steps and at the last; 0 = none"),
             trainBox);
    ckptEvery_->setSpecialValueText(tr("none"));
    auto* batchRow = new QHBoxLayout;
    batchRow->addWidget(batch_);
    batchRow->addWidget(new QLabel(QStringLiteral("×"), trainBox));
    batchRow->addWidget(accum_);
    batchRow->addWidget(new QLabel(tr("accumulation"), trainBox));
    batchRow->addStretch(1);
    tf->addRow(tr("Steps"), steps_);
    tf->addRow(tr("Precision"), precision_);
    tf->addRow(tr("Batch"), batchRow);
    tf->addRow(tr("Seed"), seed_);
    tf->addRow(QString(), recompute_);
    tf->addRow(tr("Threads"), threads_);
    tf->addRow(tr("Log every"), logEvery_);
    tf->addRow(tr("Evaluate every"), evalEvery_);
    tf->addRow(tr("Evaluation batches"), evalBatches_); // a row of its own: the form fits 1024 px
    tf->addRow(tr("Checkpoint every"), ckptEvery_);

    // --- Optimizer ---
    auto* optBox = new QGroupBox(tr("Optimizer"), this);
    auto* of = new QFormLayout(optBox);
    optim_ = choice(
        {QStringLiteral("adamw"), QStringLiteral("sgd")},
        tr("optim.name: PyTorch's AdamW (decoupled decay) or SGD (L2 decay, optional momentum)"),
        optBox);
    lr_ = numberEdit(tr("optim.lr: peak learning rate"), optBox);
    schedule_ =
        choice({QStringLiteral("constant"), QStringLiteral("cosine"), QStringLiteral("linear")},
               tr("optim.schedule: after warm-up, from lr to min_lr at the last step"), optBox);
    warmup_ = spin(0, 100000000, tr("optim.warmup_steps: linear warm-up from 0"), optBox);
    minLr_ =
        numberEdit(tr("optim.min_lr: floor of the cosine / linear schedule (at most lr)"), optBox);
    weightDecay_ = numberEdit(
        tr("optim.weight_decay: applied to weight matrices and embeddings only"), optBox);
    clip_ = new QDoubleSpinBox(optBox);
    clip_->setRange(0, 1e6);
    clip_->setDecimals(3);
    clip_->setSpecialValueText(tr("off"));
    clip_->setToolTip(
        tr("optim.grad_clip: global L2 norm over the active block; 0 turns clipping off"));
    momentum_ = new QDoubleSpinBox(optBox);
    momentum_->setRange(0, 0.999);
    momentum_->setDecimals(3);
    momentum_->setSingleStep(0.1);
    momentum_->setToolTip(tr("optim.momentum: SGD momentum (0: none, and no optimizer state)"));
    of->addRow(tr("Optimizer"), optim_);
    of->addRow(tr("Learning rate"), lr_);
    of->addRow(tr("Schedule"), schedule_);
    of->addRow(tr("Warm-up steps"), warmup_);
    of->addRow(tr("Minimum lr"), minLr_);
    of->addRow(tr("Weight decay"), weightDecay_);
    of->addRow(tr("Gradient clip"), clip_);
    of->addRow(tr("SGD momentum"), momentum_);

    // --- BCD ---
    auto* bcdBox = new QGroupBox(tr("Block coordinate descent"), this);
    auto* bf = new QFormLayout(bcdBox);
    mode_ = choice(
        {QStringLiteral("bcd"), QStringLiteral("full")},
        tr("bcd.mode — bcd: one block of parameters trains at a time, the others frozen (their "
           "gradients and optimizer state need no memory); full: every parameter trains every "
           "step"),
        bcdBox);
    layersPerBlock_ =
        spin(1, 1024, tr("bcd.layers_per_block: consecutive layers per block"), bcdBox);
    order_ = choice(
        {QStringLiteral("ascending"), QStringLiteral("descending"), QStringLiteral("random"),
         QStringLiteral("fixed"), QStringLiteral("lisa"), QStringLiteral("importance")},
        tr("bcd.order: the block order of each cycle; random is a new seeded permutation every "
           "cycle; fixed follows bcd.fixed_order"),
        bcdBox);
    switchEvery_ = spin(
        1, 100000000,
        tr("bcd.switch_every: optimizer steps per block before the next block trains"), bcdBox);
    activeBlocks_ =
        spin(1, 1024,
             tr("bcd.active_blocks: blocks trained at once (γ); lisa: layer blocks besides the "
                "always-trained embedding and head (docs/training.md, \"BCD against full: "
                "measured\": γ = 2 comes within ~1 % of full AdamW at equal wall time)"),
             bcdBox);
    switchWarmup_ = spin(0, 100000000,
                         tr("bcd.switch_warmup_steps: the learning rate ramps up linearly over "
                            "this many steps after every switch (0: none)"),
                         bcdBox);
    resetState_ = new QCheckBox(tr("reset optimizer state on switch"), bcdBox);
    resetState_->setToolTip(
        tr("bcd.reset_state_on_switch — on (BAdam): the new block's Adam moments and bias "
           "correction start afresh; off: each block keeps its own state across cycles"));
    offload_ = new QCheckBox(tr("offload inactive blocks' states"), bcdBox);
    offload_->setToolTip(
        tr("bcd.offload_states: keep inactive blocks' optimizer states in host memory (only "
           "meaningful on GPUs; on the CPU states are always in host memory)"));
    embedBlock_ = new QCheckBox(tr("train the embedding (a block of its own)"), bcdBox);
    embedBlock_->setToolTip(
        tr("bcd.embed_block: the embedding is a block of its own, else it stays frozen"));
    headBlock_ = new QCheckBox(tr("train the head (the last block)"), bcdBox);
    headBlock_->setToolTip(
        tr("bcd.head_block: final norm and untied lm_head form the last block, else frozen"));
    bf->addRow(tr("Mode"), mode_);
    bf->addRow(tr("Layers per block"), layersPerBlock_);
    bf->addRow(tr("Order"), order_);
    bf->addRow(tr("Switch every"), switchEvery_);
    bf->addRow(tr("Active blocks"), activeBlocks_);
    bf->addRow(tr("Warm-up after switch"), switchWarmup_);
    bf->addRow(QString(), resetState_);
    bf->addRow(QString(), offload_);
    bf->addRow(QString(), embedBlock_);
    bf->addRow(QString(), headBlock_);

    // One column: the form scrolls beside the plan view.
    int row = 0;
    for (QGroupBox* box : {modelBox, dataBox, bcdBox, trainBox, optBox})
        grid->addWidget(box, row++, 0);
    grid->setRowStretch(row, 1);

    // Every field reports a change; the model and data fields also refresh their summaries.
    auto emitChanged = [this] {
        if (!filling_) emit changed();
    };
    for (QLineEdit* e : {modelPath_, train_, val_, tokenizer_, lr_, minLr_, weightDecay_})
        connect(e, &QLineEdit::textChanged, this, emitChanged);
    for (QSpinBox* s :
         {seqLen_, steps_, batch_, accum_, seed_, threads_, logEvery_, evalEvery_, evalBatches_,
          ckptEvery_, warmup_, layersPerBlock_, switchEvery_, activeBlocks_, switchWarmup_})
        connect(s, &QSpinBox::valueChanged, this, emitChanged);
    for (QDoubleSpinBox* s : {clip_, momentum_})
        connect(s, &QDoubleSpinBox::valueChanged, this, emitChanged);
    for (QComboBox* c : {format_, optim_, schedule_, mode_, order_, precision_})
        connect(c, &QComboBox::currentIndexChanged, this, emitChanged);
    for (QCheckBox* c : {recompute_, resetState_, offload_, embedBlock_, headBlock_})
        connect(c, &QCheckBox::toggled, this, emitChanged);

    connect(modelSource_, &QComboBox::currentIndexChanged, this, [this] {
        const QString p = modelSource_->currentData().toString();
        modelPath_->setReadOnly(p != kFolderItem);
        if (p != kFolderItem)
            modelPath_->setText(QDir(modelsDir_).filePath(p));
        else if (!filling_)
            browseModel();
        updateModelSummary();
    });
    connect(modelPath_, &QLineEdit::textChanged, this, [this] { updateModelSummary(); });
    connect(browseModelButton, &QToolButton::clicked, this, [this] { browseModel(); });
    connect(train_, &QLineEdit::textChanged, this, [this] { updatePreview(); });
    connect(format_, &QComboBox::currentIndexChanged, this, [this] { updatePreview(); });
    auto modeChanged = [this] {
        const bool bcd = mode_->currentText() == QLatin1String("bcd");
        for (QWidget* w :
             std::initializer_list<QWidget*>{layersPerBlock_, order_, switchEvery_, resetState_,
                                             offload_, embedBlock_, headBlock_})
            w->setEnabled(bcd);
        momentum_->setEnabled(optim_->currentText() == QLatin1String("sgd"));
    };
    connect(mode_, &QComboBox::currentIndexChanged, this, modeChanged);
    connect(optim_, &QComboBox::currentIndexChanged, this, modeChanged);

    fieldErrors_ = new QLabel(this);
    fieldErrors_->setObjectName(QStringLiteral("fieldErrors"));
    fieldErrors_->setWordWrap(true);
    fieldErrors_->setStyleSheet(QStringLiteral("color: #d62728"));
    fieldErrors_->hide();
    grid->addWidget(fieldErrors_, grid->rowCount(), 0, 1, grid->columnCount());
    connect(this, &ConfigForm::changed, this, &ConfigForm::updateFieldErrors);

    setConfig({});
    modeChanged();
    guardWheel(this);
}

QStringList ConfigForm::problems(const QJsonObject& config) const {
    QStringList out;
    auto brief = [](const QJsonValue& v) {
        if (v.isString()) return QStringLiteral("\"%1\"").arg(v.toString());
        if (v.isNull()) return QStringLiteral("null");
        if (v.isBool()) return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
        if (v.isDouble()) return numberText(v.toDouble());
        return v.isArray() ? QStringLiteral("a list") : QStringLiteral("an object");
    };
    auto value = [&config](const char* key) { return configValue(config, QLatin1String(key)); };
    auto integer = [&](const char* key, const QSpinBox* s) {
        const QJsonValue v = value(key);
        if (v.isUndefined()) return;
        const double d = v.toDouble();
        if (!v.isDouble() || d != std::floor(d) || d < s->minimum() || d > s->maximum())
            out << tr("%1: expected an integer from %2 to %3, got %4")
                       .arg(QLatin1String(key))
                       .arg(s->minimum())
                       .arg(s->maximum())
                       .arg(brief(v));
    };
    auto real = [&](const char* key, double lo, double hi, bool loOpen) {
        const QJsonValue v = value(key);
        if (v.isUndefined()) return;
        const double d = v.toDouble();
        if (!v.isDouble() || !std::isfinite(d) || d < lo || (loOpen && d == lo) || d > hi)
            out << tr("%1: expected a number %2 %3%4, got %5")
                       .arg(QLatin1String(key), loOpen ? QStringLiteral(">") : QStringLiteral(">="))
                       .arg(numberText(lo))
                       .arg(hi < 1e300 ? tr(" and at most %1").arg(numberText(hi)) : QString())
                       .arg(brief(v));
    };
    auto oneOf = [&](const char* key, const QComboBox* c) {
        const QJsonValue v = value(key);
        if (v.isUndefined()) return;
        if (!v.isString() || c->findText(v.toString()) < 0) {
            QStringList items;
            for (int i = 0; i < c->count(); ++i)
                items << QStringLiteral("\"%1\"").arg(c->itemText(i));
            out << tr("%1: expected one of %2, got %3")
                       .arg(QLatin1String(key), items.join(QStringLiteral(", ")), brief(v));
        }
    };
    auto boolean = [&](const char* key) {
        const QJsonValue v = value(key);
        if (!v.isUndefined() && !v.isBool())
            out << tr("%1: expected true or false, got %2").arg(QLatin1String(key), brief(v));
    };
    auto text = [&](const char* key) {
        const QJsonValue v = value(key);
        if (!v.isUndefined() && !v.isString())
            out << tr("%1: expected a path (a string), got %2").arg(QLatin1String(key), brief(v));
    };
    for (const char* section : {"model", "data", "train", "optim", "bcd", "device", "output"}) {
        const QJsonValue v = config.value(QLatin1String(section));
        if (!v.isUndefined() && !v.isObject())
            out << tr("%1: expected an object, got %2").arg(QLatin1String(section), brief(v));
    }
    text("model.path");
    text("data.train");
    text("data.val");
    text("data.tokenizer");
    oneOf("data.format", format_);
    integer("data.seq_len", seqLen_);
    integer("train.steps", steps_);
    integer("train.batch_size", batch_);
    integer("train.grad_accum", accum_);
    integer("train.seed", seed_);
    oneOf("train.precision", precision_);
    boolean("train.recompute");
    integer("device.threads", threads_);
    integer("output.log_every", logEvery_);
    integer("output.eval_every", evalEvery_);
    integer("output.eval_batches", evalBatches_);
    integer("output.checkpoint_every", ckptEvery_);
    oneOf("optim.name", optim_);
    real("optim.lr", 0, 1e300, true);
    oneOf("optim.schedule", schedule_);
    integer("optim.warmup_steps", warmup_);
    real("optim.min_lr", 0, 1e300, false);
    real("optim.weight_decay", 0, 1e300, false);
    real("optim.grad_clip", clip_->minimum(), clip_->maximum(), false);
    real("optim.momentum", momentum_->minimum(), momentum_->maximum(), false);
    oneOf("bcd.mode", mode_);
    integer("bcd.layers_per_block", layersPerBlock_);
    oneOf("bcd.order", order_);
    integer("bcd.switch_every", switchEvery_);
    integer("bcd.active_blocks", activeBlocks_);
    integer("bcd.switch_warmup_steps", switchWarmup_);
    boolean("bcd.reset_state_on_switch");
    boolean("bcd.offload_states");
    boolean("bcd.embed_block");
    boolean("bcd.head_block");
    return out;
}

QStringList ConfigForm::fieldErrors() const {
    QStringList out;
    const bool bcdMode = mode_->currentText() == QLatin1String("bcd");
    if (const auto m = modelConfig(); m && bcdMode && layersPerBlock_->value() > m->num_layers)
        out << tr("bcd.layers_per_block: the model has %1 layers; a block holds at most all of "
                  "them, got %2")
                   .arg(m->num_layers)
                   .arg(layersPerBlock_->value());
    if (numberOf(minLr_, 0) > numberOf(lr_, 3e-4))
        out << tr("optim.min_lr: expected a value no larger than the learning rate (%1), got %2")
                   .arg(numberText(numberOf(lr_, 3e-4)), numberText(numberOf(minLr_, 0)));
    return out;
}

void ConfigForm::updateFieldErrors() {
    const QStringList errors = fieldErrors();
    fieldErrors_->setText(errors.join(QLatin1Char('\n')));
    fieldErrors_->setVisible(!errors.isEmpty());
}

void ConfigForm::setConfig(const QJsonObject& config) {
    filling_ = true;
    base_ = config;
    auto str = [&](const char* key, const QString& def) {
        const QJsonValue v = configValue(config, QLatin1String(key));
        return v.isString() ? v.toString() : def;
    };
    auto num = [&](const char* key, double def) {
        const QJsonValue v = configValue(config, QLatin1String(key));
        return v.isDouble() ? v.toDouble() : def;
    };
    auto boolean = [&](const char* key, bool def) {
        const QJsonValue v = configValue(config, QLatin1String(key));
        return v.isBool() ? v.toBool() : def;
    };
    auto setCombo = [](QComboBox* c, const QString& text) {
        const int i = c->findText(text);
        c->setCurrentIndex(i >= 0 ? i : 0);
    };

    const QString path = str("model.path", QDir(modelsDir_).filePath(QStringLiteral("tiny")));
    int source = modelSource_->findData(kFolderItem);
    for (const QString& p : presets() + shapePresets())
        if (QDir::cleanPath(path) == QDir::cleanPath(QDir(modelsDir_).filePath(p)))
            source = modelSource_->findData(p);
    modelSource_->setCurrentIndex(source);
    modelPath_->setReadOnly(modelSource_->currentData().toString() != kFolderItem);
    modelPath_->setText(path);

    // What a key left out means: the engine's own default (one source for the form and
    // bcd-train; the BCD schedule's defaults follow the fidelity bench, docs/training.md).
    const bcd::RunConfig d;
    const auto q = [](const std::string& text) { return QString::fromStdString(text); };
    train_->setText(str("data.train", QString()));
    val_->setText(str("data.val", QString()));
    setCombo(format_, str("data.format", q(d.data.format)));
    tokenizer_->setText(str("data.tokenizer", QString()));
    seqLen_->setValue(static_cast<int>(num("data.seq_len", d.data.seq_len)));

    steps_->setValue(static_cast<int>(num("train.steps", double(d.train.steps))));
    batch_->setValue(static_cast<int>(num("train.batch_size", d.train.batch_size)));
    accum_->setValue(static_cast<int>(num("train.grad_accum", d.train.grad_accum)));
    seed_->setValue(static_cast<int>(num("train.seed", double(d.train.seed))));
    setCombo(precision_, str("train.precision", q(d.train.precision)));
    recompute_->setChecked(boolean("train.recompute", d.train.recompute));
    threads_->setValue(static_cast<int>(num("device.threads", d.device.threads)));
    logEvery_->setValue(static_cast<int>(num("output.log_every", double(d.output.log_every))));
    evalEvery_->setValue(static_cast<int>(num("output.eval_every", double(d.output.eval_every))));
    evalBatches_->setValue(
        static_cast<int>(num("output.eval_batches", double(d.output.eval_batches))));
    ckptEvery_->setValue(
        static_cast<int>(num("output.checkpoint_every", double(d.output.checkpoint_every))));

    setCombo(optim_, str("optim.name", q(d.optim.name)));
    lr_->setText(formatLr(num("optim.lr", d.optim.lr)));
    setCombo(schedule_, str("optim.schedule", q(d.optim.schedule)));
    warmup_->setValue(static_cast<int>(num("optim.warmup_steps", double(d.optim.warmup_steps))));
    minLr_->setText(formatLr(num("optim.min_lr", d.optim.min_lr)));
    weightDecay_->setText(numberText(num("optim.weight_decay", d.optim.weight_decay)));
    clip_->setValue(num("optim.grad_clip", d.optim.grad_clip));
    momentum_->setValue(num("optim.momentum", d.optim.momentum));

    setCombo(mode_, str("bcd.mode", q(d.bcd.mode)));
    layersPerBlock_->setValue(
        static_cast<int>(num("bcd.layers_per_block", d.bcd.layers_per_block)));
    setCombo(order_, str("bcd.order", q(d.bcd.order)));
    switchEvery_->setValue(static_cast<int>(num("bcd.switch_every", double(d.bcd.switch_every))));
    activeBlocks_->setValue(static_cast<int>(num("bcd.active_blocks", d.bcd.active_blocks)));
    switchWarmup_->setValue(
        static_cast<int>(num("bcd.switch_warmup_steps", double(d.bcd.switch_warmup_steps))));
    resetState_->setChecked(boolean("bcd.reset_state_on_switch", d.bcd.reset_state_on_switch));
    offload_->setChecked(boolean("bcd.offload_states", d.bcd.offload_states));
    embedBlock_->setChecked(boolean("bcd.embed_block", d.bcd.embed_block));
    headBlock_->setChecked(boolean("bcd.head_block", d.bcd.head_block));
    filling_ = false;
    updateModelSummary();
    updatePreview();
    emit changed();
}

QJsonObject ConfigForm::config() const {
    QJsonObject c = base_;
    auto set = [&c](const char* key, const QJsonValue& v) {
        c = withConfigValue(c, QLatin1String(key), v);
    };
    // Optional paths are left out when empty: the engine's default applies.
    auto setOrDrop = [&c](const char* section, const char* key, const QString& text) {
        QJsonObject s = c.value(QLatin1String(section)).toObject();
        if (text.trimmed().isEmpty())
            s.remove(QLatin1String(key));
        else
            s.insert(QLatin1String(key), text.trimmed());
        c.insert(QLatin1String(section), s);
    };
    set("model.path", modelPath());
    set("data.train", train_->text().trimmed());
    setOrDrop("data", "val", val_->text());
    set("data.format", format_->currentText());
    setOrDrop("data", "tokenizer", tokenizer_->text());
    set("data.seq_len", seqLen_->value());
    set("train.steps", steps_->value());
    set("train.batch_size", batch_->value());
    set("train.grad_accum", accum_->value());
    set("train.seed", seed_->value());
    set("train.precision", precision_->currentText());
    set("train.recompute", recompute_->isChecked());
    set("device.threads", threads_->value());
    set("output.log_every", logEvery_->value());
    set("output.eval_every", evalEvery_->value());
    // Left out at its default (all), so the config reads the same to engines older than the key.
    if (evalBatches_->value() > 0) {
        set("output.eval_batches", evalBatches_->value());
    } else {
        QJsonObject out = c.value(QLatin1String("output")).toObject();
        out.remove(QLatin1String("eval_batches"));
        c.insert(QLatin1String("output"), out);
    }
    set("output.checkpoint_every", ckptEvery_->value());
    set("optim.name", optim_->currentText());
    set("optim.lr", numberOf(lr_, 3e-4));
    set("optim.schedule", schedule_->currentText());
    set("optim.warmup_steps", warmup_->value());
    set("optim.min_lr", numberOf(minLr_, 0));
    set("optim.weight_decay", numberOf(weightDecay_, 0));
    set("optim.grad_clip", clip_->value());
    set("optim.momentum", momentum_->value());
    set("bcd.mode", mode_->currentText());
    set("bcd.layers_per_block", layersPerBlock_->value());
    set("bcd.order", order_->currentText());
    set("bcd.switch_every", switchEvery_->value());
    set("bcd.active_blocks", activeBlocks_->value());
    set("bcd.switch_warmup_steps", switchWarmup_->value());
    set("bcd.reset_state_on_switch", resetState_->isChecked());
    set("bcd.offload_states", offload_->isChecked());
    set("bcd.embed_block", embedBlock_->isChecked());
    set("bcd.head_block", headBlock_->isChecked());
    return c;
}

QString ConfigForm::preset() const {
    const QString p = modelSource_->currentData().toString();
    return p == kFolderItem ? QString() : p;
}

QString ConfigForm::modelPath() const {
    return modelPath_->text().trimmed();
}

std::optional<bcd::ModelConfig> ConfigForm::modelConfig() const {
    const QString key = preset().isEmpty() ? modelPath() : QStringLiteral("preset:") + preset();
    if (key == cachedModelPath_) return cachedModel_;
    cachedModelPath_ = key;
    cachedModel_.reset();
    try {
        if (!preset().isEmpty())
            cachedModel_ = bcd::ModelConfig::preset(preset().toStdString());
        else if (QFileInfo(modelPath() + QStringLiteral("/config.json")).isFile())
            cachedModel_ = bcd::load_model_config(modelPath().toStdString());
    } catch (const std::exception&) {
        cachedModel_.reset();
    }
    return cachedModel_;
}

QString ConfigForm::modelSummary() const {
    return modelSummary_->text();
}
QString ConfigForm::dataPreview() const {
    return preview_->toPlainText();
}

void ConfigForm::updateModelSummary() {
    const auto m = modelConfig();
    if (!m) {
        QString why = tr("No model here: a folder needs config.json and model.safetensors.");
        if (!preset().isEmpty() ||
            QFileInfo(modelPath() + QStringLiteral("/config.json")).isFile()) {
            try {
                bcd::load_model_config(modelPath().toStdString());
            } catch (const std::exception& e) {
                why = QString::fromStdString(e.what());
            }
        }
        modelSummary_->setText(why);
        return;
    }
    QString s = tr("%1 · %2 layers · hidden %3 · %4 heads (%5 kv) · vocab %6 · %7 parameters")
                    .arg(QString::fromStdString(m->architecture))
                    .arg(m->num_layers)
                    .arg(m->hidden_size)
                    .arg(m->num_heads)
                    .arg(m->num_kv_heads)
                    .arg(m->vocab_size)
                    .arg(humanCount(static_cast<double>(m->num_params())));
    if (shapeOnly() && !QFileInfo(modelPath() + QStringLiteral("/model.safetensors")).isFile())
        s += tr(" — the shape only: the planner shows what it needs; to train it, choose a "
                "downloaded folder");
    else if (!preset().isEmpty() &&
             !QFileInfo(modelPath() + QStringLiteral("/config.json")).isFile())
        s += tr(" — created in %1 at launch").arg(QDir::toNativeSeparators(modelPath()));
    modelSummary_->setText(s);
}

void ConfigForm::updatePreview() {
    const QString path = train_->text().trimmed();
    QFileInfo fi(path);
    if (path.isEmpty()) {
        preview_->setPlainText(tr("(choose the training data)"));
        return;
    }
    if (fi.isDir()) {
        const QStringList files =
            QDir(path).entryList(QDir::Files | QDir::NoDotAndDotDot, QDir::Name);
        if (files.isEmpty()) {
            preview_->setPlainText(tr("(an empty folder)"));
            return;
        }
        fi = QFileInfo(QDir(path).filePath(files.first()));
    }
    QFile f(fi.filePath());
    if (!f.open(QIODevice::ReadOnly)) {
        preview_->setPlainText(tr("(cannot read %1)").arg(fi.filePath()));
        return;
    }
    if (format_->currentText() == QLatin1String("tokens")) {
        preview_->setPlainText(tr("token shard %1: %2 bytes").arg(fi.fileName()).arg(fi.size()));
        return;
    }
    QString text = QString::fromUtf8(f.read(1024));
    if (fi.size() > 1024) text += QStringLiteral(" …");
    preview_->setPlainText(text);
}

void ConfigForm::browseModel() {
    const QString dir =
        QFileDialog::getExistingDirectory(this, tr("Hugging Face model folder"), modelPath());
    if (!dir.isEmpty()) modelPath_->setText(dir);
}

void ConfigForm::browseData(QLineEdit* edit) {
    const QString file =
        QFileDialog::getOpenFileName(this, tr("Data file"), QFileInfo(edit->text()).absolutePath());
    if (!file.isEmpty()) edit->setText(file);
}

} // namespace bcd::ui
