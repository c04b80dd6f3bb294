#pragma once
// Finds and loads launcher plugins. Each file's metadata is read and checked before its code is
// loaded; a plugin that is not a launcher, is incompatible, duplicates a node kind or does not
// load is skipped and reported by name (problems()).

#include "launch/launcher.h"
#include "store/store_types.h"

#include <QMap>
#include <QPluginLoader>
#include <QStringList>
#include <memory>
#include <vector>

namespace bcd::launch {

struct PluginInfo {
    QString file;
    QString name;
    QString version;
    QString compatVersion;
    int compatMinor = 0; // CompatVersion's minor: what of the interface the plugin's vtable has
    QString nodeKind;
};

struct PluginProblem {
    QString file;
    QString name; // from the metadata; the file name when there is none
    QString reason;
    QString text() const { return QStringLiteral("plugin %1 (%2): %3").arg(name, file, reason); }
};

class PluginRegistry {
public:
    PluginRegistry() = default;
    ~PluginRegistry();
    PluginRegistry(const PluginRegistry&) = delete;
    PluginRegistry& operator=(const PluginRegistry&) = delete;

    // $BCD_PLUGIN_PATH (colon-separated), then <bcd-workbench's
    // folder>/../lib/bcd-workbench/plugins.
    static QStringList defaultSearchPaths();

    // Scans the folders (not recursively) for shared objects and loads the compatible launchers.
    void load(const QStringList& folders);

    LauncherPlugin* launcher(const QString& nodeKind) const;
    // Why launcher(kind) is null: "no launcher plugin for 'ssh' nodes (searched: ...)", plus the
    // problem of a plugin that would have handled it.
    QString missingReason(const QString& nodeKind) const;

    // Empty when the plugin for nodeKind lists and samples checkpoints and removes run folders
    // (interface 2.3 or later), else why not: no plugin, or "the ssh plugin was built for
    // interface 2.2 and cannot list or sample checkpoints or remove run folders; update it".
    // Calling those members of an older plugin would run past the end of its vtable, so the host
    // asks this first.
    QString runFilesSupport(const QString& nodeKind) const;

    const QVector<PluginInfo>& loaded() const { return loaded_; }
    const QVector<PluginProblem>& problems() const { return problems_; }
    const QStringList& searched() const { return searched_; }

    // "major.minor" against this workbench's interface version.
    static bool compatible(const QString& compatVersion);

private:
    void consider(const QString& file);

    std::vector<std::unique_ptr<QPluginLoader>> loaders_;
    QMap<QString, LauncherPlugin*> byKind_;
    QVector<PluginInfo> loaded_;
    QVector<PluginProblem> problems_;
    QStringList searched_;
};

} // namespace bcd::launch
