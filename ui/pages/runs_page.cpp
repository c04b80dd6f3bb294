#include "ui/pages/runs_page.h"

#include "launch/engine_defaults.h"
#include "launch/run_config.h"
#include "launch/run_folders.h"
#include "ui/widgets/flow_layout.h"
#include "ui/widgets/number_format.h"
#include "ui/widgets/run_info_dialog.h"
#include "ui/workbench.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>
#include <utility>

namespace bcd::ui {

namespace {

constexpr int kRunIdRole = Qt::UserRole + 1;
constexpr int kSortRole = Qt::UserRole + 2;
constexpr int kSearchRole = Qt::UserRole + 3;
constexpr int kArchivedRole = Qt::UserRole + 4;

// Matches every word of the filter against a run's name, tags, status and node; the status
// choice must match exactly.
class RunFilter : public QSortFilterProxyModel {
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setText(const QString& t) {
        words_ = t.toLower().split(QLatin1Char(' '), Qt::SkipEmptyParts);
        invalidateFilter();
    }
    void setStatus(const QString& s) {
        status_ = s;
        invalidateFilter();
    }
    void setShowArchived(bool on) {
        showArchived_ = on;
        invalidateFilter();
    }

protected:
    bool filterAcceptsRow(int row, const QModelIndex& parent) const override {
        const QModelIndex first = sourceModel()->index(row, 0, parent);
        if (!showArchived_ && first.data(kArchivedRole).toBool()) return false;
        const QString hay = first.data(kSearchRole).toString();
        for (const QString& w : words_)
            if (!hay.contains(w)) return false;
        if (!status_.isEmpty() &&
            sourceModel()->index(row, RunsPage::Status, parent).data().toString() != status_)
            return false;
        return true;
    }

private:
    QStringList words_;
    QString status_;
    bool showArchived_ = false;
};

QColor statusColor(const QString& s) {
    if (s == store::status::kRunning || s == store::status::kStarting ||
        s == store::status::kQueued)
        return QColor(0x1f, 0x77, 0xb4);
    if (s == store::status::kFinished) return QColor(0x2c, 0xa0, 0x2c);
    if (s == store::status::kFailed) return QColor(0xd6, 0x27, 0x28);
    return QColor(0x88, 0x88, 0x88);
}

} // namespace

RunsPage::RunsPage(Workbench& wb, QWidget* parent) : QWidget(parent), wb_(wb) {
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    filter_ = new QLineEdit(this);
    filter_->setObjectName(QStringLiteral("runFilter"));
    filter_->setPlaceholderText(tr("Filter by name, tag, status or node"));
    filter_->setClearButtonEnabled(true);
    status_ = new QComboBox(this);
    status_->addItem(tr("any status"), QString());
    for (const QString& s :
         {store::status::kStarting, store::status::kQueued, store::status::kRunning,
          store::status::kFinished, store::status::kFailed, store::status::kCancelled})
        status_->addItem(s, s);
    count_ = new QLabel(this);
    showArchived_ = new QCheckBox(tr("Show archived"), this);
    showArchived_->setObjectName(QStringLiteral("showArchived"));
    showArchived_->setToolTip(tr("Runs tagged \"archived\" are hidden until this is checked"));
    top->addWidget(filter_, 1);
    top->addWidget(status_);
    top->addWidget(showArchived_);
    top->addWidget(count_);
    layout->addLayout(top);

    model_ = new QStandardItemModel(0, ColumnCount, this);
    model_->setHorizontalHeaderLabels({tr("Id"), tr("Name"), tr("Status"), tr("Node"), tr("Steps"),
                                       tr("Last loss"), tr("Tags"), tr("Created")});
    auto* proxy = new RunFilter(this);
    proxy_ = proxy;
    proxy_->setSourceModel(model_);
    proxy_->setSortRole(kSortRole);
    table_ = new QTableView(this);
    table_->setObjectName(QStringLiteral("runsTable"));
    table_->setModel(proxy_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSortingEnabled(true);
    table_->sortByColumn(Id, Qt::DescendingOrder);
    table_->verticalHeader()->hide();
    table_->setAlternatingRowColors(true);
    table_->setContextMenuPolicy(Qt::CustomContextMenu);
    table_->horizontalHeader()->setSectionResizeMode(Name, QHeaderView::Stretch);
    for (int c : {Id, Status, Node, Steps, Loss, Created})
        table_->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    table_->horizontalHeader()->resizeSection(Tags, 160);

    details_ = new QLabel(this);
    details_->setObjectName(QStringLiteral("runDetails"));
    details_->setWordWrap(true);
    details_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    details_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    details_->setMargin(6);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(table_);
    split->addWidget(details_);
    split->setStretchFactor(0, 4);
    split->setStretchFactor(1, 1);
    layout->addWidget(split, 1);

    // The actions wrap onto a second line when the page is narrow (1024-pixel screens).
    auto* buttons = new FlowLayout;
    auto addButton = [this, buttons](const QString& text, const QString& tip) {
        auto* b = new QPushButton(text, this);
        b->setToolTip(tip);
        buttons->addWidget(b);
        return b;
    };
    monitor_ =
        addButton(tr("Monitor"),
                  tr("Follow the selected run live: loss, throughput, memory, log (double-click)"));
    compare_ =
        addButton(tr("Compare selected"), tr("Overlay the selected runs and diff their configs"));
    again_ = addButton(tr("Run again…"), tr("Open the selected run's config in the New run page"));
    again_->setObjectName(QStringLiteral("again"));
    resume_ =
        addButton(tr("Resume"), tr("Start the selected cancelled or failed run again from its "
                                   "newest checkpoint"));
    resume_->setObjectName(QStringLiteral("resume"));
    fork_ = addButton(tr("Fork…"), tr("A new run from one of the selected run's checkpoints, with "
                                      "settings you change in New run (its weights; the optimizer "
                                      "starts afresh), on the run's node"));
    fork_->setObjectName(QStringLiteral("fork"));
    delete_ = addButton(tr("Delete…"), tr("Remove the selected runs from the store (and, if you "
                                          "choose, their folders on their nodes)"));
    delete_->setObjectName(QStringLiteral("delete"));
    archive_ = addButton(tr("Archive"), tr("Hide the selected finished runs from the lists (the "
                                           "tag \"archived\"; nothing is deleted)"));
    archive_->setObjectName(QStringLiteral("archive"));
    cancel_ =
        addButton(tr("Cancel"), tr("Stop the selected runs: SIGTERM (the engine checkpoints), "
                                   "SIGKILL after a grace period"));
    export_ = addButton(tr("Export CSV…"), tr("Write the selected run's metric points as CSV"));
    edit_ = addButton(tr("Edit…"),
                      tr("Change the selected run's name, tags and notes (double-click its tags)"));
    auto* reload = addButton(tr("Refresh"), tr("Read the runs again"));
    layout->addLayout(buttons);

    connect(filter_, &QLineEdit::textChanged, this, [this, proxy](const QString& t) {
        proxy->setText(t);
        updateActions();
    });
    connect(showArchived_, &QCheckBox::toggled, this, [this, proxy](bool on) {
        proxy->setShowArchived(on);
        updateActions();
    });
    connect(status_, &QComboBox::currentIndexChanged, this, [this, proxy] {
        proxy->setStatus(status_->currentData().toString());
        updateActions();
    });
    connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        updateActions();
        showDetails();
    });
    connect(table_, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
        if (index.isValid() && index.column() == Tags) {
            editRun(index.siblingAtColumn(Id).data(kRunIdRole).toLongLong());
            return;
        }
        if (const auto ids = selectedRuns(); !ids.isEmpty()) emit wb_.openMonitor(ids.first());
    });
    connect(table_, &QTableView::customContextMenuRequested, this, &RunsPage::contextMenu);
    connect(monitor_, &QPushButton::clicked, this, [this] {
        if (const auto ids = selectedRuns(); !ids.isEmpty()) emit wb_.openMonitor(ids.first());
    });
    connect(compare_, &QPushButton::clicked, this,
            [this] { emit wb_.openCompare(selectedRuns()); });
    connect(again_, &QPushButton::clicked, this, [this] {
        const auto ids = selectedRuns();
        if (ids.isEmpty()) return;
        if (const auto r = rowOf(ids.first())) {
            // The launcher sets output.dir: the stored one names the old run's folder.
            QJsonObject c = r->run.config;
            QJsonObject out = c.value(QStringLiteral("output")).toObject();
            out.remove(QStringLiteral("dir"));
            c.insert(QStringLiteral("output"), out);
            emit wb_.openNewRun(c, againName(r->run.name), r->run.tags, r->run.node);
        }
    });
    connect(resume_, &QPushButton::clicked, this, [this] {
        for (qint64 id : selectedRuns()) {
            wb_.runs().resume(id);
            emit wb_.message(tr("Resuming run %1 from its newest checkpoint …").arg(id));
        }
    });
    connect(fork_, &QPushButton::clicked, this, [this] {
        const auto ids = selectedRuns();
        const auto r = ids.size() == 1 ? rowOf(ids.first()) : std::nullopt;
        if (!r) return;
        if (r->run.node == QLatin1String("local")) {
            forkFrom(r->run, launch::localCheckpoints(r->run.remoteDir), {});
            return;
        }
        // Its checkpoints are on its node: listed there by the sampler's worker (answered in
        // checkpointsListed below), and the fork runs there.
        forkPending_ = r->run;
        emit wb_.message(
            tr("Listing the checkpoints of run %1 on %2 …").arg(r->run.id).arg(r->run.node));
        wb_.store().call(
            [name = r->run.node](store::RunStore& s) { return s.node(name); }, this,
            [this, run = r->run](const std::optional<store::NodeRecord>& node) {
                if (!node) {
                    forkPending_.reset();
                    emit wb_.message(
                        tr("Run %1's node '%2' is gone from the store").arg(run.id).arg(run.node));
                    return;
                }
                wb_.sampler().listCheckpoints(run.id, *node, run.remoteDir);
            });
    });
    connect(&wb_.sampler(), &launch::RunSampler::checkpointsListed, this,
            [this](qint64 runId, const QStringList& found, const QString& error) {
                if (!forkPending_ || forkPending_->id != runId) return;
                const store::RunRecord run = *forkPending_;
                forkPending_.reset();
                forkFrom(run, found, error);
            });
    connect(delete_, &QPushButton::clicked, this, [this] { deleteSelected(); });
    connect(archive_, &QPushButton::clicked, this, [this] { archiveSelected(); });
    connect(cancel_, &QPushButton::clicked, this, [this] {
        for (qint64 id : selectedRuns())
            if (const auto r = rowOf(id); r && !store::status::isTerminal(r->run.status)) {
                wb_.runs().cancel(id);
                emit wb_.message(tr("Cancelling run %1 …").arg(id));
            }
    });
    connect(export_, &QPushButton::clicked, this, [this] {
        const auto ids = selectedRuns();
        if (ids.isEmpty()) return;
        const QString f = QFileDialog::getSaveFileName(
            this, tr("Export metrics"), QStringLiteral("run-%1.csv").arg(ids.first()),
            tr("CSV (*.csv)"));
        if (!f.isEmpty()) exportCsv(ids.first(), f);
    });
    connect(edit_, &QPushButton::clicked, this, [this] {
        if (const auto ids = selectedRuns(); ids.size() == 1) editRun(ids.first());
    });
    connect(reload, &QPushButton::clicked, this, &RunsPage::refresh);

    live_ = new QTimer(this);
    live_->setInterval(2000);
    connect(live_, &QTimer::timeout, this, &RunsPage::refresh);
    connect(&wb, &Workbench::runsChanged, this, &RunsPage::refresh);
    connect(&wb.store(), &store::StoreService::opened, this, &RunsPage::refresh);
    updateActions();
    refresh();
}

