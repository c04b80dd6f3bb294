#pragma once
// SlurmPartitionBox: the partitions of a Slurm node's last probe, for the New run page: the run's
// partition, and the GPUs the planner plans against (a partition's GPUs per node, their GRES type
// matched to the planner's GPU table). Hidden for other nodes.

#include "nodes/node_probe.h"
#include "store/store_types.h"

#include <QComboBox>

namespace bcd::ui {

class SlurmPartitionBox : public QComboBox {
    Q_OBJECT
public:
    explicit SlurmPartitionBox(QWidget* parent = nullptr);
    // Fills the box from the node's probe and selects its default partition (its job defaults',
    // else the cluster's); hides it unless the node is a Slurm cluster.
    void setNode(const store::NodeRecord& node);
    // The chosen partition; empty when the box is hidden or the node was never probed.
    QString partition() const;
    std::optional<nodes::SlurmPartition> chosen() const;

    // The planner's GPU name for a GRES type ("a100" → "A100 80GB SXM" when the table has one
    // whose name holds it); empty when none matches.
    static QString plannerGpu(const QString& gresType, const QStringList& tableNames);

private:
    QVector<nodes::SlurmPartition> partitions_;
};

} // namespace bcd::ui
