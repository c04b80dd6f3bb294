#include "ui/widgets/block_strip.h"

#include <QPainter>
#include <algorithm>
#include <cmath>

namespace bcd::ui {

BlockStrip::BlockStrip(QWidget* parent) : QWidget(parent) {
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

void BlockStrip::setSchedule(int numLayers, int layersPerBlock, bool embedBlock, bool headBlock,
                             const QString& order, const QVector<int>& fixedOrder, bool full,
                             int worstBlock) {
    parts_.clear();
    order_.clear();
    full_ = full;
    random_ = !full && order == QLatin1String("random");
    worstBlock_ = full ? -1 : worstBlock;
    layersPerBlock = qMax(1, layersPerBlock);
    int block = 0;
    if (full) {
        parts_.append({QStringLiteral("E"), 0});
        for (int l = 0; l < numLayers; ++l) parts_.append({QString::number(l + 1), 0});
        parts_.append({QStringLiteral("H"), 0});
        numBlocks_ = 1;
        order_ = {0};
    } else {
        parts_.append({QStringLiteral("E"), embedBlock ? block++ : -1});
        for (int l = 0; l < numLayers; ++l) {
            parts_.append({QString::number(l + 1), block});
            if ((l + 1) % layersPerBlock == 0 || l + 1 == numLayers) ++block;
        }
        parts_.append({QStringLiteral("H"), headBlock ? block++ : -1});
        numBlocks_ = block;
        if (order == QLatin1String("descending")) {
            for (int b = numBlocks_ - 1; b >= 0; --b) order_.append(b);
        } else if (order == QLatin1String("fixed")) {
            for (int b : fixedOrder)
                if (b >= 0 && b < numBlocks_) order_.append(b);
        } else if (!random_) {
            for (int b = 0; b < numBlocks_; ++b) order_.append(b);
        }
    }
    QString tip = full ? tr("Full training: every part trains every step.")
                       : tr("%1 blocks; a cycle visits them %2.")
                             .arg(numBlocks_)
                             .arg(random_ ? tr("in a new random order each cycle")
                                          : tr("in the numbered order"));
    if (!full && (!embedBlock || !headBlock)) tip += tr(" Grey parts stay frozen.");
    setToolTip(tip);
    update();
}

QColor blockColor(int block) {
    const double hue = std::fmod(0.58 + std::max(0, block) * 0.618034, 1.0);
    return QColor::fromHslF(static_cast<float>(hue), 0.55f, 0.55f);
}

void BlockStrip::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    if (parts_.isEmpty()) return;
    const int n = parts_.size();
    const double gap = 2;
    const double w = (width() - 2.0 - gap * (n - 1)) / n;
    const double h = height() - 2.0;
    const QColor text = palette().color(QPalette::WindowText);
    for (int i = 0; i < n; ++i) {
        const Part& part = parts_[i];
        const QRectF r(1 + i * (w + gap), 1, w, h);
        QColor c;
        if (part.block < 0) {
            c = palette().color(QPalette::Mid);
        } else {
            c = blockColor(part.block);
        }
        p.setPen(part.block == worstBlock_ && worstBlock_ >= 0 ? QPen(text, 2) : Qt::NoPen);
        p.setBrush(c);
        p.drawRoundedRect(r.adjusted(0.5, 0.5, -0.5, -0.5), 2, 2);
        p.setPen(Qt::black);
        QFont f = font();
        f.setPointSizeF(f.pointSizeF() * 0.85);
        p.setFont(f);
        const int place = order_.indexOf(part.block);
        const bool firstOfBlock = i == 0 || parts_[i - 1].block != part.block;
        // Labels only where they fit: a 80-layer model gets colours, not unreadable digits.
        if (p.fontMetrics().horizontalAdvance(part.label) + 2 <= w)
            p.drawText(r.adjusted(0, 2, 0, -h / 2), Qt::AlignHCenter | Qt::AlignTop, part.label);
        if (firstOfBlock && part.block >= 0 && !full_) {
            const QString mark = random_      ? QStringLiteral("?")
                                 : place >= 0 ? QStringLiteral("#%1").arg(place + 1)
                                              : QString();
            f.setBold(true);
            p.setFont(f);
            // A block's mark may span its parts; it is drawn only when it fits there.
            int span = 0;
            for (int j = i; j < n && parts_[j].block == part.block; ++j) ++span;
            const double room = span * w + (span - 1) * gap;
            if (p.fontMetrics().horizontalAdvance(mark) + 4 <= room)
                p.drawText(QRectF(r.left() + 3, r.top() + h / 2, room - 3, h / 2),
                           Qt::AlignLeft | Qt::AlignVCenter, mark);
        }
    }
}

} // namespace bcd::ui