void RunsPage::refresh() {
    if (loading_) {
        // The read under way may predate the change that asked for this one: read again after.
        reloadPending_ = true;
        return;
    }
    loading_ = true;
    wb_.store().call(
        [](store::RunStore& s) {
            QVector<Row> rows;
            for (const store::RunRecord& r : s.runs()) {
                Row row{r, std::nullopt};
                if (r.lastStep) {
                    const auto pts =
                        s.points(r.id, store::PointType::Step, *r.lastStep, *r.lastStep);
                    if (!pts.isEmpty()) row.loss = pts.last().value(store::MetricColumn::Loss);
                }
                rows.push_back(row);
            }
            return rows;
        },
        this,
        [this](const QVector<Row>& rows) {
            loading_ = false;
            showRows(rows);
            if (std::exchange(reloadPending_, false)) refresh();
        },
        [this](const QString& m) {
            loading_ = false;
            reloadPending_ = false;
            emit wb_.message(tr("Reading the runs failed: %1").arg(m));
        });
}

void RunsPage::showRows(const QVector<Row>& rows) {
    const QList<qint64> selected = selectedRuns();
    rows_ = rows;
    table_->setSortingEnabled(false);
    model_->setRowCount(0);
    bool live = false;
    for (const Row& row : rows_) {
        const store::RunRecord& r = row.run;
        live = live || !store::status::isTerminal(r.status);
        QList<QStandardItem*> items;
        for (int c = 0; c < ColumnCount; ++c) items << new QStandardItem;
        auto set = [&](int c, const QString& text, const QVariant& sort) {
            items[c]->setText(text);
            items[c]->setData(sort, kSortRole);
        };
        set(Id, QString::number(r.id), r.id);
        set(Name, r.name, r.name.toLower());
        set(Status, r.status, r.status);
        items[Status]->setForeground(statusColor(r.status));
        QStringList tip;
        if (!r.jobId.isEmpty())
            tip << tr("Slurm job %1: %2%3")
                       .arg(r.jobId, r.jobState.isEmpty() ? tr("submitted") : r.jobState,
                            r.jobReason.isEmpty() || r.jobReason == QLatin1String("None")
                                ? QString()
                                : QStringLiteral(" (%1)").arg(r.jobReason));
        if (!r.message.isEmpty()) tip << r.message;
        if (!tip.isEmpty()) items[Status]->setToolTip(tip.join('\n'));
        set(Node, r.hosts.isEmpty() ? r.node : r.hosts.join(QStringLiteral(", ")), r.node);
        const qint64 done = r.lastStep.value_or(0);
        set(Steps,
            r.stepsTotal ? QStringLiteral("%1 / %2").arg(done).arg(*r.stepsTotal)
                         : QString::number(done),
            done);
        set(Loss, row.loss ? QString::number(*row.loss, 'f', 4) : QString(),
            row.loss.value_or(1e300));
        set(Tags, r.tags.join(QStringLiteral(", ")), r.tags.join(QLatin1Char(',')));
        const QDateTime created =
            QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(r.createdAt * 1000));
        set(Created, created.toString(QStringLiteral("yyyy-MM-dd HH:mm")), r.createdAt);
        for (int c : {Id, Steps, Loss})
            items[c]->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        items[Id]->setData(r.id, kRunIdRole);
        items[Id]->setData(store::status::isArchived(r.tags), kArchivedRole);
        items[Id]->setData(QStringList{r.name, r.tags.join(QLatin1Char(' ')), r.status, r.node,
                                       QString::number(r.id)}
                               .join(QLatin1Char(' '))
                               .toLower(),
                           kSearchRole);
        model_->appendRow(items);
    }
    table_->setSortingEnabled(true);
    selectRuns(selected);
    if (live && !live_->isActive()) live_->start();
    if (!live) live_->stop();
    updateActions();
    showDetails();
    emit refreshed();
}

