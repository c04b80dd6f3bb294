#pragma once
// Launcher plugins that exist only to be refused or accepted by PluginRegistry
// (tst_plugin_registry).

#include "launch/launcher.h"

#include <QObject>

namespace bcd::test {

class TestLauncherBase : public QObject, public launch::LauncherPlugin {
public:
    std::unique_ptr<launch::LauncherSession> open(const store::NodeRecord&,
                                                  const launch::LauncherContext&) override {
        return nullptr;
    }
};

} // namespace bcd::test
