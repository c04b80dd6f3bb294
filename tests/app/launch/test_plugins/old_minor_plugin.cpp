// Built against launcher interface 2.2: loaded, but its sessions have no listCheckpoints or
// sample (appended in 2.3), so the host must never call them (PluginRegistry::runFilesSupport).
#include "test_plugin.h"

namespace bcd::test {

class OldMinorLauncher final : public TestLauncherBase {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID BCD_LAUNCHER_IID FILE "old_minor.json")
    Q_INTERFACES(bcd::launch::LauncherPlugin)
public:
    QString nodeKind() const override { return QStringLiteral("oldminor"); }
};

} // namespace bcd::test

#include "old_minor_plugin.moc"
