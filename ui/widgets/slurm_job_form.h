#pragma once
// SlurmJobForm: a Slurm cluster's job defaults (nodes/slurm_job.h) in the node dialog —
// partition, account, QoS, time limit, nodes, GPUs per node, CPUs and memory per task, extra
// #SBATCH lines. It only shows and collects; SlurmJobDefaults::validate() says what is wrong.

#include "nodes/slurm_job.h"

#include <QGroupBox>

class QLineEdit;
class QPlainTextEdit;
class QSpinBox;

namespace bcd::ui {

class SlurmJobForm : public QGroupBox {
    Q_OBJECT
public:
    explicit SlurmJobForm(QWidget* parent = nullptr);
    void setDefaults(const nodes::SlurmJobDefaults& d);
    nodes::SlurmJobDefaults defaults() const;

private:
    QLineEdit* partition_;
    QLineEdit* account_;
    QLineEdit* qos_;
    QLineEdit* time_;
    QSpinBox* nodes_;
    QSpinBox* gpus_;
    QSpinBox* cpus_;
    QSpinBox* mem_;
    QPlainTextEdit* extra_;
};

} // namespace bcd::ui
