#pragma once
// NodeDialog: the settings of an SSH node or a Slurm cluster's login host (host, port, user,
// identity file, known_hosts, engine path, run root, price per hour; a cluster's job defaults),
// for adding one or editing it. Editing keeps the name (runs
// refer to a node by it): setRecord of a stored node makes the name read-only.

#include "store/store_types.h"

#include <QDialog>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace bcd::ui {

class SlurmJobForm;

class NodeDialog : public QDialog {
    Q_OBJECT
public:
    explicit NodeDialog(QWidget* parent = nullptr);

    // A stored node (id != 0): the dialog edits it, and its name cannot change.
    void setRecord(const store::NodeRecord& node);
    bool editing() const { return base_.id != 0; }
    store::NodeRecord record() const;
    // Why the form cannot be saved, empty when it can.
    QString problem() const;

    void accept() override;

private:
    QComboBox* kind_;
    SlurmJobForm* slurm_;
    QLineEdit* name_;
    QLineEdit* host_;
    QSpinBox* port_;
    QLineEdit* user_;
    QLineEdit* identity_;
    QLineEdit* knownHosts_;
    QLineEdit* engine_;
    QLineEdit* runRoot_;
    QDoubleSpinBox* price_;
    QLabel* error_;
    store::NodeRecord base_;
};

} // namespace bcd::ui
