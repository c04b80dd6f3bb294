#include "ui/widgets/metric_chart.h"

#include "ui/widgets/block_strip.h"
#include "ui/widgets/number_format.h"
#include "ui/widgets/smoothing.h"

#include <QComboBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QMouseEvent>
#include <QSlider>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>
#include <qcustomplot.h>

namespace bcd::ui {

namespace {
constexpr int kMinReplotMs = 33; // ~30 Hz
constexpr int kViewDebounceMs = 150;
constexpr int kMaxDrawnMarkers = 400;

// Tick labels in the pages' number format (number_format.h) instead of QCustomPlot's, which
// drops thousands separators and writes learning rates as "0.0025".
class FormattedTicker : public QCPAxisTicker {
protected:
    QVector<QString> createLabelVector(const QVector<double>& ticks, const QLocale&, QChar,
                                       int) override {
        return formatTicks(ticks);
    }
};
class FormattedLogTicker : public QCPAxisTickerLog {
protected:
    QVector<QString> createLabelVector(const QVector<double>& ticks, const QLocale&, QChar,
                                       int) override {
        QVector<QString> out;
        for (double t : ticks) out << formatValue(t);
        return out;
    }
};

} // namespace

QColor curveColor(int i) {
    static const QColor colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    return colors[((i % 10) + 10) % 10];
}

MetricChart::MetricChart(const QString& title, QWidget* parent)
    : QWidget(parent), plot_(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    setMinimumSize(240, 140);

    plot_->plotLayout()->insertRow(0);
    title_ =
        new QCPTextElement(plot_, title, QFont(font().family(), font().pointSize(), QFont::Bold));
    plot_->plotLayout()->addElement(0, 0, title_);
    plot_->xAxis->setLabel(xAxisTitle(kind_));
    plot_->xAxis->setTicker(QSharedPointer<FormattedTicker>::create());
    plot_->yAxis->setTicker(QSharedPointer<FormattedTicker>::create());
    // Labels drawn as written: without "b", QCustomPlot would typeset "3e-3" as 3·10⁻³.
    plot_->xAxis->setNumberFormat(QStringLiteral("g"));
    plot_->yAxis->setNumberFormat(QStringLiteral("g"));
    plot_->legend->setVisible(true);
    QFont legendFont = font();
    legendFont.setPointSizeF(legendFont.pointSizeF() * 0.85);
    plot_->legend->setFont(legendFont);
    plot_->legend->setBrush(QColor(255, 255, 255, 200));
    plot_->legend->setBorderPen(QPen(QColor(180, 180, 180)));
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot_->axisRect()->setRangeDrag(Qt::Horizontal);
    plot_->axisRect()->setRangeZoom(Qt::Horizontal);
    plot_->setNoAntialiasingOnDrag(true);

    noteItem_ = new QCPItemText(plot_);
    noteItem_->position->setType(QCPItemPosition::ptAxisRectRatio);
    noteItem_->position->setCoords(0.5, 0.08);
    noteItem_->setPositionAlignment(Qt::AlignHCenter | Qt::AlignTop);
    noteItem_->setColor(QColor(120, 120, 120));
    noteItem_->setClipToAxisRect(true);
    noteItem_->setVisible(false);

    rebuildTimer_.setSingleShot(true);
    connect(&rebuildTimer_, &QTimer::timeout, this, &MetricChart::rebuild);
    viewTimer_.setSingleShot(true);
    viewTimer_.setInterval(kViewDebounceMs);
    connect(&viewTimer_, &QTimer::timeout, this, &MetricChart::viewChanged);
    connect(plot_->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            &MetricChart::onRangeChanged);
    connect(plot_, &QCustomPlot::mouseDoubleClick, this, [this] { resetZoom(); });

    // The hover readout: a crosshair and a box with the values at the mouse's x.
    cursor_ = new QCPItemStraightLine(plot_);
    cursor_->setPen(QPen(QColor(90, 90, 90, 160), 1));
    cursor_->setClipToAxisRect(true);
    cursor_->setVisible(false);
    readout_ = new QCPItemText(plot_);
    readout_->position->setType(QCPItemPosition::ptAxisRectRatio);
    readout_->position->setCoords(0.01, 0.02);
    readout_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    readout_->setTextAlignment(Qt::AlignLeft);
    readout_->setBrush(QColor(255, 255, 255, 225));
    readout_->setPen(QPen(QColor(180, 180, 180)));
    readout_->setColor(QColor(30, 30, 30));
    readout_->setPadding(QMargins(5, 3, 5, 3));
    readout_->setClipToAxisRect(true);
    readout_->setVisible(false);
    plot_->setMouseTracking(true);
    connect(plot_, &QCustomPlot::mouseMove, this, &MetricChart::showReadout);
    plot_->installEventFilter(this);
    sinceRebuild_.start();
}

void MetricChart::setLogY(bool on) {
    if (on == logY_) return;
    logY_ = on;
    plot_->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (on)
        plot_->yAxis->setTicker(QSharedPointer<FormattedLogTicker>::create());
    else
        plot_->yAxis->setTicker(QSharedPointer<FormattedTicker>::create());
    scheduleRebuild();
}

void MetricChart::setReadoutExtra(std::function<QString(double)> extra) {
    readoutExtra_ = std::move(extra);
}

bool MetricChart::readoutVisible() const {
    return readout_->visible();
}

QString MetricChart::readoutAt(double x) const {
    // The step under x, from the first curve's map (the charts of one page share one run's).
    double step = std::numeric_limits<double>::quiet_NaN();
    for (const ChartCurve& c : curves_)
        if (c.map.has(kind_)) {
            step = c.map.step(kind_, x);
            break;
        }
    if (!std::isfinite(step)) return {};
    QStringList lines;
    lines << tr("step %1").arg(QLocale().toString(qint64(std::llround(step))));
    auto nearest = [x](const QCPGraph* g, double* value) {
        if (!g || g->data()->isEmpty()) return false;
        auto it = g->data()->findBegin(x, false);
        auto best = it;
        if (it != g->data()->constBegin()) {
            auto prev = it - 1;
            if (it == g->data()->constEnd() || std::abs(prev->key - x) < std::abs(it->key - x))
                best = prev;
        }
        if (best == g->data()->constEnd()) return false;
        *value = best->value;
        return true;
    };
    for (int i = 0; i < drawn_.size() && i < curves_.size(); ++i) {
        double raw = 0, smooth = 0;
        if (!nearest(drawn_[i].raw, &raw)) continue;
        QString line = QStringLiteral("%1: %2").arg(curves_[i].name, formatValue(raw));
        if (nearest(drawn_[i].smoothed, &smooth))
            line += tr(" (smoothed %1)").arg(formatValue(smooth));
        lines << line;
    }
    if (readoutExtra_) {
        const QString extra = readoutExtra_(step);
        if (!extra.isEmpty()) lines << extra;
    }
    return lines.join(QLatin1Char('\n'));
}

void MetricChart::showReadout(QMouseEvent* event) {
    const QPointF pos = event->position();
    if (!plot_->axisRect()->rect().contains(pos.toPoint())) {
        hideReadout();
        return;
    }
    const double x = plot_->xAxis->pixelToCoord(pos.x());
    const QString text = readoutAt(x);
    if (text.isEmpty()) {
        hideReadout();
        return;
    }
    const QCPRange yr = plot_->yAxis->range();
    cursor_->point1->setCoords(x, yr.lower);
    cursor_->point2->setCoords(x, yr.upper);
    readout_->setText(text);
    // The box on the side away from the mouse.
    const bool right = pos.x() < plot_->axisRect()->center().x();
    readout_->position->setCoords(right ? 0.99 : 0.01, 0.02);
    readout_->setPositionAlignment((right ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignTop);
    cursor_->setVisible(true);
    readout_->setVisible(true);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void MetricChart::hideReadout() {
    if (!readout_->visible() && !cursor_->visible()) return;
    cursor_->setVisible(false);
    readout_->setVisible(false);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

bool MetricChart::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plot_ && event->type() == QEvent::Leave) hideReadout();
    return QWidget::eventFilter(watched, event);
}

void MetricChart::setTitle(const QString& title) {
    title_->setText(title);
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void MetricChart::setCurves(QVector<ChartCurve> curves) {
    curves_ = std::move(curves);
    scheduleRebuild();
}

void MetricChart::setMarkers(const QVector<qint64>& steps, const StepMap& map,
                             const QVector<int>& blocks, const QStringList& labels) {
    markerSteps_ = steps;
    markerMap_ = map;
    markerBlocks_ = blocks;
    markerTexts_ = labels;
    scheduleRebuild();
}

void MetricChart::setXAxisKind(XAxisKind kind) {
    if (kind == kind_) return;
    kind_ = kind;
    plot_->xAxis->setLabel(xAxisTitle(kind));
    if (kind == XAxisKind::Time) {
        auto ticker = QSharedPointer<QCPAxisTickerTime>::create();
        ticker->setTimeFormat(QStringLiteral("%h:%m:%s"));
        plot_->xAxis->setTicker(ticker);
    } else {
        plot_->xAxis->setTicker(QSharedPointer<FormattedTicker>::create());
    }
    // The old range means nothing on the new axis.
    follow_ = true;
    scheduleRebuild();
    emit viewChanged();
}

void MetricChart::setSmoothing(double weight) {
    smoothing_ = std::clamp(weight, 0.0, 0.999);
    scheduleRebuild();
}

void MetricChart::setNote(const QString& text) {
    userNote_ = text;
    scheduleRebuild();
}

QString MetricChart::note() const {
    return noteItem_->visible() ? noteItem_->text() : QString();
}

QCPRange MetricChart::visibleX() const {
    return plot_->xAxis->range();
}

std::pair<qint64, qint64> MetricChart::visibleSteps(const StepMap& map) const {
    if (follow_) return {0, store::RunStore::kLastStep};
    const QCPRange r = plot_->xAxis->range();
    const double a = map.step(kind_, r.lower), b = map.step(kind_, r.upper);
    if (!std::isfinite(a) || !std::isfinite(b)) return {0, store::RunStore::kLastStep};
    return {std::max<qint64>(0, qint64(std::floor(std::min(a, b)))),
            std::max<qint64>(0, qint64(std::ceil(std::max(a, b))))};
}

void MetricChart::zoomTo(double lower, double upper) {
    plot_->xAxis->setRange(lower, upper); // onRangeChanged: stops following, emits viewChanged
}

void MetricChart::setXRange(double lower, double upper) {
    follow_ = false;
    settingRange_ = true;
    plot_->xAxis->setRange(lower, upper);
    settingRange_ = false;
    viewTimer_.start();
    scheduleRebuild();
}

void MetricChart::resetZoom() {
    follow_ = true;
    scheduleRebuild();
    emit viewChanged();
}

int MetricChart::plotWidth() const {
    const int w = plot_->axisRect()->width();
    return w > 50 ? w : std::max(300, width() - 80);
}

void MetricChart::onRangeChanged(const QCPRange& range) {
    if (settingRange_) return;
    follow_ = false;
    emit userXRangeChanged(range.lower, range.upper);
    viewTimer_.start();
    fitRanges();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void MetricChart::scheduleRebuild() {
    if (rebuildTimer_.isActive()) return;
    rebuildTimer_.start(std::max<qint64>(0, kMinReplotMs - sinceRebuild_.elapsed()));
}

void MetricChart::replotNow() {
    rebuildTimer_.stop();
    rebuild();
    plot_->replot(QCustomPlot::rpImmediateRefresh);
}

void MetricChart::rebuild() {
    sinceRebuild_.restart();
    plot_->clearGraphs();
    drawn_.clear();
    for (int i = plot_->itemCount() - 1; i >= 0; --i)
        if (plot_->item(i) != noteItem_ && plot_->item(i) != cursor_ && plot_->item(i) != readout_)
            plot_->removeItem(i);

    QStringList notShown;
    const bool smoothOn = smoothing_ > 0;
    for (const ChartCurve& c : curves_) {
        Drawn d;
        if (!c.map.has(kind_)) {
            if (kind_ == XAxisKind::Cost && c.map.has(XAxisKind::Time)) notShown << c.name;
            drawn_.push_back(d);
            continue;
        }
        const qsizetype n = c.data.steps.size();
        QVector<double> x(n), y(n);
        for (qsizetype i = 0; i < n; ++i) {
            x[i] = c.map.x(kind_, c.data.steps[i]);
            y[i] = c.data.values[i] * c.scale;
        }
        d.raw = plot_->addGraph();
        d.raw->setName(c.name);
        QColor rawColor = c.color;
        if (c.smooth && smoothOn) rawColor.setAlpha(60);
        d.raw->setPen(QPen(rawColor, 1));
        // Bucket envelopes are dense: antialiasing them costs more than it shows.
        if (c.data.downsampled && !c.dots) d.raw->setAntialiased(false);
        if (c.dots)
            d.raw->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, c.color, c.color, 5));
        d.raw->setData(x, y, true);
        if (c.smooth && smoothOn) {
            d.raw->removeFromLegend();
            d.smoothed = plot_->addGraph();
            d.smoothed->setName(c.name);
            d.smoothed->setPen(QPen(c.color, 1));
            QVector<double> smoothed;
            if (!c.data.wholeSteps.isEmpty()) {
                // Over the whole run, read off at the samples' steps: the same value at a step
                // whatever the zoom.
                smoothed =
                    emaSmoothAt(c.data.wholeSteps, c.data.wholeValues, smoothing_, c.data.steps);
                for (double& v : smoothed) v *= c.scale;
            } else {
                smoothed = emaSmooth(y, smoothing_,
                                     c.data.downsampled ? c.data.weights : QVector<double>{});
            }
            d.smoothed->setData(x, smoothed, true);
        }
        drawn_.push_back(d);
    }
    QStringList notes;
    if (!userNote_.isEmpty()) notes << userNote_;
    if (!notShown.isEmpty())
        notes << tr("No price per hour for %1: the cost axis needs one")
                     .arg(notShown.join(QStringLiteral(", ")));
    noteItem_->setText(notes.join('\n'));
    noteItem_->setVisible(!notes.isEmpty());

    markerX_.clear();
    if (markerMap_.has(kind_))
        for (qint64 s : markerSteps_) markerX_ << markerMap_.x(kind_, double(s));
    // As many y ticks as the height holds legibly (QCustomPlot aims at 5 whatever the height,
    // which piles labels on each other in a small chart).
    if (const int h = plot_->axisRect()->height(); h > 0)
        plot_->yAxis->ticker()->setTickCount(std::clamp(h / 32, 2, 6));
    fitRanges();
    // Draw the markers in view, thinned so that a run that switches every few steps stays legible.
    const QCPRange xr = plot_->xAxis->range();
    QVector<double> inView;
    QVector<int> inViewBlock;
    QStringList inViewText;
    for (qsizetype i = 0; i < markerX_.size(); ++i)
        if (xr.contains(markerX_[i])) {
            inView << markerX_[i];
            inViewBlock << markerBlocks_.value(i, -1);
            inViewText << markerTexts_.value(i);
        }
    const qsizetype stride =
        std::max<qsizetype>(1, (inView.size() + kMaxDrawnMarkers - 1) / kMaxDrawnMarkers);
    // Labels where they can be read: a few dozen switches across the plot at most.
    const bool labelled = inView.size() <= std::max(8, plot_->axisRect()->width() / 30);
    markerLabels_.clear();
    const QCPRange yr = plot_->yAxis->range();
    for (qsizetype i = 0; i < inView.size(); i += stride) {
        const int block = inViewBlock[i];
        QColor c = block >= 0 ? blockColor(block) : QColor(150, 150, 150);
        c.setAlpha(block >= 0 ? 170 : 140);
        auto* line = new QCPItemStraightLine(plot_);
        line->setPen(QPen(c, 1, Qt::DashLine));
        line->point1->setCoords(inView[i], yr.lower);
        line->point2->setCoords(inView[i], yr.upper);
        const QString text = !inViewText[i].isEmpty() ? inViewText[i]
                             : labelled && block >= 0 ? QStringLiteral("→%1").arg(block)
                                                      : QString();
        if (!text.isEmpty()) {
            auto* label = new QCPItemText(plot_);
            label->position->setTypeX(QCPItemPosition::ptPlotCoords);
            label->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
            label->position->setCoords(inView[i], 0.0);
            label->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
            label->setText(text);
            QColor textColor = c.darker(140);
            if (!inViewText[i].isEmpty()) textColor.setAlpha(255); // a named marker is read
            label->setColor(textColor);
            QFont f = font();
            f.setPointSizeF(f.pointSizeF() * 0.75);
            label->setFont(f);
            label->setClipToAxisRect(true);
            markerLabels_ << label->text();
        }
    }
    // One curve: the title names it, and a legend would only hide data.
    plot_->legend->setVisible(plot_->legend->itemCount() > 1);
    placeLegend();
    ++replots_;
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void MetricChart::placeLegend() {
    if (!plot_->legend->visible()) return;
    // The corner of the plot where the legend hides the fewest drawn points (a falling loss
    // leaves the top right free, a rising or flat-high series the bottom), in this order on ties.
    static constexpr Qt::Alignment kCorners[] = {
        Qt::AlignTop | Qt::AlignRight, Qt::AlignTop | Qt::AlignLeft,
        Qt::AlignBottom | Qt::AlignRight, Qt::AlignBottom | Qt::AlignLeft};
    const QRect area = plot_->axisRect()->rect();
    const QSize hint = plot_->legend->minimumOuterSizeHint();
    const QSize size(std::max(hint.width(), plot_->legend->outerRect().width()),
                     std::max(hint.height(), plot_->legend->outerRect().height()));
    if (area.width() <= size.width() || area.height() <= size.height()) return;
    const QMargins m = plot_->axisRect()->insetLayout()->margins();
    qint64 best = std::numeric_limits<qint64>::max();
    Qt::Alignment chosen = kCorners[0];
    const QCPRange xr = plot_->xAxis->range();
    for (const Qt::Alignment corner : kCorners) {
        const int x = corner & Qt::AlignRight ? area.right() - m.right() - size.width()
                                              : area.left() + m.left();
        const int y = corner & Qt::AlignTop ? area.top() + m.top()
                                            : area.bottom() - m.bottom() - size.height();
        const QRect r(QPoint(x, y), size);
        qint64 hits = 0;
        for (int g = 0; g < plot_->graphCount(); ++g) {
            const QCPGraph* graph = plot_->graph(g);
            if (!graph->visible()) continue;
            for (auto it = graph->data()->findBegin(xr.lower),
                      end = graph->data()->findEnd(xr.upper);
                 it != end; ++it)
                if (r.contains(QPointF(plot_->xAxis->coordToPixel(it->key),
                                       plot_->yAxis->coordToPixel(it->value))
                                   .toPoint()))
                    ++hits;
        }
        if (hits < best) best = hits, chosen = corner;
    }
    legendCorner_ = chosen;
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, chosen);
}

void MetricChart::fitRanges() {
    bool any = false;
    QCPRange keys, values;
    for (int g = 0; g < plot_->graphCount(); ++g) {
        bool found = false;
        const QCPRange k = plot_->graph(g)->getKeyRange(found);
        if (!found) continue;
        keys = any ? QCPRange(std::min(keys.lower, k.lower), std::max(keys.upper, k.upper)) : k;
        any = true;
    }
    if (!any) return;
    if (follow_) {
        settingRange_ = true;
        plot_->xAxis->setRange(keys.lower, keys.upper > keys.lower ? keys.upper : keys.lower + 1);
        settingRange_ = false;
    }
    bool anyValue = false;
    const QCPRange xr = plot_->xAxis->range();
    for (int g = 0; g < plot_->graphCount(); ++g) {
        bool found = false;
        const QCPRange v =
            plot_->graph(g)->getValueRange(found, logY_ ? QCP::sdPositive : QCP::sdBoth, xr);
        if (!found) continue;
        values = anyValue
                     ? QCPRange(std::min(values.lower, v.lower), std::max(values.upper, v.upper))
                     : v;
        anyValue = true;
    }
    if (!anyValue) return;
    if (logY_) {
        // A decade's tenth of margin; a flat series spans a factor of 2 around its value.
        const bool flat = values.upper <= values.lower * (1 + 1e-9);
        plot_->yAxis->setRange(values.lower / (flat ? std::sqrt(2.0) : 1.12),
                               values.upper * (flat ? std::sqrt(2.0) : 1.12));
        return;
    }
    const double span = values.upper - values.lower;
    const double size = std::max(std::abs(values.lower), std::abs(values.upper));
    // A flat series (a constant learning rate, a fixed memory) gets ±10 % of its value (±1 at 0),
    // not a magnified band of rounding noise.
    const double pad = span <= size * 1e-9 ? (size > 0 ? size * 0.1 : 1.0) : span * 0.05;
    plot_->yAxis->setRange(values.lower - pad, values.upper + pad);
}

QVector<double> MetricChart::rawX(int curve) const {
    QVector<double> out;
    if (curve < 0 || curve >= drawn_.size() || !drawn_[curve].raw) return out;
    for (const auto& p : *drawn_[curve].raw->data()) out << p.key;
    return out;
}

QVector<double> MetricChart::rawY(int curve) const {
    QVector<double> out;
    if (curve < 0 || curve >= drawn_.size() || !drawn_[curve].raw) return out;
    for (const auto& p : *drawn_[curve].raw->data()) out << p.value;
    return out;
}

QVector<double> MetricChart::smoothedY(int curve) const {
    QVector<double> out;
    if (curve < 0 || curve >= drawn_.size() || !drawn_[curve].smoothed) return out;
    for (const auto& p : *drawn_[curve].smoothed->data()) out << p.value;
    return out;
}

QVector<double> MetricChart::markerX() const {
    return markerX_;
}

QStringList MetricChart::markerLabels() const {
    return markerLabels_;
}

ChartControls addChartControls(QHBoxLayout* row, QWidget* parent, int sliderWidth) {
    ChartControls c;
    row->addWidget(new QLabel(QObject::tr("X axis:"), parent));
    c.xAxis = new QComboBox(parent);
    c.xAxis->setObjectName(QStringLiteral("xAxis"));
    c.xAxis->addItem(QObject::tr("Step"), int(XAxisKind::Step));
    c.xAxis->addItem(QObject::tr("Tokens"), int(XAxisKind::Tokens));
    c.xAxis->addItem(QObject::tr("Wall time"), int(XAxisKind::Time));
    c.xAxis->addItem(QObject::tr("Cost"), int(XAxisKind::Cost));
    row->addWidget(c.xAxis);
    row->addSpacing(12);
    row->addWidget(new QLabel(QObject::tr("Smoothing:"), parent));
    c.smoothing = new QSlider(Qt::Horizontal, parent);
    c.smoothing->setObjectName(QStringLiteral("smoothing"));
    c.smoothing->setRange(0, 999);
    c.smoothing->setValue(600);
    c.smoothing->setFixedWidth(sliderWidth);
    row->addWidget(c.smoothing);
    auto* label = new QLabel(QStringLiteral("0.600"), parent);
    row->addWidget(label);
    QObject::connect(c.smoothing, &QSlider::valueChanged, label,
                     [label](int v) { label->setText(QString::number(v / 1000.0, 'f', 3)); });
    return c;
}

} // namespace bcd::ui
