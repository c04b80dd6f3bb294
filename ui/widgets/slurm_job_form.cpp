#include "ui/widgets/slurm_job_form.h"

#include "ui/widgets/wheel_guard.h"

#include <QFormLayout>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSpinBox>

namespace bcd::ui {

SlurmJobForm::SlurmJobForm(QWidget* parent) : QGroupBox(tr("Slurm job defaults"), parent) {
    setObjectName(QStringLiteral("slurmJobForm"));
    auto* form = new QFormLayout(this);
    const auto line = [this](const QString& placeholder, const QString& tip) {
        auto* e = new QLineEdit(this);
        e->setPlaceholderText(placeholder);
        e->setToolTip(tip);
        return e;
    };
    partition_ = line(tr("the cluster's default"), tr("Partition (sbatch --partition)"));
    partition_->setObjectName(QStringLiteral("slurmPartition"));
    account_ = line(tr("none"), tr("Account charged (sbatch --account)"));
    qos_ = line(tr("none"), tr("Quality of service (sbatch --qos)"));
    time_ = line(tr("the partition's default"),
                 tr("Time limit: MIN, H:M:S, D-H:M:S or UNLIMITED (sbatch --time); a run ended by "
                    "it can be resumed from its newest checkpoint"));
    const auto spin = [this](int lo, int hi, int value, const QString& special,
                             const QString& tip) {
        auto* s = new QSpinBox(this);
        s->setRange(lo, hi);
        s->setValue(value);
        if (!special.isEmpty()) s->setSpecialValueText(special);
        s->setToolTip(tip);
        return s;
    };
    nodes_ = spin(1, 1, 1, {},
                  tr("Nodes per job: 1 until the engine runs data-parallel ranks (docs/slurm.md)"));
    gpus_ = spin(0, 64, 0, tr("none (a CPU job)"), tr("GPUs per node (sbatch --gpus-per-node)"));
    cpus_ = spin(0, 4096, 0, tr("the cluster's default"), tr("CPUs per task (--cpus-per-task)"));
    mem_ = spin(0, 1 << 30, 0, tr("the cluster's default"), tr("Memory per task"));
    mem_->setSuffix(tr(" MiB"));
    extra_ = new QPlainTextEdit(this);
    extra_->setPlaceholderText(tr("#SBATCH --constraint=a100"));
    extra_->setToolTip(tr("Extra lines, one '#SBATCH --option[=value]' each"));
    extra_->setMaximumHeight(70);
    form->addRow(tr("Partition"), partition_);
    form->addRow(tr("Account"), account_);
    form->addRow(tr("QoS"), qos_);
    form->addRow(tr("Time limit"), time_);
    form->addRow(tr("Nodes"), nodes_);
    form->addRow(tr("GPUs per node"), gpus_);
    form->addRow(tr("CPUs per task"), cpus_);
    form->addRow(tr("Memory per task"), mem_);
    form->addRow(tr("Extra lines"), extra_);
    guardWheel(this);
}

void SlurmJobForm::setDefaults(const nodes::SlurmJobDefaults& d) {
    partition_->setText(d.partition);
    account_->setText(d.account);
    qos_->setText(d.qos);
    time_->setText(d.timeLimit);
    nodes_->setValue(d.nodes);
    gpus_->setValue(d.gpusPerNode);
    cpus_->setValue(d.cpusPerTask);
    mem_->setValue(static_cast<int>(d.memPerTaskMiB));
    extra_->setPlainText(d.extraLines.join('\n'));
}

nodes::SlurmJobDefaults SlurmJobForm::defaults() const {
    nodes::SlurmJobDefaults d;
    d.partition = partition_->text().trimmed();
    d.account = account_->text().trimmed();
    d.qos = qos_->text().trimmed();
    d.timeLimit = time_->text().trimmed();
    d.nodes = nodes_->value();
    d.gpusPerNode = gpus_->value();
    d.cpusPerTask = cpus_->value();
    d.memPerTaskMiB = mem_->value();
    for (const QString& l : extra_->toPlainText().split('\n', Qt::SkipEmptyParts))
        if (!l.trimmed().isEmpty()) d.extraLines << l.trimmed();
    return d;
}

} // namespace bcd::ui
