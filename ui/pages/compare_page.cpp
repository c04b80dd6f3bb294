#include "ui/pages/compare_page.h"

#include "launch/engine_defaults.h"
#include "store/metrics_csv.h"
#include "ui/widgets/flow_layout.h"
#include "ui/widgets/metric_chart.h"
#include "ui/widgets/number_format.h"
#include "ui/workbench.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QLocale>
#include <QPushButton>
#include <QSet>
#include <QSlider>
#include <QSplitter>
#include <QStyledItemDelegate>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>
#include <qcustomplot.h>

namespace bcd::ui {

using store::MetricColumn;

namespace {

constexpr int kRefreshMs = 33;
constexpr int kTableRefreshMs = 1000; // summaries read every point: at most once a second
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

struct MetricChoice {
    const char* label;
    MetricColumn column;
    bool smooth;
    bool dots;
    double scale;
};
const MetricChoice kMetrics[] = {
    {QT_TRANSLATE_NOOP("ComparePage", "Loss"), MetricColumn::Loss, true, false, 1.0},
    {QT_TRANSLATE_NOOP("ComparePage", "Validation loss"), MetricColumn::ValLoss, false, true, 1.0},
    {QT_TRANSLATE_NOOP("ComparePage", "Tokens / s of step time"), MetricColumn::TokS, true, false,
     1.0},
    {QT_TRANSLATE_NOOP("ComparePage", "Memory (GiB)"), MetricColumn::Mem, false, false, 1.0 / kGiB},
    {QT_TRANSLATE_NOOP("ComparePage", "Learning rate"), MetricColumn::Lr, false, false, 1.0},
    {QT_TRANSLATE_NOOP("ComparePage", "Gradient norm"), MetricColumn::GradNorm, true, false, 1.0},
};

QString runLabel(const store::RunRecord& r) {
    return QStringLiteral("#%1 %2").arg(r.id).arg(r.name);
}

// Rows no wider than the view, so the view elides their text (see the run list).
class ViewWidthDelegate : public QStyledItemDelegate {
public:
    explicit ViewWidthDelegate(QAbstractItemView* view) : QStyledItemDelegate(view), view_(view) {}
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override {
        QSize s = QStyledItemDelegate::sizeHint(option, index);
        s.setWidth(std::min(s.width(), view_->viewport()->width()));
        return s;
    }

private:
    QAbstractItemView* view_;
};

} // namespace

QString elideMiddle(const QString& text, int maxChars) {
    if (text.size() <= maxChars || maxChars < 5) return text;
    const int tail = (maxChars - 1) / 2;
    const int head = maxChars - 1 - tail;
    return text.left(head) + QChar(0x2026) + text.right(tail);
}

bool runMatchesFilter(const store::RunRecord& r, const QString& filter) {
    for (const QString& term : filter.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
        bool hit = r.name.contains(term, Qt::CaseInsensitive) ||
                   r.status.contains(term, Qt::CaseInsensitive) ||
                   QStringLiteral("#%1").arg(r.id) == term;
        for (const QString& tag : r.tags) hit = hit || tag.contains(term, Qt::CaseInsensitive);
        if (!hit) return false;
    }
    return true;
}

namespace {

// Names in the chart's legend, the table and the config headers: elided in the middle (the run's
// number and the end of its name stay), the whole name in the tooltip.
constexpr int kLabelChars = 32;
QString shortLabel(const store::RunRecord& r) {
    return elideMiddle(runLabel(r), kLabelChars);
}
QString runToolTip(const store::RunRecord& r) {
    QString tip = runLabel(r);
    if (!r.tags.isEmpty()) tip += QStringLiteral("\n") + r.tags.join(QStringLiteral(", "));
    return tip;
}

QString jsonText(const QJsonValue& v) {
    switch (v.type()) {
    case QJsonValue::Undefined:
        return QStringLiteral("—");
    case QJsonValue::Null:
        return QStringLiteral("null");
    case QJsonValue::Bool:
        return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Double:
        return QString::number(v.toDouble(), 'g', 10);
    case QJsonValue::String:
        return v.toString();
    case QJsonValue::Array:
        return QString::fromUtf8(QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact));
    case QJsonValue::Object:
        return QString::fromUtf8(QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
    }
    return {};
}

// A numeric cell: the text as shown, the value in Qt::UserRole (sorting, tests).
QTableWidgetItem* numberItem(std::optional<double> v, int decimals, bool grouped = false) {
    auto* item = new QTableWidgetItem;
    if (!v) {
        item->setText(QStringLiteral("—"));
    } else {
        item->setText(grouped ? QLocale().toString(*v, 'f', decimals)
                              : QString::number(*v, 'f', decimals));
        item->setData(Qt::UserRole, *v);
    }
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}

} // namespace

ComparePage::ComparePage(Workbench& wb, QWidget* parent) : QWidget(parent), wb_(wb) {
    auto* layout = new QHBoxLayout(this);
    auto* outer = new QSplitter(Qt::Horizontal, this);
    layout->addWidget(outer);

    auto* left = new QWidget(outer);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(new QLabel(tr("Runs to compare:"), left));
    filter_ = new QLineEdit(left);
    filter_->setObjectName(QStringLiteral("runFilter"));
    filter_->setPlaceholderText(tr("Filter: name, tag or status"));
    filter_->setClearButtonEnabled(true);
    filter_->setToolTip(tr("Shows the runs whose name, tags or status contain every word; "
                           "checked runs stay compared when the filter hides them"));
    leftLayout->addWidget(filter_);
    runList_ = new QListWidget(left);
    runList_->setObjectName(QStringLiteral("runList"));
    // Each name elided in the middle to the list's width (the number and the status stay, the
    // whole text in the tooltip): a QListView sizes its rows to their text, so without the
    // capped width it scrolls sideways and cuts names at the right edge instead.
    runList_->setTextElideMode(Qt::ElideMiddle);
    runList_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    runList_->setResizeMode(QListView::Adjust);
    runList_->setItemDelegate(new ViewWidthDelegate(runList_));
    leftLayout->addWidget(runList_, 1);
    left->setMinimumWidth(180); // room for "#12 a run's name" at 1024 px
    outer->addWidget(left);

    auto* right = new QWidget(outer);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    // Three groups that wrap onto a second line when the page is narrow (1024-pixel screens).
    auto* controls = new FlowLayout;
    auto group = [right, controls] {
        auto* w = new QWidget(right);
        auto* row = new QHBoxLayout(w);
        row->setContentsMargins(0, 0, 0, 0);
        controls->addWidget(w);
        return row;
    };
    QHBoxLayout* metricRow = group();
    metricRow->addWidget(new QLabel(tr("Metric:"), right));
    metric_ = new QComboBox(right);
    metric_->setObjectName(QStringLiteral("metric"));
    for (const auto& m : kMetrics) metric_->addItem(tr(m.label), int(m.column));
    metricRow->addWidget(metric_);
    const ChartControls chartControls = addChartControls(group(), right, 140);
    xAxis_ = chartControls.xAxis;
    smoothing_ = chartControls.smoothing;
    QHBoxLayout* exportRow = group();
    exportRow->addWidget(new QLabel(tr("Export:"), right));
    for (const QString& kind :
         {QStringLiteral("PNG"), QStringLiteral("PDF"), QStringLiteral("CSV")}) {
        auto* b = new QPushButton(kind + QStringLiteral("…"), right);
        b->setObjectName(QStringLiteral("export") + kind);
        connect(b, &QPushButton::clicked, this, [this, kind] { chooseExport(kind); });
        exportRow->addWidget(b);
    }
    rightLayout->addLayout(controls);

    auto* vertical = new QSplitter(Qt::Vertical, right);
    chart_ = new MetricChart(tr(kMetrics[0].label), vertical);
    chart_->setObjectName(QStringLiteral("compareChart"));
    vertical->addWidget(chart_);
    auto* tabs = new QTabWidget(vertical);
    summary_ = new QTableWidget(tabs);
    summary_->setObjectName(QStringLiteral("summaryTable"));
    summary_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    summary_->verticalHeader()->setVisible(false);
    summary_->setColumnCount(13);
    summary_->setHorizontalHeaderLabels(
        {tr("Run"), tr("Status"), tr("Steps"), tr("Final loss"), tr("Final val loss"),
         tr("Best val loss"), tr("Tokens"), tr("Tokens/s (step time)"), tr("$ spent"),
         tr("$ / M tokens"), tr("Peak memory"), tr("Ranks"), tr("All-reduced / step")});
    summary_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    summary_->horizontalHeaderItem(7)->setToolTip(
        tr("Trained tokens per second of step time (forward, backward, optimizer, all-reduce); "
           "evaluation and checkpoints are not counted. The same figure as Monitor's Tokens / s "
           "chart and the plan's tokens/s."));
    tabs->addTab(summary_, tr("Summary"));
    auto* configPage = new QWidget(tabs);
    auto* configLayout = new QVBoxLayout(configPage);
    differencesOnly_ = new QCheckBox(tr("Differences only"), configPage);
    differencesOnly_->setObjectName(QStringLiteral("differencesOnly"));
    differencesOnly_->setChecked(true);
    configLayout->addWidget(differencesOnly_);
    config_ = new QTableWidget(configPage);
    config_->setObjectName(QStringLiteral("configTable"));
    config_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    config_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    config_->horizontalHeader()->setStretchLastSection(true);
    configLayout->addWidget(config_, 1);
    tabs->addTab(configPage, tr("Config"));
    vertical->addWidget(tabs);
    vertical->setStretchFactor(0, 3);
    vertical->setStretchFactor(1, 1);
    vertical->setSizes({500, 220});
    rightLayout->addWidget(vertical, 1);
    outer->addWidget(right);
    outer->setStretchFactor(0, 0);
    outer->setStretchFactor(1, 1);
    outer->setSizes({240, 900});

    curveTimer_.setSingleShot(true);
    curveTimer_.setInterval(kRefreshMs);
    connect(&curveTimer_, &QTimer::timeout, this, &ComparePage::fetchCurves);
    tableTimer_.setSingleShot(true);
    tableTimer_.setInterval(kTableRefreshMs);
    connect(&tableTimer_, &QTimer::timeout, this, &ComparePage::fetchTables);

    connect(runList_, &QListWidget::itemChanged, this, &ComparePage::selectionChanged);
    connect(filter_, &QLineEdit::textChanged, this, &ComparePage::applyFilter);
    connect(metric_, &QComboBox::currentIndexChanged, this, [this](int i) {
        chart_->setTitle(metric_->itemText(i));
        chart_->resetZoom();
        requestCurves();
    });
    connect(xAxis_, &QComboBox::currentIndexChanged, this, [this] {
        chart_->setXAxisKind(static_cast<XAxisKind>(xAxis_->currentData().toInt()));
    });
    connect(smoothing_, &QSlider::valueChanged, this,
            [this](int v) { chart_->setSmoothing(v / 1000.0); });
    chart_->setSmoothing(smoothing_->value() / 1000.0);
    connect(chart_, &MetricChart::viewChanged, this, &ComparePage::requestCurves);
    connect(differencesOnly_, &QCheckBox::toggled, this, &ComparePage::fillConfigTable);
    connect(&wb_, &Workbench::newData, this, [this](qint64 id) {
        if (!selected_.contains(id)) return;
        requestCurves();
        if (!tableTimer_.isActive()) tableTimer_.start();
    });
    connect(&wb_, &Workbench::runsChanged, this, &ComparePage::reloadRunList);
    reloadRunList();
}

void ComparePage::setRuns(const QList<qint64>& runIds) {
    wanted_ = runIds;
    if (!listLoaded_) return; // applied by reloadRunList
    bool missing = false;
    {
        const QSignalBlocker block(runList_);
        for (int i = 0; i < runList_->count(); ++i) {
            QListWidgetItem* item = runList_->item(i);
            item->setCheckState(runIds.contains(item->data(Qt::UserRole).toLongLong())
                                    ? Qt::Checked
                                    : Qt::Unchecked);
        }
        for (qint64 id : runIds)
            if (runList_->findItems(QStringLiteral("#%1 ").arg(id), Qt::MatchStartsWith).isEmpty())
                missing = true;
    }
    if (missing)
        reloadRunList(); // a run newer than the list
    else
        wanted_.clear();
    selectionChanged();
}

void ComparePage::setMetric(MetricColumn column) {
    const int i = metric_->findData(int(column));
    if (i >= 0) metric_->setCurrentIndex(i);
}

void ComparePage::setXAxisKind(XAxisKind kind) {
    const int i = xAxis_->findData(int(kind));
    if (i >= 0) xAxis_->setCurrentIndex(i);
}

void ComparePage::setSmoothing(double weight) {
    smoothing_->setValue(int(std::lround(weight * 1000)));
}
void ComparePage::setDifferencesOnly(bool on) {
    differencesOnly_->setChecked(on);
}

void ComparePage::reloadRunList() {
    wb_.store().call([](store::RunStore& s) { return s.runs(); }, this,
                     [this](const QVector<store::RunRecord>& runs) {
                         const QSet<qint64> checked(selected_.begin(), selected_.end());
                         {
                             const QSignalBlocker block(runList_);
                             runList_->clear();
                             for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
                                 // The number and the name (elided in the middle to the list's
                                 // width), the status when the run has not finished; tags and
                                 // status in the tooltip, and the filter matches them all.
                                 QString text = runLabel(*it);
                                 if (it->status != store::status::kFinished)
                                     text += QStringLiteral(" — %1").arg(it->status);
                                 auto* item = new QListWidgetItem(text, runList_);
                                 item->setToolTip(runToolTip(*it) +
                                                  tr("\n%1 on %2").arg(it->status, it->node));
                                 item->setData(Qt::UserRole, it->id);
                                 item->setData(kMatchRole, QVariant::fromValue(*it));
                                 item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
                                 const bool on = wanted_.isEmpty() ? checked.contains(it->id)
                                                                   : wanted_.contains(it->id);
                                 item->setCheckState(on ? Qt::Checked : Qt::Unchecked);
                             }
                         }
                         listLoaded_ = true;
                         wanted_.clear();
                         noRuns_ = runs.isEmpty();
                         applyFilter();
                         selectionChanged();
                     });
}

