#pragma once
// MemoryBar: one device's planned memory as a stacked bar (weights, gradients, optimizer state,
// activations, workspace; a transient peak on top) against the device's capacity, with the usable
// limit (capacity less the planner's safety margin) marked. Drawn red when the plan does not fit.

#include <QColor>
#include <QString>
#include <QVector>
#include <QWidget>

namespace bcd {
struct MemoryBreakdown;
}

namespace bcd::ui {

class MemoryBar : public QWidget {
    Q_OBJECT
public:
    struct Segment {
        QString name;
        quint64 bytes = 0;
        QColor color;
    };

    explicit MemoryBar(QWidget* parent = nullptr);

    // The bar reaches peakBytes: beyond the step's terms, a "loading / evaluation" segment.
    void setPlan(const MemoryBreakdown& memory, quint64 peakBytes, quint64 capacityBytes,
                 quint64 usableBytes, bool fits);
    void clear();
    const QVector<Segment>& segments() const { return segments_; }
    quint64 totalBytes() const;
    bool fits() const { return fits_; }

    // The colours of the terms, shared with the legend.
    static QVector<std::pair<QString, QColor>> legend();

    QSize sizeHint() const override { return {320, 34}; }
    QSize minimumSizeHint() const override { return {120, 28}; }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QVector<Segment> segments_;
    quint64 capacity_ = 0;
    quint64 usable_ = 0;
    bool fits_ = true;
};

// "1.25 GiB", "512 MiB", "80 KiB".
QString formatBytes(quint64 bytes);

} // namespace bcd::ui
