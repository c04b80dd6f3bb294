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
#include <QProcess>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>
#include <algorithm>

namespace bcd::ui {

using launch::checkpointDir;
using launch::localCheckpoints;

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
        c.run->setMinimumContentsLength(24);
        c.checkpoint = new QComboBox(box);
        c.checkpoint->setObjectName(side == 0 ? QStringLiteral("checkpointA")
                                              : QStringLiteral("checkpointB"));
        c.checkpoint->setMinimumContentsLength(14);
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
    reloadRuns();
}

SamplePage::~SamplePage() {
    stopAll();
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
    const QString keep = c.checkpoint->currentText();
    c.checkpoint->clear();
    c.note->clear();
    if (c.run->currentIndex() < 0) {
        c.note->setText(tr("No runs yet — train one in New run (Ctrl+2)."));
        return;
    }
    const QString node = c.run->currentData(Qt::UserRole + 2).toString();
    const QString dir = c.run->currentData(Qt::UserRole + 1).toString();
    if (node != QLatin1String("local")) {
        c.note->setText(tr("This run is on node %1: sample it there with `bcd-train sample "
                           "--model %2/final`, or copy a checkpoint here.")
                            .arg(node, dir.isEmpty() ? QStringLiteral("RUN") : dir));
        return;
    }
    const QStringList found = localCheckpoints(dir);
    c.checkpoint->addItems(found);
    if (const int i = c.checkpoint->findText(keep); i >= 0) c.checkpoint->setCurrentIndex(i);
    if (found.isEmpty())
        c.note->setText(tr("No complete checkpoint yet (final/ or checkpoints/step-N with DONE) "
                           "in %1.")
                            .arg(QDir::toNativeSeparators(dir)));
}

void SamplePage::choose(int side, qint64 runId, const QString& checkpoint) {
    Column& c = cols_[side];
    const int i = c.run->findData(runId);
    if (i >= 0) c.run->setCurrentIndex(i);
    fillCheckpoints(side);
    const int k = c.checkpoint->findText(checkpoint);
    if (k >= 0) c.checkpoint->setCurrentIndex(k);
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
    return std::any_of(std::begin(cols_), std::end(cols_), [](const Column& c) {
        return c.process && c.process->state() != QProcess::NotRunning;
    });
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
    const QString dir = modelDir(side);
    if (dir.isEmpty()) return;
    const QString engine = wb_.launcherContext().localEngine;
    if (engine.isEmpty()) {
        c.text->setPlainText(tr("No bcd-train found next to the workbench or on PATH."));
        return;
    }
    auto* p = new QProcess(this);
    c.process = p;
    p->setProgram(engine);
    const int threads = std::max(1, QThread::idealThreadCount() / 2);
    p->setArguments(
        {QStringLiteral("sample"), QStringLiteral("--model"), dir, QStringLiteral("--prompt"),
         prompt_->toPlainText(), QStringLiteral("--max-new"), QString::number(maxNew_->value()),
         QStringLiteral("--temperature"), QString::number(temperature_->value()),
         QStringLiteral("--top-p"), QString::number(topP_->value()), QStringLiteral("--seed"),
         QString::number(seed_->value()), QStringLiteral("--threads"), QString::number(threads)});
    // The text as it comes (bytes of one character may arrive in two reads: decoded at the end).
    auto bytes = std::make_shared<QByteArray>();
    connect(p, &QProcess::readyReadStandardOutput, this, [this, side, p, bytes] {
        bytes->append(p->readAllStandardOutput());
        cols_[side].text->setPlainText(QString::fromUtf8(*bytes));
    });
    connect(p, &QProcess::finished, this,
            [this, side, p, bytes](int code, QProcess::ExitStatus st) {
                bytes->append(p->readAllStandardOutput());
                QString text = QString::fromUtf8(*bytes);
                if (st != QProcess::NormalExit || code != 0) {
                    const QString err = QString::fromUtf8(p->readAllStandardError()).trimmed();
                    text += (text.isEmpty() ? QString() : QStringLiteral("\n\n")) +
                            (err.isEmpty() ? tr("(stopped)") : err);
                } else if (text.endsWith(QLatin1Char('\n'))) {
                    text.chop(1); // the engine's closing newline
                }
                cols_[side].text->setPlainText(text);
                p->deleteLater();
                endIfIdle();
            });
    connect(p, &QProcess::errorOccurred, this, [this, side, p](QProcess::ProcessError e) {
        if (e != QProcess::FailedToStart) return;
        cols_[side].text->setPlainText(
            tr("Could not start %1: %2").arg(p->program(), p->errorString()));
        p->deleteLater();
        endIfIdle();
    });
    p->start();
}

void SamplePage::endIfIdle() {
    if (busy()) return;
    generate_->setEnabled(true);
    stop_->setEnabled(false);
    emit finished();
}

void SamplePage::stopAll() {
    for (Column& c : cols_)
        if (c.process && c.process->state() != QProcess::NotRunning) {
            c.process->disconnect(this);
            c.process->kill();
            c.process->waitForFinished(2000);
            c.process->deleteLater();
        }
    generate_->setEnabled(true);
    stop_->setEnabled(false);
}

} // namespace bcd::ui
