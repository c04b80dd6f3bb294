#pragma once
// Inputs never change silently: a spin box or combo box that scrolls into view under the mouse
// wheel must not take the wheel's turn as an edit (scrolling the New run form once changed Steps
// from 200 to 187 without a sign). Guarded widgets take the wheel only while they have the
// keyboard focus (a click or Tab gives it); otherwise the wheel goes to the enclosing scroll
// area, as if the widget were not there.

class QWidget;

namespace bcd::ui {

// Guards every QAbstractSpinBox and QComboBox under root (root included) that exists now. Widgets
// keep Qt::StrongFocus so that the wheel alone never focuses them. Calling it again is harmless.
void guardWheel(QWidget* root);

} // namespace bcd::ui