QList<qint64> RunsPage::visibleRuns() const {
    QList<qint64> ids;
    for (int r = 0; r < proxy_->rowCount(); ++r)
        ids << proxy_->index(r, Id).data(kRunIdRole).toLongLong();
    return ids;
}

QList<qint64> RunsPage::selectedRuns() const {
    QList<qint64> ids;
    if (!table_->selectionModel()) return ids;
    for (const QModelIndex& i : table_->selectionModel()->selectedRows(Id))
        ids << i.data(kRunIdRole).toLongLong();
    std::sort(ids.begin(), ids.end());
    return ids;
}

void RunsPage::selectRuns(const QList<qint64>& ids) {
    QItemSelection sel;
    for (int r = 0; r < proxy_->rowCount(); ++r)
        if (ids.contains(proxy_->index(r, Id).data(kRunIdRole).toLongLong()))
            sel.select(proxy_->index(r, 0), proxy_->index(r, ColumnCount - 1));
    table_->selectionModel()->select(sel, QItemSelectionModel::ClearAndSelect);
}

void RunsPage::setFilter(const QString& text) {
    filter_->setText(text);
}

std::optional<RunsPage::Row> RunsPage::rowOf(qint64 id) const {
    for (const Row& r : rows_)
        if (r.run.id == id) return r;
    return std::nullopt;
}

