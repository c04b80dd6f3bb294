#pragma once
// FlowLayout: widgets left to right, wrapping onto the next line when the width runs out (the
// Runs page's buttons, Compare's chart controls), so that a row of controls never makes the
// window wider than a 1024-pixel screen. Its minimum width is its widest item's; its height
// follows from the width (heightForWidth).

#include <QLayout>
#include <QList>

namespace bcd::ui {

class FlowLayout : public QLayout {
public:
    explicit FlowLayout(QWidget* parent = nullptr, int hSpacing = 6, int vSpacing = 6);
    ~FlowLayout() override;

    void addItem(QLayoutItem* item) override;
    int count() const override { return int(items_.size()); }
    QLayoutItem* itemAt(int index) const override { return items_.value(index); }
    QLayoutItem* takeAt(int index) override;
    Qt::Orientations expandingDirections() const override { return {}; }
    bool hasHeightForWidth() const override { return true; }
    int heightForWidth(int width) const override;
    QSize minimumSize() const override;
    QSize sizeHint() const override; // everything on one line
    void setGeometry(const QRect& rect) override;

private:
    // Places the items in `rect` (or only measures, when !apply); returns the height used.
    int arrange(const QRect& rect, bool apply) const;

    QList<QLayoutItem*> items_;
    int hSpacing_, vSpacing_;
};

} // namespace bcd::ui
