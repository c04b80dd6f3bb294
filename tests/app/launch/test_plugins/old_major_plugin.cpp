// Declares the previous major of the launcher interface (CompatVersion 1.0): must be skipped by
// name.
#include "test_plugin.h"

namespace bcd::test {

class OldMajorLauncher final : public TestLauncherBase {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID BCD_LAUNCHER_IID FILE "old_major.json")
    Q_INTERFACES(bcd::launch::LauncherPlugin)
public:
    QString nodeKind() const override { return QStringLiteral("old"); }
};

} // namespace bcd::test

#include "old_major_plugin.moc"
