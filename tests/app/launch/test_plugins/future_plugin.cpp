// Built against a newer minor of the launcher interface (CompatVersion 2.99): must be skipped by
// name without its code being loaded.
#include "test_plugin.h"

namespace bcd::test {

class FutureLauncher final : public TestLauncherBase {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID BCD_LAUNCHER_IID FILE "future.json")
    Q_INTERFACES(bcd::launch::LauncherPlugin)
public:
    QString nodeKind() const override { return QStringLiteral("future"); }
};

} // namespace bcd::test

#include "future_plugin.moc"
