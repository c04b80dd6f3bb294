#include "ui/widgets/node_dialog.h"

#include "ui/widgets/slurm_job_form.h"
#include "ui/widgets/wheel_guard.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>
#include <initializer_list>

namespace bcd::ui {

NodeDialog::NodeDialog(QWidget* parent) : QDialog(parent) {
    setObjectName(QStringLiteral("nodeDialog"));
    setWindowTitle(tr("SSH node"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    auto line = [this](const QString& placeholder, const QString& tip) {
        auto* e = new QLineEdit(this);
        e->setPlaceholderText(placeholder);
        e->setToolTip(tip);
        return e;
    };
    auto withBrowse = [this](QLineEdit* e, const QString& title) {
        auto* row = new QHBoxLayout;
        auto* b = new QToolButton(this);
        b->setText(QStringLiteral("…"));
        connect(b, &QToolButton::clicked, this, [this, e, title] {
            const QString f = QFileDialog::getOpenFileName(
                this, title,
                e->text().isEmpty() ? QDir::homePath() + QStringLiteral("/.ssh") : e->text(),
                QString(), nullptr, QFileDialog::DontResolveSymlinks | QFileDialog::ReadOnly);
            if (!f.isEmpty()) e->setText(f);
        });
        row->addWidget(e, 1);
        row->addWidget(b);
        return row;
    };
    name_ =
        line(tr("gpu-box"), tr("The node's name in the workbench: letters, digits, '.', '_', '-'"));
    name_->setObjectName(QStringLiteral("nodeName"));
    host_ = line(tr("gpu-box.example.org or 10.0.0.5"), tr("Host name or address"));
    port_ = new QSpinBox(this);
    port_->setRange(1, 65535);
    port_->setValue(22);
    user_ = line(tr("your local user name"), tr("User to log in as"));
    identity_ = line(tr("SSH agent and ~/.ssh's default keys"), tr("Private key file"));
    knownHosts_ =
        line(tr("~/.ssh/known_hosts"), tr("known_hosts file the host key is checked against"));
    engine_ = line(tr("bcd-train on the node's PATH, else uploaded"),
                   tr("Path of bcd-train on the node"));
    runRoot_ = line(tr("the default run folder"), tr("Folder of this node's runs"));
    price_ = new QDoubleSpinBox(this);
    price_->setObjectName(QStringLiteral("nodePrice"));
    price_->setRange(0, 100000);
    price_->setDecimals(3);
    price_->setPrefix(QStringLiteral("$ "));
    price_->setSuffix(tr(" / hour"));
    price_->setSpecialValueText(tr("unknown"));
    price_->setToolTip(
        tr("What an hour of this node costs (for the cost estimates and the Monitor); 0: unknown. "
           "A change applies to new runs and, from now, to the node's active runs; finished "
           "runs keep their cost."));
    kind_ = new QComboBox(this);
    kind_->setObjectName(QStringLiteral("nodeKind"));
    kind_->addItem(tr("SSH host"), QStringLiteral("ssh"));
    kind_->addItem(tr("Slurm cluster (its login host)"), QStringLiteral("slurm"));
    kind_->setToolTip(tr("An SSH host runs the engine itself; a Slurm cluster runs it as a batch "
                         "job, the host being its login host and the run root a shared folder"));
    form->addRow(tr("Kind"), kind_);
    form->addRow(tr("Name"), name_);
    form->addRow(tr("Host"), host_);
    form->addRow(tr("Port"), port_);
    form->addRow(tr("User"), user_);
    form->addRow(tr("Identity file"), withBrowse(identity_, tr("Private key")));
    form->addRow(tr("known_hosts"), withBrowse(knownHosts_, tr("known_hosts file")));
    form->addRow(tr("Engine path"), engine_);
    form->addRow(tr("Run root"), runRoot_);
    form->addRow(tr("Price"), price_);
    layout->addLayout(form);
    slurm_ = new SlurmJobForm(this);
    slurm_->hide();
    layout->addWidget(slurm_);
    connect(kind_, &QComboBox::currentIndexChanged, this, [this] {
        slurm_->setVisible(kind_->currentData().toString() == QLatin1String("slurm"));
        adjustSize();
    });
    error_ = new QLabel(this);
    error_->setStyleSheet(QStringLiteral("color: #d62728"));
    error_->hide();
    layout->addWidget(error_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &NodeDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    setMinimumWidth(480);
    guardWheel(this);
}

void NodeDialog::setRecord(const store::NodeRecord& n) {
    base_ = n;
    name_->setText(n.name);
    name_->setReadOnly(editing());
    if (editing())
        name_->setToolTip(tr("Runs refer to the node by its name: it cannot be renamed"));
    host_->setText(n.host);
    port_->setValue(n.port);
    user_->setText(n.user);
    identity_->setText(n.identity);
    knownHosts_->setText(n.knownHosts);
    engine_->setText(n.engine);
    runRoot_->setText(n.runRoot);
    // This machine: only what an hour of it costs is the user's to say; the rest is fixed (its
    // engine is the one next to the workbench, its runs live next to the store).
    const bool local = n.kind == QLatin1String("local");
    for (QWidget* w : std::initializer_list<QWidget*>{host_, port_, user_, identity_, knownHosts_,
                                                      engine_, runRoot_})
        w->setEnabled(!local);
    price_->setValue(n.pricePerHour.value_or(0));
    const int kind = kind_->findData(n.kind);
    if (kind >= 0) kind_->setCurrentIndex(kind);
    kind_->setEnabled(!editing()); // a node keeps its kind (the store refuses a change to local)
    kind_->setVisible(!local);
    slurm_->setDefaults(nodes::SlurmJobDefaults::fromJson(n.jobDefaults));
}

store::NodeRecord NodeDialog::record() const {
    store::NodeRecord n = base_;
    if (base_.kind == QLatin1String("local")) {
        n.pricePerHour =
            price_->value() > 0 ? std::optional<double>(price_->value()) : std::nullopt;
        return n;
    }
    n.kind = kind_->currentData().toString();
    n.jobDefaults = n.kind == QLatin1String("slurm") ? slurm_->defaults().toJson() : QJsonObject();
    n.name = name_->text().trimmed();
    n.host = host_->text().trimmed();
    n.port = port_->value();
    n.user = user_->text().trimmed();
    n.identity = identity_->text().trimmed();
    n.knownHosts = knownHosts_->text().trimmed();
    n.engine = engine_->text().trimmed();
    n.runRoot = runRoot_->text().trimmed();
    n.pricePerHour = price_->value() > 0 ? std::optional<double>(price_->value()) : std::nullopt;
    return n;
}

QString NodeDialog::problem() const {
    static const QRegularExpression nameRe(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9._-]*$"));
    const store::NodeRecord n = record();
    if (n.kind == QLatin1String("local")) return {};
    if (!nameRe.match(n.name).hasMatch())
        return tr("The name must start with a letter or digit and hold only letters, digits, '.', "
                  "'_', '-'.");
    if (n.name == QLatin1String("local")) return tr("'local' is this machine's node.");
    if (n.host.isEmpty()) return tr("The host is missing.");
    if (n.kind == QLatin1String("slurm")) {
        const QString why = nodes::SlurmJobDefaults::fromJson(n.jobDefaults).validate();
        if (!why.isEmpty()) return tr("Slurm job defaults: %1").arg(why);
        if (!n.runRoot.isEmpty() && !nodes::isBatchSafePath(n.runRoot) &&
            !nodes::isBatchSafePath(QStringLiteral("~/") + n.runRoot))
            return tr("The run root of a Slurm cluster must be a path of letters, digits and "
                      "_.,/+@%- (it appears in the batch script).");
    }
    return {};
}

void NodeDialog::accept() {
    const QString p = problem();
    error_->setVisible(!p.isEmpty());
    error_->setText(p);
    if (p.isEmpty()) QDialog::accept();
}

} // namespace bcd::ui
