#include "ui/widgets/wheel_guard.h"

#include <QAbstractScrollArea>
#include <QAbstractSpinBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QEvent>
#include <QWheelEvent>
#include <QWidget>

namespace bcd::ui {

namespace {

class WheelGuard : public QObject {
public:
    using QObject::QObject;

    bool eventFilter(QObject* watched, QEvent* event) override {
        if (event->type() != QEvent::Wheel) return false;
        auto* w = qobject_cast<QWidget*>(watched);
        if (!w || w->hasFocus()) return false;
        // The scroll area around the form scrolls instead of the value changing. The event is
        // handed to its viewport here (Qt propagates only the wheel events of the window system
        // to parents, and this way both kinds behave alike), then taken.
        QAbstractScrollArea* area = nullptr;
        for (QWidget* p = w->parentWidget(); p && !area; p = p->parentWidget())
            area = qobject_cast<QAbstractScrollArea*>(p);
        if (area) {
            const auto* wheel = static_cast<QWheelEvent*>(event);
            const QPointF at = area->viewport()->mapFromGlobal(wheel->globalPosition());
            QWheelEvent forwarded(at, wheel->globalPosition(), wheel->pixelDelta(),
                                  wheel->angleDelta(), wheel->buttons(), wheel->modifiers(),
                                  wheel->phase(), wheel->inverted(), wheel->source());
            QCoreApplication::sendEvent(area->viewport(), &forwarded);
            event->accept();
            return true;
        }
        // No scroll area: ignored, so that the window system's event goes to the parents.
        event->ignore();
        return true;
    }
};

WheelGuard* guard() {
    // One filter object for the whole application, owned by it.
    static WheelGuard* g = new WheelGuard(QCoreApplication::instance());
    return g;
}

void protect(QWidget* w) {
    w->setFocusPolicy(Qt::StrongFocus);
    w->removeEventFilter(guard());
    w->installEventFilter(guard());
}

} // namespace

void guardWheel(QWidget* root) {
    if (!root) return;
    if (qobject_cast<QAbstractSpinBox*>(root) || qobject_cast<QComboBox*>(root)) protect(root);
    for (auto* s : root->findChildren<QAbstractSpinBox*>()) protect(s);
    for (auto* c : root->findChildren<QComboBox*>()) protect(c);
}

} // namespace bcd::ui
