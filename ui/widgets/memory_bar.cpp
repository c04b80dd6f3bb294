#include "ui/widgets/memory_bar.h"

#include "bcd/plan.h"

#include <QPainter>
#include <QPainterPath>

namespace bcd::ui {

namespace {
const QColor kWeights(0x4e, 0x79, 0xa7);
const QColor kGradients(0xf2, 0x8e, 0x2b);
const QColor kOptimizer(0x59, 0xa1, 0x4f);
const QColor kActivations(0xed, 0xc9, 0x48);
const QColor kWorkspace(0xb0, 0x7a, 0xa1);
const QColor kTransient(0xa0, 0xa0, 0xa0);
const QColor kNoFit(0xd6, 0x27, 0x28);
} // namespace

QString formatBytes(quint64 bytes) {
    const double b = static_cast<double>(bytes);
    if (b >= 1024.0 * 1024 * 1024)
        return QStringLiteral("%1 GiB").arg(b / (1024.0 * 1024 * 1024), 0, 'f', 2);
    if (b >= 1024.0 * 1024) return QStringLiteral("%1 MiB").arg(b / (1024.0 * 1024), 0, 'f', 1);
    if (b >= 1024.0) return QStringLiteral("%1 KiB").arg(b / 1024.0, 0, 'f', 0);
    return QStringLiteral("%1 B").arg(bytes);
}

MemoryBar::MemoryBar(QWidget* parent) : QWidget(parent) {
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

QVector<std::pair<QString, QColor>> MemoryBar::legend() {
    return {{tr("weights"), kWeights},     {tr("gradients"), kGradients},
            {tr("optimizer"), kOptimizer}, {tr("activations"), kActivations},
            {tr("workspace"), kWorkspace}, {tr("loading / evaluation"), kTransient}};
}

void MemoryBar::setPlan(const MemoryBreakdown& m, quint64 peakBytes, quint64 capacityBytes,
                        quint64 usableBytes, bool fits) {
    const auto l = legend();
    // Logits and loss buffers live as long as the activations; the runtime (CUDA context, NCCL,
    // the process itself) is workspace the run cannot shrink.
    segments_ = {{l[0].first, m.weights, l[0].second},
                 {l[1].first, m.gradients, l[1].second},
                 {l[2].first, m.optimizer, l[2].second},
                 {l[3].first, m.activations + m.logits, l[3].second},
                 {l[4].first, m.workspace + m.runtime, l[4].second}};
    // The plan's peak may be a moment outside the training step (loading the weights next to
    // the token data, an evaluation's activations): the bar then reaches that peak, so that it
    // shows the one figure the text and the advice name.
    const quint64 steady = m.total();
    if (peakBytes > steady) segments_.push_back({l[5].first, peakBytes - steady, l[5].second});
    capacity_ = capacityBytes;
    usable_ = usableBytes;
    fits_ = fits;
    QStringList tip;
    for (const Segment& s : segments_)
        tip << QStringLiteral("%1: %2").arg(s.name, formatBytes(s.bytes));
    tip << tr("peak: %1 of %2 (usable %3)")
               .arg(formatBytes(totalBytes()), formatBytes(capacity_), formatBytes(usable_));
    setToolTip(tip.join('\n'));
    update();
}

void MemoryBar::clear() {
    segments_.clear();
    capacity_ = usable_ = 0;
    fits_ = true;
    setToolTip({});
    update();
}

quint64 MemoryBar::totalBytes() const {
    quint64 t = 0;
    for (const Segment& s : segments_) t += s.bytes;
    return t;
}

void MemoryBar::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QRectF r = QRectF(rect()).adjusted(1.5, 1.5, -1.5, -1.5);
    p.setPen(Qt::NoPen);
    p.setBrush(palette().color(QPalette::Base));
    p.drawRoundedRect(r, 3, 3);
    const quint64 total = totalBytes();
    const double scale = static_cast<double>(qMax<quint64>(qMax(total, capacity_), 1));
    QPainterPath clip;
    clip.addRoundedRect(r, 3, 3);
    p.setClipPath(clip);
    double x = r.left();
    for (const Segment& s : segments_) {
        const double w = r.width() * static_cast<double>(s.bytes) / scale;
        p.setBrush(s.color);
        p.drawRect(QRectF(x, r.top(), w, r.height()));
        x += w;
    }
    p.setClipping(false);
    // Usable limit (dashed) and capacity (solid).
    if (capacity_ > 0) {
        const QColor line = palette().color(QPalette::WindowText);
        p.setPen(QPen(line, 1, Qt::DashLine));
        const double ux = r.left() + r.width() * static_cast<double>(usable_) / scale;
        p.drawLine(QPointF(ux, r.top()), QPointF(ux, r.bottom()));
        p.setPen(QPen(line, 2));
        const double cx = r.left() + r.width() * static_cast<double>(capacity_) / scale;
        p.drawLine(QPointF(cx, r.top()), QPointF(cx, r.bottom()));
    }
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(fits_ ? palette().color(QPalette::Mid) : kNoFit, fits_ ? 1 : 2.5));
    p.drawRoundedRect(r, 3, 3);
    if (!segments_.isEmpty()) {
        const QString text =
            QStringLiteral("%1 / %2").arg(formatBytes(total), formatBytes(capacity_));
        QFont f = font();
        f.setBold(true);
        p.setFont(f);
        const QRectF tr = r.adjusted(6, 0, -6, 0);
        // A halo keeps the figure legible over any segment colour.
        p.setPen(QColor(255, 255, 255, 200));
        for (int dx : {-1, 1})
            for (int dy : {-1, 1})
                p.drawText(tr.translated(dx, dy), Qt::AlignVCenter | Qt::AlignRight, text);
        p.setPen(fits_ ? QColor(Qt::black) : kNoFit.darker(130));
        p.drawText(tr, Qt::AlignVCenter | Qt::AlignRight, text);
    }
}

} // namespace bcd::ui
