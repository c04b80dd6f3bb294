#pragma once
// The last lines of a run's train.log: app/launch/log_tail.h, named here in bcd::ui.

#include "launch/log_tail.h"

namespace bcd::ui {

using launch::readLogTail;

} // namespace bcd::ui
