#pragma once
// The "ssh" launcher: bcd-train on an SSH host, started detached (setsid, nohup) so that it
// survives the workbench and the connection; metrics and status read back by SFTP. A session
// holds one SSH connection and belongs to the thread that opened it.

#include "launch/launcher.h"

#include <QObject>

namespace bcd::plugins {

class SshLauncherPlugin final : public QObject, public launch::LauncherPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID BCD_LAUNCHER_IID FILE "ssh.json")
    Q_INTERFACES(bcd::launch::LauncherPlugin)
public:
    QString nodeKind() const override { return QStringLiteral("ssh"); }
    // Connects (known host keys only: a key is accepted when the node is added).
    launch::Outcome<std::unique_ptr<launch::LauncherSession>>
    open(const nodes::NodeRecord& node, const launch::LauncherContext& ctx) override;
    launch::Outcome<QString> describeLaunch(const launch::LaunchRequest& request,
                                            const launch::LauncherContext& ctx) const override;
};

} // namespace bcd::plugins
