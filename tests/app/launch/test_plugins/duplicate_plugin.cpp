// A compatible plugin for "local" nodes, which the real local plugin already handles: the first
// one found wins, this one is skipped by name.
#include "test_plugin.h"

namespace bcd::test {

class DuplicateLocalLauncher final : public TestLauncherBase {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID BCD_LAUNCHER_IID FILE "duplicate.json")
    Q_INTERFACES(bcd::launch::LauncherPlugin)
public:
    QString nodeKind() const override { return QStringLiteral("local"); }
};

} // namespace bcd::test

#include "duplicate_plugin.moc"
