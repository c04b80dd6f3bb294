#pragma once
// BlockStrip: the model's parts left to right (embedding, layers 1 … L, head), each coloured by the
// BCD block it belongs to and numbered by the block's place in a cycle of the schedule. With full
// training there is one block: everything trains every step.

#include <QColor>
#include <QString>
#include <QVector>
#include <QWidget>

namespace bcd::ui {

// A block's colour wherever blocks are drawn (the New run strip, Monitor's switch markers):
// neighbouring ids get far-apart hues (golden-ratio steps).
QColor blockColor(int block);

class BlockStrip : public QWidget {
    Q_OBJECT
public:
    struct Part {
        QString label;  // "E", "1", …, "H"
        int block = -1; // -1: frozen
    };

    explicit BlockStrip(QWidget* parent = nullptr);

    // The default partition of docs/config.md: embedding (block 0 when embedBlock), layers in
    // groups of layersPerBlock, head (the last block when headBlock). order: ascending |
    // descending | random | fixed (fixedOrder). worstBlock: the block whose activations make the
    // memory peak (outlined), -1 none.
    void setSchedule(int numLayers, int layersPerBlock, bool embedBlock, bool headBlock,
                     const QString& order, const QVector<int>& fixedOrder, bool full,
                     int worstBlock);

    const QVector<Part>& parts() const { return parts_; }
    int numBlocks() const { return numBlocks_; }
    // The block ids in schedule order (empty for random).
    const QVector<int>& order() const { return order_; }

    QSize sizeHint() const override { return {480, 46}; }
    QSize minimumSizeHint() const override { return {160, 40}; }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QVector<Part> parts_;
    QVector<int> order_;
    int numBlocks_ = 0;
    int worstBlock_ = -1;
    bool full_ = false;
    bool random_ = false;
};

} // namespace bcd::ui