void ComparePage::applyFilter() {
    const QString filter = filter_->text();
    for (int i = 0; i < runList_->count(); ++i) {
        QListWidgetItem* item = runList_->item(i);
        item->setHidden(
            !runMatchesFilter(item->data(kMatchRole).value<store::RunRecord>(), filter));
    }
}

void ComparePage::selectionChanged() {
    QList<qint64> ids;
    for (int i = 0; i < runList_->count(); ++i)
        if (runList_->item(i)->checkState() == Qt::Checked)
            ids << runList_->item(i)->data(Qt::UserRole).toLongLong();
    std::sort(ids.begin(), ids.end());
    if (ids == selected_ && (curveRefreshes_ > 0 || ids.isEmpty())) return;
    selected_ = ids;
    requestCurves();
    fetchTables();
}

void ComparePage::requestCurves() {
    if (!curveTimer_.isActive()) curveTimer_.start();
}

void ComparePage::fetchCurves() {
    if (fetching_) {
        fetchAgain_ = true;
        return;
    }
    fetching_ = true;
    const auto column = static_cast<MetricColumn>(metric_->currentData().toInt());
    QVector<std::pair<qint64, CurveRequest>> requests;
    for (qint64 id : selected_) {
        CurveRequest r;
        r.columns = {column};
        for (const auto& m : kMetrics)
            if (m.column == column && m.smooth) r.whole = {column};
        r.cache = wholeCache_;
        r.switches = false;
        r.stepMap = chart_->xAxisKind() != XAxisKind::Step;
        r.buckets = chart_->plotWidth();
        StepMap map;
        for (const auto& c : curves_)
            if (c.run.id == id) map = c.map;
        std::tie(r.fromStep, r.toStep) = chart_->visibleSteps(map);
        requests.push_back({id, r});
    }
    const auto finish = [this] {
        fetching_ = false;
        if (fetchAgain_) {
            fetchAgain_ = false;
            requestCurves();
        }
    };
    wb_.store().call(
        [requests](store::RunStore& s) {
            QVector<RunCurves> out;
            for (const auto& [id, r] : requests)
                if (s.run(id)) out.push_back(fetchRunCurves(s, id, r));
            return out;
        },
        this,
        [this, finish](const QVector<RunCurves>& curves) {
            applyCurves(curves);
            finish();
        },
        [this, finish](const QString& error) {
            emit wb_.message(error);
            finish();
        });
}

