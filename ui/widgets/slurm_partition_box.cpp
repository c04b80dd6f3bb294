#include "ui/widgets/slurm_partition_box.h"

#include "nodes/slurm_job.h"

namespace bcd::ui {

SlurmPartitionBox::SlurmPartitionBox(QWidget* parent) : QComboBox(parent) {
    setObjectName(QStringLiteral("slurmPartition"));
    setToolTip(tr("The Slurm partition the run's job asks for (the node's probe lists them); the "
                  "plan counts its GPUs per node"));
    hide();
}

void SlurmPartitionBox::setNode(const store::NodeRecord& node) {
    const QSignalBlocker block(this);
    clear();
    partitions_.clear();
    const bool slurm = node.kind == QLatin1String("slurm");
    setVisible(slurm);
    if (!slurm) return;
    partitions_ = nodes::NodeProbe::fromJson(node.probe).partitions;
    const QString wanted = nodes::SlurmJobDefaults::fromJson(node.jobDefaults).partition;
    int index = -1;
    for (int i = 0; i < partitions_.size(); ++i) {
        const auto& p = partitions_[i];
        addItem(p.gpusPerNode > 0 ? tr("%1 (%2× %3)")
                                        .arg(p.name)
                                        .arg(p.gpusPerNode)
                                        .arg(p.gpuType.isEmpty() ? tr("GPU") : p.gpuType)
                                  : tr("%1 (CPU)").arg(p.name),
                p.name);
        if (p.name == wanted || (wanted.isEmpty() && p.isDefault && index < 0)) index = i;
    }
    if (partitions_.isEmpty())
        addItem(wanted.isEmpty() ? tr("probe the node for its partitions") : wanted, wanted);
    setCurrentIndex(std::max(0, index));
}

QString SlurmPartitionBox::partition() const {
    return isHidden() ? QString() : currentData().toString();
}

std::optional<nodes::SlurmPartition> SlurmPartitionBox::chosen() const {
    const int i = currentIndex();
    if (i < 0 || i >= partitions_.size()) return std::nullopt;
    return partitions_[i];
}

QString SlurmPartitionBox::plannerGpu(const QString& gresType, const QStringList& tableNames) {
    if (gresType.isEmpty()) return {};
    for (const QString& name : tableNames)
        if (name.contains(gresType, Qt::CaseInsensitive)) return name;
    return {};
}

} // namespace bcd::ui
