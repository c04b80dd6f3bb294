#include "ui/pages/sample_page.h"

#include "launch/run_config.h"
#include "store/run_status.h"
#include "ui/workbench.h"

#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>
#include <algorithm>

namespace bcd::ui {

using launch::checkpointDir;

SamplePage::SamplePage(Workbench& wb, QWidget* parent) : QWidget(parent), wb_(wb) {
    auto* layout = new QVBoxLayout(this);

    auto* settings = new QHBoxLayout;
    prompt_ = new QPlainTextEdit(this);
    prompt_->setObjectName(QStringLiteral("prompt"));
    prompt_->setPlaceholderText(tr("Prompt (the text the model continues)"));
    prompt_->setMaximumHeight(90);
    settings->addWidget(prompt_, 1);
    auto* form = new QFormLayout;
    temperature_ = new QDoubleSpinBox(this);
    temperature_->setRange(0, 5);
    temperature_->setDecimals(2);
    temperature_->setSingleStep(0.1);
    temperature_->setValue(0.8);
    temperature_->setToolTip(tr("0: greedy (always the likeliest token)"));
    topP_ = new QDoubleSpinBox(this);
    topP_->setRange(0.01, 1);
    topP_->setDecimals(2);
    topP_->setSingleStep(0.05);
    topP_->setValue(0.95);
    topP_->setToolTip(tr("Nucleus sampling: draw from the fewest likeliest tokens that together "
                         "reach this probability (1: all)"));
    maxNew_ = new QSpinBox(this);
    maxNew_->setRange(1, 4096);
    maxNew_->setValue(200);
    maxNew_->setToolTip(tr("New tokens at most (the model's end-of-text token stops earlier)"));
    seed_ = new QSpinBox(this);
    seed_->setRange(0, 1 << 30);
    seed_->setValue(1);
    seed_->setToolTip(tr("The same seed, settings and checkpoint give the same text"));
    form->addRow(tr("Temperature"), temperature_);
    form->addRow(tr("Top-p"), topP_);
    form->addRow(tr("Max new tokens"), maxNew_);
    form->addRow(tr("Seed"), seed_);
    settings->addLayout(form);
    auto* buttons = new QVBoxLayout;
    generate_ = new QPushButton(tr("Generate"), this);
    generate_->setObjectName(QStringLiteral("generate"));
    generate_->setDefault(true);
    stop_ = new QPushButton(tr("Stop"), this);
    stop_->setObjectName(QStringLiteral("stop"));
    stop_->setEnabled(false);
    buttons->addWidget(generate_);
    buttons->addWidget(stop_);
    buttons->addStretch(1);
    settings->addLayout(buttons);
    layout->addLayout(settings);

    auto* grid = new QGridLayout;
    for (int side = 0; side < 2; ++side) {
        Column& c = cols_[side];
        auto* box = new QGroupBox(side == 0 ? tr("A") : tr("B"), this);
        auto* v = new QVBoxLayout(box);
        auto* pick = new QHBoxLayout;
        c.run = new QComboBox(box);
        c.run->setObjectName(side == 0 ? QStringLiteral("runA") : QStringLiteral("runB"));
        c.run->setMinimumContentsLength(16);
        c.checkpoint = new QComboBox(box);
        c.checkpoint->setObjectName(side == 0 ? QStringLiteral("checkpointA")
                                              : QStringLiteral("checkpointB"));
        c.checkpoint->setMinimumContentsLength(10);
        pick->addWidget(new QLabel(tr("Run"), box));
        pick->addWidget(c.run, 1);
        pick->addWidget(new QLabel(tr("Checkpoint"), box));
        pick->addWidget(c.checkpoint);
        v->addLayout(pick);
        c.note = new QLabel(box);
        c.note->setWordWrap(true);
        c.note->setStyleSheet(QStringLiteral("color: gray"));
        v->addWidget(c.note);
        c.text = new QPlainTextEdit(box);
        c.text->setReadOnly(true);
        c.text->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
        c.text->setPlaceholderText(tr("Generated text appears here."));
        v->addWidget(c.text, 1);
        grid->addWidget(box, 0, side);
        connect(c.run, &QComboBox::currentIndexChanged, this,
                [this, side] { fillCheckpoints(side); });
    }
    layout->addLayout(grid, 1);

    connect(generate_, &QPushButton::clicked, this, &SamplePage::generate);
    connect(stop_, &QPushButton::clicked, this, &SamplePage::stopAll);
    connect(&wb_, &Workbench::runsChanged, this, &SamplePage::reloadRuns);
    connect(&wb_.sampler(), &launch::RunSampler::checkpointsListed, this, &SamplePage::listed);
    connect(&wb_.sampler(), &launch::RunSampler::output, this, &SamplePage::sampleOutput);
    connect(&wb_.sampler(), &launch::RunSampler::finished, this, &SamplePage::sampleFinished);
    reloadRuns();
}

SamplePage::~SamplePage() {
    stopAll(); // flags only: the sampler's thread ends them
}

void SamplePage::reloadRuns() {
    wb_.store().call([](store::RunStore& s) { return s.runs(); }, this,
                     [this](const QVector<store::RunRecord>& runs) {
                         for (Column& c : cols_) {
                             const qint64 keep = c.run->currentData().toLongLong();
                             const QSignalBlocker block(c.run);
                             c.run->clear();
                             QVector<store::RunRecord> sorted = runs;
                             std::sort(sorted.begin(), sorted.end(),
                                       [](const auto& a, const auto& b) { return a.id > b.id; });
                             for (const auto& r : sorted) {
                                 c.run->addItem(QStringLiteral("#%1 %2").arg(r.id).arg(r.name),
                                                r.id);
                                 const int i = c.run->count() - 1;
                                 c.run->setItemData(i, r.remoteDir, Qt::UserRole + 1);
                                 c.run->setItemData(i, r.node, Qt::UserRole + 2);
                             }
                             const int i = c.run->findData(keep);
                             c.run->setCurrentIndex(i >= 0 ? i : (c.run->count() > 0 ? 0 : -1));
                         }
                         fillCheckpoints(0);
                         fillCheckpoints(1);
                     });
}

void SamplePage::fillCheckpoints(int side) {
    Column& c = cols_[side];
    if (c.pendingCheckpoint.isEmpty()) c.pendingCheckpoint = c.checkpoint->currentText();
    c.checkpoint->clear();
    c.note->clear();
    c.node.reset();
    c.where.clear();
    if (c.run->currentIndex() < 0) {
        c.note->setText(tr("No runs yet — train one in New run (Ctrl+2)."));
        return;
    }
    const qint64 runId = c.run->currentData().toLongLong();
    const QString node = c.run->currentData(Qt::UserRole + 2).toString();
    const QString dir = c.run->currentData(Qt::UserRole + 1).toString();
    if (dir.isEmpty()) {
        c.note->setText(tr("This run has no folder yet (it never started)."));
        emit checkpointsListed(side);
        return;
    }
    c.note->setText(tr("Listing checkpoints…"));
    wb_.store().call(
        [node](store::RunStore& s) { return s.node(node); }, this,
        [this, side, runId, node, dir](const std::optional<store::NodeRecord>& n) {
            Column& c = cols_[side];
            if (c.run->currentData().toLongLong() != runId) return; // another run was chosen
            if (!n) {
                c.note->setText(tr("The run's node %1 is not in the store any more.").arg(node));
                emit checkpointsListed(side);
                return;
            }
            c.node = *n;
            if (n->kind == QLatin1String("slurm"))
                c.where = tr("on node %1 (Slurm: a sample is a job step and waits in the queue "
                             "like any job)")
                              .arg(n->name);
            else if (n->kind != QLatin1String("local"))
                c.where = tr("on node %1 (%2)").arg(n->name, n->kind);
            c.note->setText(c.where.isEmpty() ? tr("Listing checkpoints…")
                                              : tr("Listing checkpoints %1…").arg(c.where));
            wb_.sampler().listCheckpoints(runId, *n, dir);
        },
        [this, side](const QString& error) {
            cols_[side].note->setText(error);
            emit checkpointsListed(side);
        });
}

void SamplePage::listed(qint64 runId, const QStringList& found, const QString& error) {
    for (int side = 0; side < 2; ++side) {
        Column& c = cols_[side];
        if (c.run->currentIndex() < 0 || c.run->currentData().toLongLong() != runId || !c.node)
            continue;
        const QString dir = c.run->currentData(Qt::UserRole + 1).toString();
        const QString keep = c.pendingCheckpoint;
        c.pendingCheckpoint.clear();
        c.checkpoint->clear();
        c.checkpoint->addItems(found);
        if (const int i = c.checkpoint->findText(keep); i >= 0) c.checkpoint->setCurrentIndex(i);
        if (!error.isEmpty())
            c.note->setText(c.where.isEmpty()
                                ? tr("Cannot list the checkpoints: %1").arg(error)
                                : tr("Cannot list the checkpoints %1: %2").arg(c.where, error));
        else if (found.isEmpty())
            c.note->setText(tr("No complete checkpoint yet (final/ or checkpoints/step-N with "
                               "DONE) in %1%2.")
                                .arg(QDir::toNativeSeparators(dir),
                                     c.where.isEmpty() ? QString() : ' ' + c.where));
        else
            c.note->setText(c.where.isEmpty() ? QString() : tr("Samples %1.").arg(c.where));
        emit checkpointsListed(side);
    }
}

void SamplePage::choose(int side, qint64 runId, const QString& checkpoint) {
    Column& c = cols_[side];
    const int i = c.run->findData(runId);
    c.pendingCheckpoint = checkpoint;
    if (i >= 0 && i != c.run->currentIndex()) {
        c.run->setCurrentIndex(i); // lists again (currentIndexChanged)
        return;
    }
    if (const int k = c.checkpoint->findText(checkpoint); k >= 0) {
        c.checkpoint->setCurrentIndex(k);
        c.pendingCheckpoint.clear();
    } else if (i >= 0 && c.checkpoint->count() == 0) {
        fillCheckpoints(side);
    }
}

QStringList SamplePage::checkpoints(int side) const {
    QStringList out;
    for (int i = 0; i < cols_[side].checkpoint->count(); ++i)
        out << cols_[side].checkpoint->itemText(i);
    return out;
}

QString SamplePage::modelDir(int side) const {
    const Column& c = cols_[side];
    if (c.checkpoint->currentIndex() < 0) return {};
    return checkpointDir(c.run->currentData(Qt::UserRole + 1).toString(),
                         c.checkpoint->currentText());
}

QString SamplePage::note(int side) const {
    return cols_[side].note->text();
}

void SamplePage::setPrompt(const QString& prompt) {
    prompt_->setPlainText(prompt);
}

void SamplePage::setSettings(double temperature, double topP, int maxNew, int seed) {
    temperature_->setValue(temperature);
    topP_->setValue(topP);
    maxNew_->setValue(maxNew);
    seed_->setValue(seed);
}

QString SamplePage::output(int side) const {
    return cols_[side].text->toPlainText();
}

bool SamplePage::busy() const {
    return std::any_of(std::begin(cols_), std::end(cols_),
                       [](const Column& c) { return c.request != 0; });
}

void SamplePage::generate() {
    stopAll();
    for (int side = 0; side < 2; ++side) start(side);
    generate_->setEnabled(false);
    stop_->setEnabled(true);
    endIfIdle();
}

void SamplePage::start(int side) {
    Column& c = cols_[side];
    c.text->clear();
    c.bytes.clear();
    c.stopped = false;
    c.request = 0;
    if (c.checkpoint->currentIndex() < 0 || !c.node) return;
    launch::SampleRequest req;
    req.checkpoint = c.checkpoint->currentText();
    req.prompt = prompt_->toPlainText();
    req.maxNew = maxNew_->value();
    req.temperature = temperature_->value();
    req.topP = topP_->value();
    req.seed = seed_->value();
    // This machine is shared with the workbench; a node's engine takes what it finds (auto).
    if (c.node->kind == QLatin1String("local"))
        req.threads = std::max(1, QThread::idealThreadCount() / 2);
    // One sample at a time (RunSampler): B starts when A has ended.
    c.text->setPlaceholderText(side == 1 && cols_[0].request != 0
                                   ? tr("Waits for A: one model is sampled at a time.")
                               : c.where.isEmpty() ? tr("Sampling…")
                                                   : tr("Sampling %1…").arg(c.where));
    c.request = wb_.sampler().sample(*c.node, c.run->currentData(Qt::UserRole + 1).toString(), req);
}

void SamplePage::sampleOutput(qint64 request, const QByteArray& chunk) {
    for (Column& c : cols_)
        if (c.request == request) {
            c.bytes += chunk;
            c.text->setPlainText(QString::fromUtf8(c.bytes));
        }
}

void SamplePage::sampleFinished(qint64 request, const QString& error) {
    for (Column& c : cols_) {
        if (c.request != request) continue;
        c.request = 0;
        QString text = QString::fromUtf8(c.bytes);
        if (!error.isEmpty())
            text += (text.isEmpty() ? QString() : QStringLiteral("\n\n")) + error;
        else if (c.stopped)
            text += (text.isEmpty() ? QString() : QStringLiteral("\n\n")) + tr("(stopped)");
        else if (text.endsWith(QLatin1Char('\n')))
            text.chop(1); // the engine's closing newline
        c.text->setPlainText(text);
    }
    endIfIdle();
}

void SamplePage::endIfIdle() {
    if (busy()) return;
    generate_->setEnabled(true);
    stop_->setEnabled(false);
    emit finished();
}

// Raises the stop flags only: the samples end on the sampler's thread and answer with finished.
void SamplePage::stopAll() {
    for (Column& c : cols_)
        if (c.request != 0) {
            wb_.sampler().stop(c.request);
            c.stopped = true;
        }
}

} // namespace bcd::ui