void ComparePage::applyCurves(const QVector<RunCurves>& curves) {
    curves_ = curves;
    ++curveRefreshes_;
    const MetricChoice* choice = &kMetrics[0];
    for (const auto& m : kMetrics)
        if (int(m.column) == metric_->currentData().toInt()) choice = &m;
    QVector<ChartCurve> drawn;
    for (int i = 0; i < curves.size(); ++i) {
        const RunCurves& c = curves[i];
        drawn.push_back(ChartCurve{shortLabel(c.run), curveColor(int(c.run.id - 1)),
                                   c.metric(choice->column), c.map, choice->smooth, choice->dots,
                                   choice->scale});
    }
    chart_->setCurves(drawn);
    chart_->setNote(!curves.isEmpty() ? QString()
                    : noRuns_ ? tr("No runs yet — start one on the New run page (Ctrl+2).")
                              : tr("Check runs on the left to compare them (or select runs on "
                                   "the Runs page and press Compare)."));
}

void ComparePage::fetchTables() {
    const QList<qint64> ids = selected_;
    wb_.store().call(
        [ids](store::RunStore& s) {
            QVector<RunComparison> out;
            for (qint64 id : ids)
                if (s.run(id)) out.push_back(compareRun(s, id));
            return out;
        },
        this, [this](const QVector<RunComparison>& rows) { applyTables(rows); },
        [this](const QString& error) { emit wb_.message(error); });
}

