#pragma once
// The Runs page: every stored run (id, name, status, node, steps done / total, last loss, tags,
// created) with a filter over name, tags, status and node, the selected run's details, and the
// actions: Monitor, Compare selected, Run again (its config in the New run page), Cancel, Export
// CSV, Edit (name, tags and notes; also a double-click on the Tags cell). Refreshes when runs
// change and, while any run is live, on a timer.

#include "store/store_types.h"

#include <QJsonObject>
#include <QList>
#include <QWidget>
#include <functional>
#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QStandardItemModel;
class QTableView;
class QTimer;

namespace bcd::ui {

class Workbench;

class RunsPage : public QWidget {
    Q_OBJECT
public:
    enum Column { Id = 0, Name, Status, Node, Steps, Loss, Tags, Created, ColumnCount };

    explicit RunsPage(Workbench& wb, QWidget* parent = nullptr);

    // Reads the runs again (asynchronously; refreshed() follows).
    void refresh();
    void setFilter(const QString& text);
    // Runs shown (after the filter), in view order.
    QList<qint64> visibleRuns() const;
    QList<qint64> selectedRuns() const;
    void selectRuns(const QList<qint64>& ids);
    QTableView* table() const { return table_; }

    bool exportCsv(qint64 runId, const QString& file);
    // Opens the dialog for the run's name, tags and notes, and saves them when accepted.
    void editRun(qint64 runId);
    // Stores the run's name, tags and notes (asynchronously; runInfoSaved follows, then the list
    // refreshes and the workbench's runsChanged is emitted).
    void saveRunInfo(qint64 runId, const QString& name, const QStringList& tags,
                     const QString& notes);

    // Resume, Fork… and Delete… act on the selection (buttons and context menu). Tests answer
    // their dialogs: the checkpoint a fork starts from, and for a delete nullopt (cancel) or
    // whether the run folders on this machine go too.
    void setForkChooser(std::function<QString(const QStringList&)> f) { forkChooser_ = f; }
    void setDeleteConfirm(std::function<std::optional<bool>(const QStringList&)> f) {
        deleteConfirm_ = f;
    }
    QPushButton* button(const QString& objectName) const;
    // "name (2)" for "name", "name (3)" for "name (2)": the name Run again proposes.
    static QString againName(const QString& name);

signals:
    void refreshed();
    void runInfoSaved(qint64 runId, bool ok, const QString& message);

private:
    struct Row {
        store::RunRecord run;
        std::optional<double> loss;
    };
    void showRows(const QVector<Row>& rows);
    void updateActions();
    void showDetails();
    void contextMenu(const QPoint& pos);
    std::optional<Row> rowOf(qint64 id) const;
    // Opens New run with a fork of `run` from the checkpoint chosen among `found` (or says why
    // there is none: `error`, or no complete checkpoint), on the run's node.
    void forkFrom(const store::RunRecord& run, const QStringList& found, const QString& error);
    void deleteSelected();
    // Deletes the runs' rows, then says so with the notes (folders kept or not removed).
    void deleteRows(const QVector<store::RunRecord>& runs, const QStringList& notes);
    void archiveSelected();

    Workbench& wb_;
    QVector<Row> rows_;
    QStandardItemModel* model_;
    QSortFilterProxyModel* proxy_;
    QTableView* table_;
    QLineEdit* filter_;
    QComboBox* status_;
    QCheckBox* showArchived_;
    QLabel* details_;
    QLabel* count_;
    QPushButton* monitor_;
    QPushButton* compare_;
    std::function<QString(const QStringList&)> forkChooser_;
    std::optional<store::RunRecord> forkPending_; // a fork whose checkpoints its node is listing
    std::function<std::optional<bool>(const QStringList&)> deleteConfirm_;
    QPushButton* again_;
    QPushButton* resume_;
    QPushButton* fork_;
    QPushButton* delete_;
    QPushButton* archive_;
    QPushButton* cancel_;
    QPushButton* export_;
    QPushButton* edit_;
    QTimer* live_;
    bool loading_ = false;
    bool reloadPending_ = false; // a refresh asked for while one was reading
};

} // namespace bcd::ui
