#include "ui/widgets/run_info_dialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QVBoxLayout>

namespace bcd::ui {

RunInfoDialog::RunInfoDialog(QWidget* parent) : QDialog(parent) {
    setObjectName(QStringLiteral("runInfoDialog"));
    setWindowTitle(tr("Edit run"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    name_ = new QLineEdit(this);
    name_->setObjectName(QStringLiteral("runName"));
    tags_ = new QLineEdit(this);
    tags_->setObjectName(QStringLiteral("runTags"));
    tags_->setPlaceholderText(tr("sweep, lr-3e-3, baseline"));
    tags_->setToolTip(tr("Comma-separated; the Runs page's filter matches them"));
    notes_ = new QPlainTextEdit(this);
    notes_->setObjectName(QStringLiteral("runNotes"));
    notes_->setTabChangesFocus(true);
    notes_->setPlaceholderText(tr("What this run is for, what came of it"));
    form->addRow(tr("Name"), name_);
    form->addRow(tr("Tags"), tags_);
    form->addRow(tr("Notes"), notes_);
    layout->addLayout(form);
    error_ = new QLabel(this);
    error_->setStyleSheet(QStringLiteral("color: #d62728"));
    error_->hide();
    layout->addWidget(error_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &RunInfoDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    setMinimumWidth(420);
}

void RunInfoDialog::setInfo(const QString& name, const QStringList& tags, const QString& notes) {
    name_->setText(name);
    tags_->setText(tags.join(QStringLiteral(", ")));
    notes_->setPlainText(notes);
}

QString RunInfoDialog::name() const {
    return name_->text().trimmed();
}

QStringList RunInfoDialog::tags() const {
    return parseTags(tags_->text());
}

QString RunInfoDialog::notes() const {
    return notes_->toPlainText().trimmed();
}

QStringList RunInfoDialog::parseTags(const QString& text) {
    QStringList out;
    for (const QString& t : text.split(QLatin1Char(','))) {
        const QString tag = t.simplified();
        if (!tag.isEmpty() && !out.contains(tag)) out << tag;
    }
    return out;
}

QString RunInfoDialog::problem() const {
    return name().isEmpty() ? tr("The name is missing.") : QString();
}

void RunInfoDialog::accept() {
    const QString p = problem();
    error_->setVisible(!p.isEmpty());
    error_->setText(p);
    if (p.isEmpty()) QDialog::accept();
}

} // namespace bcd::ui