void RunsPage::updateActions() {
    const auto ids = selectedRuns();
    bool live = false;
    for (qint64 id : ids)
        if (const auto r = rowOf(id); r && !store::status::isTerminal(r->run.status)) live = true;
    monitor_->setEnabled(ids.size() >= 1);
    compare_->setEnabled(ids.size() >= 2);
    again_->setEnabled(ids.size() == 1);
    bool resumable = !ids.isEmpty(), over = !ids.isEmpty();
    for (qint64 id : ids)
        if (const auto r = rowOf(id)) {
            resumable = resumable && (r->run.status == store::status::kCancelled ||
                                      r->run.status == store::status::kFailed);
            over = over && store::status::isTerminal(r->run.status);
        }
    resume_->setEnabled(resumable);
    delete_->setEnabled(over);
    // Archive when any selected run is not archived yet, else Unarchive.
    bool allArchived = !ids.isEmpty();
    for (qint64 id : ids)
        if (const auto r = rowOf(id))
            allArchived = allArchived && store::status::isArchived(r->run.tags);
    archive_->setText(allArchived ? tr("Unarchive") : tr("Archive"));
    archive_->setEnabled(over);
    const auto one = ids.size() == 1 ? rowOf(ids.first()) : std::nullopt;
    fork_->setEnabled(one && !one->run.remoteDir.isEmpty() &&
                      store::status::isTerminal(one->run.status));
    export_->setEnabled(ids.size() == 1);
    edit_->setEnabled(ids.size() == 1);
    cancel_->setEnabled(live);
    count_->setText(tr("%1 of %2 runs").arg(proxy_->rowCount()).arg(model_->rowCount()));
}

