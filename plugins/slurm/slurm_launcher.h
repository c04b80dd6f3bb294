#pragma once
// The "slurm" launcher: bcd-train as a Slurm batch job, submitted through the cluster's login
// host over SSH (the same libssh session and host-key rules as the ssh launcher). The run folder
// lives in a folder the cluster's nodes share; the batch script (batch_script.h) is kept there.
// The job's state comes from squeue (sacct where accounting answers), metrics from the run folder.

#include "launch/launcher.h"

#include <QObject>

namespace bcd::plugins {

class SlurmLauncherPlugin final : public QObject, public launch::LauncherPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID BCD_LAUNCHER_IID FILE "slurm.json")
    Q_INTERFACES(bcd::launch::LauncherPlugin)
public:
    QString nodeKind() const override { return QStringLiteral("slurm"); }
    launch::Outcome<std::unique_ptr<launch::LauncherSession>>
    open(const nodes::NodeRecord& node, const launch::LauncherContext& ctx) override;
    // The batch script the launch will submit.
    launch::Outcome<QString> describeLaunch(const launch::LaunchRequest& request,
                                            const launch::LauncherContext& ctx) const override;
};

} // namespace bcd::plugins
