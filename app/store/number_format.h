#pragma once
// Learning rates written one way by every surface (the GUI's pages and axes, `bcd-workbench run
// show`): "3e-4", "1.5e-5"; the GUI's other number formats build on these (ui/widgets/
// number_format.h).

#include <QString>

namespace bcd::store {

// "3e-4", "1.25e-5", "-2e+7": at most three significant digits, no padded exponent.
QString formatScientific(double v);
// A learning rate: "0" for zero, scientific below 0.01 (and from 10,000), else up to four
// significant digits ("0.05", "1"); "—" when not finite.
QString formatLr(double v);

} // namespace bcd::store