void RunsPage::showDetails() {
    const auto ids = selectedRuns();
    const auto r = ids.size() == 1 ? rowOf(ids.first()) : std::nullopt;
    if (!r) {
        details_->setText(
            rows_.isEmpty()
                ? tr("No runs yet — New run (Ctrl+2) starts one: the local node, the bundled "
                     "sample text and the small preset are ready to launch.")
            : ids.isEmpty()
                ? tr("Select a run to see its settings; select several to compare them.")
                : tr("%1 runs selected.").arg(ids.size()));
        return;
    }
    // Keys the config leaves out read as the engine's defaults (its own config library).
    const QJsonObject c = launch::resolvedConfig(r->run.config);
    auto v = [&c](const char* k) {
        return launch::configValue(c, QLatin1String(k)).toVariant().toString();
    };
    QString html =
        tr("<b>%1</b> — %2 on %3")
            .arg(r->run.name.toHtmlEscaped(), r->run.status, r->run.node.toHtmlEscaped());
    if (!r->run.message.isEmpty())
        html += QStringLiteral(": %1").arg(r->run.message.toHtmlEscaped());
    html += tr("<br>model %1 · data %2 (%3, seq_len %4)")
                .arg(v("model.path").toHtmlEscaped(), v("data.train").toHtmlEscaped(),
                     v("data.format"), v("data.seq_len"));
    html +=
        tr("<br>%1 steps · batch %2 × %3 · %4 lr %5 %6 · %7 · mode %8")
            .arg(v("train.steps"), v("train.batch_size"), v("train.grad_accum"), v("optim.name"),
                 formatLr(launch::configValue(c, QStringLiteral("optim.lr")).toDouble()),
                 v("optim.schedule"), v("train.precision"), v("bcd.mode"));
    if (v("bcd.mode") != QLatin1String("full"))
        html += tr(" (%1 layer(s) per block, %2, switch every %3)")
                    .arg(v("bcd.layers_per_block"), v("bcd.order"), v("bcd.switch_every"));
    if (!r->run.remoteDir.isEmpty())
        html += tr("<br>folder %1").arg(r->run.remoteDir.toHtmlEscaped());
    if (!r->run.tags.isEmpty())
        html += tr("<br>tags: %1").arg(r->run.tags.join(QStringLiteral(", ")).toHtmlEscaped());
    if (!r->run.notes.isEmpty())
        html += tr("<br>notes: %1")
                    .arg(r->run.notes.toHtmlEscaped().replace(QLatin1Char('\n'),
                                                              QLatin1String("<br>")));
    details_->setText(html);
}