void ComparePage::applyTables(const QVector<RunComparison>& rows) {
    rows_ = rows;
    ++tableRefreshes_;
    summary_->setSortingEnabled(false);
    summary_->setRowCount(int(rows.size()));
    for (int r = 0; r < rows.size(); ++r) {
        const RunComparison& c = rows[r];
        const store::RunSummary& s = c.summary;
        auto* name = new QTableWidgetItem(shortLabel(s.run));
        name->setToolTip(runToolTip(s.run));
        name->setForeground(curveColor(int(s.run.id - 1)));
        name->setData(Qt::UserRole, s.run.id);
        summary_->setItem(r, 0, name);
        summary_->setItem(r, 1, new QTableWidgetItem(s.run.status));
        summary_->setItem(
            r, 2,
            numberItem(s.lastStep ? std::optional<double>(double(*s.lastStep)) : std::nullopt, 0,
                       true));
        summary_->setItem(r, 3, numberItem(s.finalLoss, 4));
        summary_->setItem(r, 4, numberItem(s.finalValLoss, 4));
        summary_->setItem(r, 5, numberItem(c.bestValLoss, 4));
        summary_->setItem(r, 6, numberItem(s.tokens, 0, true));
        summary_->setItem(r, 7, numberItem(s.meanTokS, 0, true));
        summary_->setItem(r, 8, numberItem(s.cost, s.cost && *s.cost < 1 ? 4 : 2));
        summary_->setItem(
            r, 9, numberItem(c.usdPerMTokens, c.usdPerMTokens && *c.usdPerMTokens < 1 ? 4 : 2));
        auto* mem = numberItem(c.peakMem, 0);
        if (c.peakMem) mem->setText(formatBytes(*c.peakMem));
        summary_->setItem(r, 10, mem);
        // The world size: data-parallel processes (docs/data-parallel.md); "—" when unknown.
        auto* ranks = numberItem(
            s.run.worldSize ? std::optional<double>(*s.run.worldSize) : std::nullopt, 0, true);
        if (s.run.processesPerNode > 0)
            ranks->setToolTip(tr("%1 per node").arg(s.run.processesPerNode));
        summary_->setItem(r, 11, ranks);
        auto* comm = numberItem(c.meanCommBytes, 0);
        if (c.meanCommBytes) comm->setText(formatBytes(*c.meanCommBytes));
        comm->setToolTip(tr("Bytes all-reduced per step (mean): the active block's gradients "
                            "between the ranks; 0 for one process"));
        summary_->setItem(r, 12, comm);
        if (!s.cost) summary_->item(r, 8)->setToolTip(tr("No price per hour for this run"));
    }
    fillConfigTable();
}

