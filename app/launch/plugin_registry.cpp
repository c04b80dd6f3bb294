#include "launch/plugin_registry.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonObject>
#include <QLibrary>

namespace bcd::launch {

PluginRegistry::~PluginRegistry() = default; // plugins stay loaded until exit (Qt's advice)

QStringList PluginRegistry::defaultSearchPaths() {
    QStringList paths;
    const QByteArray env = qgetenv("BCD_PLUGIN_PATH");
    for (const QByteArray& p : env.split(':'))
        if (!p.isEmpty()) paths << QString::fromLocal8Bit(p);
    if (QCoreApplication::instance())
        paths << QDir(QCoreApplication::applicationDirPath())
                     .absoluteFilePath(QStringLiteral("../lib/bcd-workbench/plugins"));
    return paths;
}

bool PluginRegistry::compatible(const QString& compatVersion) {
    const QStringList parts = compatVersion.split('.');
    if (parts.size() < 2) return false;
    bool okMajor = false, okMinor = false;
    const int major = parts[0].toInt(&okMajor), minor = parts[1].toInt(&okMinor);
    return okMajor && okMinor && major == kLauncherApiMajor && minor <= kLauncherApiMinor;
}

void PluginRegistry::load(const QStringList& folders) {
    for (const QString& folder : folders) {
        const QDir dir(folder);
        searched_ << dir.absolutePath();
        if (!dir.exists()) continue;
        for (const QFileInfo& fi : dir.entryInfoList(QDir::Files | QDir::Readable, QDir::Name))
            if (QLibrary::isLibrary(fi.fileName())) consider(fi.absoluteFilePath());
    }
}

void PluginRegistry::consider(const QString& file) {
    auto loader = std::make_unique<QPluginLoader>(file);
    const QString base = QFileInfo(file).fileName();
    // Qt reads the metadata section from the file; nothing of the plugin runs yet.
    const QJsonObject meta = loader->metaData();
    if (meta.isEmpty()) {
        problems_.push_back(
            {file, base, QStringLiteral("not a Qt plugin (no plugin metadata); skipped")});
        return;
    }
    const QString iid = meta.value(QLatin1String("IID")).toString();
    const QJsonObject data = meta.value(QLatin1String("MetaData")).toObject();
    const QString name = data.value(QLatin1String("Name")).toString();
    const QString shown = name.isEmpty() ? base : name;
    if (!iid.startsWith(QLatin1String(kLauncherIidPrefix))) {
        problems_.push_back(
            {file, shown,
             QStringLiteral("not a launcher plugin (interface %1); skipped").arg(iid)});
        return;
    }
    const QString compat = data.value(QLatin1String("CompatVersion")).toString();
    const QString version = data.value(QLatin1String("Version")).toString();
    const QString kind = data.value(QLatin1String("NodeKind")).toString();
    const QString ours = QStringLiteral("%1.%2").arg(kLauncherApiMajor).arg(kLauncherApiMinor);
    if (name.isEmpty() || version.isEmpty() || compat.isEmpty() || kind.isEmpty()) {
        problems_.push_back(
            {file, shown,
             QStringLiteral("metadata lacks Name, Version, CompatVersion or NodeKind; skipped")});
        return;
    }
    if (iid != QLatin1String(kLauncherIid) || !compatible(compat)) {
        problems_.push_back(
            {file, shown,
             QStringLiteral("incompatible: built for launcher interface %1 (%2), this workbench "
                            "provides %3; skipped")
                 .arg(compat, iid, ours)});
        return;
    }
    if (byKind_.contains(kind)) {
        problems_.push_back(
            {file, shown,
             QStringLiteral("another plugin already handles '%1' nodes; skipped").arg(kind)});
        return;
    }
    QObject* instance = loader->instance();
    if (!instance) {
        problems_.push_back(
            {file, shown, QStringLiteral("does not load: %1; skipped").arg(loader->errorString())});
        return;
    }
    auto* launcher = qobject_cast<LauncherPlugin*>(instance);
    if (!launcher || launcher->nodeKind() != kind) {
        problems_.push_back(
            {file, shown,
             QStringLiteral("does not implement the launcher interface it declares; skipped")});
        return;
    }
    byKind_.insert(kind, launcher);
    loaded_.push_back({file, name, version, compat, compat.section('.', 1, 1).toInt(), kind});
    loaders_.push_back(std::move(loader));
}

LauncherPlugin* PluginRegistry::launcher(const QString& nodeKind) const {
    return byKind_.value(nodeKind, nullptr);
}

QString PluginRegistry::runFilesSupport(const QString& nodeKind) const {
    if (!launcher(nodeKind)) return missingReason(nodeKind);
    for (const PluginInfo& p : loaded_)
        if (p.nodeKind == nodeKind && p.compatMinor < kLauncherRunFilesMinor)
            return QStringLiteral("the %1 plugin was built for interface %2 and cannot list or "
                                  "sample checkpoints or remove run folders; update it")
                .arg(p.name, p.compatVersion);
    return {};
}

QString PluginRegistry::missingReason(const QString& nodeKind) const {
    QString s = QStringLiteral("no launcher plugin for '%1' nodes (searched: %2)")
                    .arg(nodeKind, searched_.isEmpty() ? QStringLiteral("nothing")
                                                       : searched_.join(QStringLiteral(", ")));
    for (const auto& p : problems_)
        if (p.name == nodeKind || p.file.contains(nodeKind)) s += "; " + p.text();
    return s;
}

} // namespace bcd::launch