void RunsPage::contextMenu(const QPoint& pos) {
    if (selectedRuns().isEmpty()) return;
    QMenu menu(this);
    for (QPushButton* b :
         {monitor_, compare_, again_, resume_, fork_, cancel_, delete_, export_, edit_}) {
        QAction* a = menu.addAction(b->text(), b, &QPushButton::click);
        a->setEnabled(b->isEnabled());
    }
    menu.exec(table_->viewport()->mapToGlobal(pos));
}

void RunsPage::editRun(qint64 runId) {
    const auto r = rowOf(runId);
    if (!r) return;
    RunInfoDialog d(this);
    d.setWindowTitle(tr("Edit run %1").arg(runId));
    d.setInfo(r->run.name, r->run.tags, r->run.notes);
    if (d.exec() == QDialog::Accepted) saveRunInfo(runId, d.name(), d.tags(), d.notes());
}

void RunsPage::saveRunInfo(qint64 runId, const QString& name, const QStringList& tags,
                           const QString& notes) {
    wb_.store().call([runId, name, tags,
                      notes](store::RunStore& s) { s.updateRunInfo(runId, name, tags, notes); },
                     this,
                     [this, runId] {
                         emit wb_.message(tr("Run %1 saved").arg(runId));
                         emit runInfoSaved(runId, true, {});
                         emit wb_.runsChanged(); // this page refreshes on it, as do the others
                     },
                     [this, runId](const QString& m) {
                         emit wb_.message(tr("Saving run %1 failed: %2").arg(runId).arg(m));
                         emit runInfoSaved(runId, false, m);
                         auto* box = new QMessageBox(QMessageBox::Warning, tr("Run not saved"), m,
                                                     QMessageBox::Ok, this);
                         box->setObjectName(QStringLiteral("runNotSaved"));
                         box->setAttribute(Qt::WA_DeleteOnClose);
                         box->open();
                     });
}

