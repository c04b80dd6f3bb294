#pragma once
// The "local" launcher: bcd-train on this machine, started detached (its own session, output
// in the run folder), so that it survives the workbench closing; the workbench re-attaches by
// pid and run folder.

#include "launch/launcher.h"

#include <QObject>

namespace bcd::plugins {

class LocalLauncherPlugin final : public QObject, public launch::LauncherPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID BCD_LAUNCHER_IID FILE "local.json")
    Q_INTERFACES(bcd::launch::LauncherPlugin)
public:
    QString nodeKind() const override { return QStringLiteral("local"); }
    launch::Outcome<std::unique_ptr<launch::LauncherSession>>
    open(const nodes::NodeRecord& node, const launch::LauncherContext& ctx) override;
    launch::Outcome<QString> describeLaunch(const launch::LaunchRequest& request,
                                            const launch::LauncherContext& ctx) const override;
};

} // namespace bcd::plugins