void ComparePage::fillConfigTable() {
    QVector<QJsonObject> configs;
    QStringList headers;
    for (const auto& c : rows_) {
        // Resolved with the engine's defaults: "differences only" then shows what differs in
        // the runs, not which keys one config happened to write out.
        configs << launch::resolvedConfig(c.summary.run.config);
        headers << shortLabel(c.summary.run);
    }
    const auto differences = store::configDifferences(configs);
    QSet<QString> differing;
    for (const auto& d : differences) differing.insert(d.key);
    // Rows: every dotted key of any run (sorted), or only those that differ.
    QMap<QString, QVector<QJsonValue>> table;
    if (differencesOnly_->isChecked()) {
        for (const auto& d : differences) table.insert(d.key, d.values);
    } else {
        for (int i = 0; i < configs.size(); ++i)
            for (const auto& [key, value] : store::flattenJson(configs[i])) {
                auto& values = table[key];
                values.resize(configs.size(), QJsonValue(QJsonValue::Undefined));
                values[i] = value;
            }
    }
    config_->clear();
    config_->setColumnCount(int(configs.size()) + 1);
    config_->setHorizontalHeaderLabels(QStringList{tr("Key")} + headers);
    for (int i = 0; i < rows_.size(); ++i)
        config_->horizontalHeaderItem(i + 1)->setToolTip(runToolTip(rows_[i].summary.run));
    config_->setRowCount(int(table.size()));
    int row = 0;
    const QColor highlight(255, 243, 205);
    for (auto it = table.begin(); it != table.end(); ++it, ++row) {
        auto* key = new QTableWidgetItem(it.key());
        const bool differs = differing.contains(it.key());
        config_->setItem(row, 0, key);
        QVector<QJsonValue> values = it.value();
        values.resize(configs.size(), QJsonValue(QJsonValue::Undefined));
        for (int c = 0; c < values.size(); ++c) {
            auto* item = new QTableWidgetItem(isLearningRateKey(it.key()) && values[c].isDouble()
                                                  ? formatLr(values[c].toDouble())
                                                  : jsonText(values[c]));
            if (differs && !differencesOnly_->isChecked()) item->setBackground(highlight);
            config_->setItem(row, c + 1, item);
        }
        if (differs && !differencesOnly_->isChecked()) key->setBackground(highlight);
    }
}