bool RunsPage::exportCsv(qint64 runId, const QString& file) {
    wb_.store().call(
        [runId, file](store::RunStore& s) { s.exportCsv(runId, file); }, this,
        [this, runId, file] { emit wb_.message(tr("Run %1 exported to %2").arg(runId).arg(file)); },
        [this](const QString& m) { emit wb_.message(tr("Export failed: %1").arg(m)); });
    return true;
}

QPushButton* RunsPage::button(const QString& objectName) const {
    return findChild<QPushButton*>(objectName);
}

QString RunsPage::againName(const QString& name) {
    // "name" → "name (2)", "name (2)" → "name (3)": Run again never reuses a name.
    static const QRegularExpression numbered(QStringLiteral("^(.*) \\((\\d+)\\)$"));
    const auto m = numbered.match(name);
    return m.hasMatch()
               ? QStringLiteral("%1 (%2)").arg(m.captured(1)).arg(m.captured(2).toInt() + 1)
               : name + QStringLiteral(" (2)");
}

void RunsPage::archiveSelected() {
    QVector<store::RunRecord> runs;
    bool allArchived = true;
    for (qint64 id : selectedRuns())
        if (const auto r = rowOf(id); r && store::status::isTerminal(r->run.status)) {
            runs << r->run;
            allArchived = allArchived && store::status::isArchived(r->run.tags);
        }
    if (runs.isEmpty()) return;
    const bool archive = !allArchived;
    wb_.store().call(
        [runs, archive](store::RunStore& s) {
            for (const store::RunRecord& r : runs) {
                QStringList tags = r.tags;
                tags.removeAll(store::status::kArchivedTag);
                if (archive) tags << store::status::kArchivedTag;
                s.updateRunInfo(r.id, r.name, tags, r.notes);
            }
        },
        this,
        [this, n = runs.size(), archive] {
            emit wb_.message(archive ? tr("Archived %1 run(s): Show archived lists them").arg(n)
                                     : tr("Unarchived %1 run(s)").arg(n));
            emit wb_.runsChanged();
        },
        [this](const QString& m) { emit wb_.message(tr("Archive failed: %1").arg(m)); });
}

void RunsPage::forkFrom(const store::RunRecord& run, const QStringList& found,
                        const QString& error) {
    if (!error.isEmpty()) {
        emit wb_.message(tr("Run %1: its checkpoints on %2 could not be listed: %3")
                             .arg(run.id)
                             .arg(run.node, error));
        return;
    }
    if (found.isEmpty()) {
        emit wb_.message(
            tr("Run %1 has no complete checkpoint on %2 to fork from").arg(run.id).arg(run.node));
        return;
    }
    bool ok = false;
    const QString checkpoint =
        forkChooser_ ? forkChooser_(found)
                     : QInputDialog::getItem(this, tr("Fork run %1").arg(run.id),
                                             tr("Start the new run from the checkpoint:"), found, 0,
                                             false, &ok);
    if (checkpoint.isEmpty() || (!forkChooser_ && !ok)) return;
    emit wb_.openNewRun(launch::forkConfig(run.config, run.remoteDir, checkpoint),
                        tr("%1 fork@%2").arg(run.name, checkpoint),
                        QStringList{launch::forkTag(run.id, checkpoint)}, run.node);
}

