#pragma once
// Launcher plugins that exist only to be refused or accepted by PluginRegistry
// (tst_plugin_registry).

#include "launch/launcher.h"

#include <QObject>

namespace bcd::test {

class TestLauncherBase : public QObject, public launch::LauncherPlugin {
public:
    launch::Outcome<std::unique_ptr<launch::LauncherSession>>
    open(const nodes::NodeRecord&, const launch::LauncherContext&) override {
        return launch::LaunchFailure{launch::LaunchFailure::Kind::Failed,
                                     QStringLiteral("a test plugin opens no session"),
                                     std::nullopt,
                                     {}};
    }
    launch::Outcome<QString> describeLaunch(const launch::LaunchRequest&,
                                            const launch::LauncherContext&) const override {
        return QString();
    }
};

} // namespace bcd::test