bool ComparePage::exportPng(const QString& file) {
    chart_->replotNow();
    return chart_->plot()->savePng(file, std::max(chart_->width(), 800),
                                   std::max(chart_->height(), 500));
}

bool ComparePage::exportPdf(const QString& file) {
    chart_->replotNow();
    return chart_->plot()->savePdf(file, std::max(chart_->width(), 800),
                                   std::max(chart_->height(), 500));
}

void ComparePage::exportCsv(const QString& file) {
    const QList<qint64> ids = selected_;
    wb_.store().call(
        [ids, file](store::RunStore& s) -> QString {
            try {
                store::exportMetricsCsv(s, ids, file, true);
                return {};
            } catch (const store::StoreError& e) {
                return QString::fromUtf8(e.what());
            }
        },
        this,
        [this, file](const QString& error) {
            emit csvExported(file, error);
            emit wb_.message(error.isEmpty() ? tr("Wrote %1").arg(file)
                                             : tr("Could not write %1: %2").arg(file, error));
        },
        [this, file](const QString& error) { emit csvExported(file, error); });
}

void ComparePage::chooseExport(const QString& kind) {
    const QString suffix = kind.toLower();
    const QString file = QFileDialog::getSaveFileName(
        this, tr("Export %1").arg(kind), QStringLiteral("compare.") + suffix,
        QStringLiteral("%1 (*.%2)").arg(kind, suffix));
    if (file.isEmpty()) return;
    if (kind == QLatin1String("CSV")) {
        exportCsv(file);
        return;
    }
    const bool ok = kind == QLatin1String("PNG") ? exportPng(file) : exportPdf(file);
    emit wb_.message(ok ? tr("Wrote %1").arg(file) : tr("Could not write %1").arg(file));
}

} // namespace bcd::ui