void RunsPage::deleteSelected() {
    QVector<store::RunRecord> runs;
    for (qint64 id : selectedRuns())
        if (const auto r = rowOf(id); r && store::status::isTerminal(r->run.status)) runs << r->run;
    if (runs.isEmpty()) return;
    QStringList names;
    bool anyFolder = false;
    for (const auto& r : runs) {
        names << QStringLiteral("#%1 %2").arg(r.id).arg(r.name);
        anyFolder = anyFolder || !r.remoteDir.isEmpty();
    }
    bool withFiles = false;
    if (deleteConfirm_) {
        const auto answer = deleteConfirm_(names);
        if (!answer) return;
        withFiles = *answer;
    } else {
        QMessageBox box(QMessageBox::Warning, tr("Delete runs"),
                        tr("Remove %n run(s) from the store, with their metrics and events?",
                           nullptr, int(runs.size())),
                        QMessageBox::Cancel, this);
        box.setInformativeText(names.join(QLatin1Char('\n')));
        QPushButton* del = box.addButton(tr("Delete"), QMessageBox::DestructiveRole);
        auto* files = new QCheckBox(tr("Also delete the run folders (checkpoints, logs, final "
                                       "model) on their nodes"),
                                    &box);
        files->setEnabled(anyFolder);
        box.setCheckBox(files);
        box.exec();
        if (box.clickedButton() != del) return;
        withFiles = files->isChecked();
    }
    QVector<store::RunRecord> withFolder, rowsOnly;
    QStringList folderKept;
    for (const auto& r : runs) {
        (withFiles && !r.remoteDir.isEmpty() ? withFolder : rowsOnly) << r;
        if (!withFiles && !r.remoteDir.isEmpty())
            folderKept << tr("its folder %1 on %2 is kept").arg(r.remoteDir, r.node);
    }
    if (!rowsOnly.isEmpty()) deleteRows(rowsOnly, folderKept);
    if (withFolder.isEmpty()) return;
    // The folders first, on the run-files worker (checkpoints: gigabytes; other nodes: SSH);
    // a run's row goes only once its folder is gone.
    wb_.store().call(
        [withFolder](store::RunStore& s) {
            QVector<std::optional<store::NodeRecord>> nodes;
            for (const auto& r : withFolder) nodes << s.node(r.node);
            return nodes;
        },
        this,
        [this, withFolder](const QVector<std::optional<store::NodeRecord>>& nodes) {
            wb_.runFiles().post([this, withFolder, nodes](launch::NodeSessions& sessions,
                                                          const launch::NodeWorker::Reply& reply) {
                QVector<launch::FolderRemoval> done;
                for (qsizetype i = 0; i < withFolder.size(); ++i) {
                    const store::RunRecord& r = withFolder[i];
                    if (!nodes[i])
                        done << launch::FolderRemoval{r.id, r.node, r.remoteDir, false,
                                                      tr("its node is gone from the store")};
                    else
                        done << launch::removeRunFolder(sessions, *nodes[i], r.id, r.remoteDir);
                }
                reply([this, withFolder, done] {
                    QVector<store::RunRecord> gone;
                    QStringList kept;
                    for (qsizetype i = 0; i < done.size(); ++i) {
                        if (done[i].ok())
                            gone << withFolder[i];
                        else
                            kept << tr("run #%1 kept: its folder %2 on %3 was not removed: %4")
                                        .arg(done[i].runId)
                                        .arg(done[i].dir, done[i].node, done[i].error);
                    }
                    deleteRows(gone, kept);
                });
            });
        });
}

void RunsPage::deleteRows(const QVector<store::RunRecord>& runs, const QStringList& notes) {
    if (runs.isEmpty() && notes.isEmpty()) return;
    wb_.store().call(
        [runs](store::RunStore& s) {
            for (const auto& r : runs) s.deleteRun(r.id);
            return true;
        },
        this,
        [this, runs, notes](bool) {
            QStringList text;
            if (!runs.isEmpty()) text << tr("Deleted %n run(s)", nullptr, int(runs.size()));
            text += notes;
            emit wb_.message(text.join(QStringLiteral("; ")));
            emit wb_.runsChanged();
        },
        [this](const QString& m) {
            emit wb_.message(tr("Delete failed: %1").arg(m));
            emit wb_.runsChanged();
        });
}

} // namespace bcd::ui
